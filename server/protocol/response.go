package protocol

import (
	"unicode/utf8"
)

// AppendResponse appends a response_vm frame for vmID carrying data (compact JSON of an
// object) to dst. data is embedded as a JSON string, as the client requires, with the
// reference server's relaxed escaping: only quotes, backslashes and control characters are
// escaped, so "<", ">" and "&" stay as they are.
func AppendResponse(dst []byte, vmID string, data []byte) []byte {
	dst = append(dst, `{"callType":"response_vm","vmId":`...)
	dst = AppendString(dst, vmID)
	dst = append(dst, `,"data":`...)
	dst = appendQuoted(dst, data)
	return append(dst, '}')
}

// Response returns a response_vm frame for vmID carrying data.
func Response(vmID string, data []byte) []byte {
	return AppendResponse(make([]byte, 0, len(data)+len(vmID)+64), vmID, data)
}

// ExceptionData returns dotNetify's exception payload {"ExceptionType":…,"Message":…}, the
// data of a response_vm that the client reports as a server-side error.
func ExceptionData(exceptionType, message string) []byte {
	b := append([]byte(nil), `{"ExceptionType":`...)
	b = AppendString(b, exceptionType)
	b = append(b, `,"Message":`...)
	b = AppendString(b, message)
	return append(b, '}')
}

// AppendString appends s as a JSON string with relaxed escaping (no HTML escaping).
func AppendString(dst []byte, s string) []byte {
	return appendQuoted(dst, []byte(s))
}

const hexDigits = "0123456789abcdef"

func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Invalid UTF-8 becomes U+FFFD so the frame stays valid JSON.
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but not valid JavaScript source; escape as encoding/json does.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
