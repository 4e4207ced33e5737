package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// maxDepth bounds how deeply a body may nest objects and arrays. dotNetify frames are flat
// (value and vmArgs travel as strings), so this only stops hostile input from recursing.
const maxDepth = 64

// smallObject is how many keys an object may have before duplicates are found with a map
// instead of a linear search; every object the protocol defines is smaller.
const smallObject = 8

// maxFoldedKey is the longest key that can still be a case variant of a name the decoder
// reads: the longest name is 12 ASCII letters, and a letter's Unicode case variant (the
// Kelvin sign for k, say) takes at most 3 bytes in UTF-8.
const maxFoldedKey = 3 * 12

// level names the keys the decoder reads at one object level and collects their raw values.
//
// Matching is exact, after JSON unescaping. A key that differs from a read name only in
// case is refused rather than ignored: encoding/json and .NET's binders match names case
// insensitively, so such a key would mean something different to them than to us.
type level struct {
	names []string
	raw   [4][]byte // raw value of names[i]; nil when the key is absent
	// refused are names that may not appear at this level in any case.
	refused []string
	// sub, when set, is the level of the value of names[subIndex] if that value is an object.
	sub      *level
	subIndex int
}

// scanner is a single-pass JSON validator over one body: it checks the syntax, refuses a
// duplicate key in any object at any depth (comparing names after unescaping), and fills
// the levels it is given. It allocates only for keys with escapes and for large objects.
type scanner struct {
	data []byte
	pos  int
	what string // "body" or "payload": the subject of duplicate-key messages
}

// scanObject scans data, which must hold exactly one JSON object (surrounding whitespace
// allowed), filling top. what names data in messages.
func scanObject(data []byte, what string, top *level) error {
	s := scanner{data: data, what: what}
	s.skipSpace()
	if s.pos == len(data) {
		return s.syntax("empty")
	}
	if data[s.pos] != '{' {
		return s.syntax("not an object")
	}
	if err := s.object(1, top); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return s.syntax("trailing data after the object")
	}
	return nil
}

// syntax returns the error for malformed JSON at the current position.
func (s *scanner) syntax(format string, args ...any) error {
	return &Error{syntax: true, msg: s.what + " is not a JSON object: " + fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at the current position, or the end of the data.
func (s *scanner) unexpected() error {
	if s.pos >= len(s.data) {
		return s.syntax("unexpected EOF")
	}
	return s.syntax("invalid character %q at offset %d", s.data[s.pos:s.pos+1], s.pos)
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans any JSON value starting at the current position.
func (s *scanner) value(depth int) error {
	if s.pos >= len(s.data) {
		return s.unexpected()
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth, nil)
	case c == '[':
		return s.array(depth)
	case c == '"':
		_, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.unexpected()
}

// object scans an object whose '{' is at the current position. lv, when not nil, names the
// keys to collect.
func (s *scanner) object(depth int, lv *level) error {
	if depth > maxDepth {
		return s.syntax("nested deeper than %d levels at offset %d", maxDepth, s.pos)
	}
	s.pos++ // '{'
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	var small [smallObject][]byte
	seen := small[:0]
	var many map[string]struct{}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.unexpected()
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		if many == nil {
			for _, k := range seen {
				if bytes.Equal(k, key) {
					return errorf("%s has a duplicate key %s", s.what, quoteShort(string(key)))
				}
			}
			if len(seen) < len(small) {
				seen = append(seen, key)
			} else {
				many = make(map[string]struct{}, 2*len(seen))
				for _, k := range seen {
					many[string(k)] = struct{}{}
				}
			}
		}
		if many != nil {
			if _, dup := many[string(key)]; dup {
				return errorf("%s has a duplicate key %s", s.what, quoteShort(string(key)))
			}
			many[string(key)] = struct{}{}
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.unexpected()
		}
		s.pos++
		s.skipSpace()
		if err := s.member(depth, lv, key); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.unexpected()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.unexpected()
		}
	}
}

// member scans the value of key, collecting it when lv reads that key.
func (s *scanner) member(depth int, lv *level, key []byte) error {
	i, err := lv.index(key)
	if err != nil {
		return err
	}
	if lv != nil && lv.sub != nil && lv.raw[lv.subIndex] != nil {
		// Request templates end with the client's message ("payload": $input.body), so a
		// key after it can only have been written by the client.
		return errorf("body has a key %s after %q; the client's message must be the last field", quoteShort(string(key)), lv.names[lv.subIndex])
	}
	start := s.pos
	if i >= 0 && lv.sub != nil && i == lv.subIndex && s.pos < len(s.data) && s.data[s.pos] == '{' {
		err = s.object(depth+1, lv.sub)
	} else {
		err = s.value(depth + 1)
	}
	if err != nil {
		return err
	}
	if i >= 0 {
		lv.raw[i] = s.data[start:s.pos]
	}
	return nil
}

// index returns the position of key among the level's names, or -1.
func (lv *level) index(key []byte) (int, error) {
	if lv == nil {
		return -1, nil
	}
	for i, name := range lv.names {
		if string(key) == name {
			return i, nil
		}
	}
	if len(key) > maxFoldedKey {
		return -1, nil // too long to be a case variant of any name
	}
	for _, name := range lv.refused {
		if strings.EqualFold(string(key), name) {
			return -1, errorf("payload has a key %s; identity comes from the gateway, not from the message", quoteShort(name))
		}
	}
	for _, name := range lv.names {
		if strings.EqualFold(string(key), name) {
			return -1, errorf("%s has a key %s that differs from %q only in case", lv.subject(), quoteShort(string(key)), name)
		}
	}
	return -1, nil
}

// subject names the object a level reads, for messages.
func (lv *level) subject() string {
	if lv.sub != nil {
		return "body"
	}
	return "payload"
}

// key scans an object key and returns it unescaped: a slice of the data when it has no
// escapes and is ASCII, else a copy decoded as encoding/json decodes it (invalid UTF-8
// becomes U+FFFD), so that two spellings of one name compare equal.
func (s *scanner) key() ([]byte, error) {
	start := s.pos
	plain, err := s.str()
	if err != nil {
		return nil, err
	}
	raw := s.data[start:s.pos]
	if plain {
		return raw[1 : len(raw)-1], nil
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, s.syntax("invalid key at offset %d: %v", start, err)
	}
	return []byte(k), nil
}

// str scans a string whose '"' is at the current position. plain reports that it has no
// escapes and only ASCII bytes.
func (s *scanner) str() (plain bool, err error) {
	s.pos++ // '"'
	plain = true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return plain, nil
		case c == '\\':
			plain = false
			if err := s.escape(); err != nil {
				return false, err
			}
		case c < 0x20:
			return false, s.syntax("invalid character %q in a string at offset %d", s.data[s.pos:s.pos+1], s.pos)
		default:
			if c >= 0x80 {
				plain = false
			}
			s.pos++
		}
	}
	return false, s.unexpected()
}

// escape checks one escape sequence whose '\' is at the current position.
func (s *scanner) escape() error {
	start := s.pos
	if s.pos+1 >= len(s.data) {
		s.pos = len(s.data)
		return s.unexpected()
	}
	switch s.data[s.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return nil
	case 'u':
		for i := 2; i < 6; i++ {
			if s.pos+i >= len(s.data) {
				s.pos = len(s.data)
				return s.unexpected()
			}
			if !isHex(s.data[s.pos+i]) {
				return s.syntax("invalid escape %q at offset %d", s.data[start:s.pos+i+1], start)
			}
		}
		s.pos += 6
		return nil
	}
	return s.syntax("invalid escape %q at offset %d", s.data[start:s.pos+2], start)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) array(depth int) error {
	if depth > maxDepth {
		return s.syntax("nested deeper than %d levels at offset %d", maxDepth, s.pos)
	}
	s.pos++ // '['
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.unexpected()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.unexpected()
		}
	}
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.data) && s.data[s.pos] == '0' {
		s.pos++
	} else if !s.digits() {
		return s.unexpected()
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return s.unexpected()
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return s.unexpected()
		}
	}
	return nil
}

// digits scans one or more decimal digits.
func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if s.pos >= len(s.data) || s.data[s.pos] != word[i] {
			return s.unexpected()
		}
		s.pos++
	}
	return nil
}
