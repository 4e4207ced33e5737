// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests the
// way the API Gateway management API (service "execute-api") does: it parses
// the Authorization header, rebuilds the canonical request from the request as
// received, derives the signing key from the secret of the access key and
// compares signatures in constant time. Failures carry the error type and the
// message the real service answers with, so clients see familiar errors.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	timeFormat      = "20060102T150405Z"
	dateFormat      = "20060102"
	terminator      = "aws4_request"
	maxClockSkew    = 5 * time.Minute
	emptyStringHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Error types the service reports in the x-amzn-ErrorType header.
const (
	TypeMissingToken        = "MissingAuthenticationTokenException"
	TypeIncompleteSignature = "IncompleteSignatureException"
	TypeInvalidSignature    = "InvalidSignatureException"
	TypeUnrecognizedClient  = "UnrecognizedClientException"
)

// Error is a refused signature. Type is the service's error type and Message
// the text it sends in the {"message": …} body; both HTTP status 403.
type Error struct {
	Type    string
	Message string
}

// Error returns the service's message.
func (e *Error) Error() string { return e.Message }

// Verifier checks SigV4 signatures made for one region and service with the
// secrets Lookup knows.
type Verifier struct {
	Region  string                                            // the only region accepted in the credential scope
	Service string                                            // "execute-api"
	Lookup  func(accessKeyID string) (secret string, ok bool) // secret of a known access key id
	Now     func() time.Time                                  // nil: time.Now

	// last is the signing key derived most recently. Deriving one is four HMACs, a
	// third of a verification, and every request of a day signed with the same secret
	// uses the same key, so it is derived once and compared, not trusted: a request with
	// another secret, day, region or service derives its own.
	last atomic.Pointer[derivedKey]
}

// derivedKey is a SigV4 signing key and what it was derived from.
type derivedKey struct {
	secret, date, region, service string
	key                           []byte
}

// signingKey returns the key for secret and the request's scope, from last when it fits.
func (v *Verifier) signingKey(secret string, a *authorization) []byte {
	if k := v.last.Load(); k != nil && k.secret == secret && k.date == a.date && k.region == a.region && k.service == a.service {
		return k.key
	}
	k := &derivedKey{secret: secret, date: a.date, region: a.region, service: a.service}
	k.key = signingKey(secret, a.date, a.region, a.service)
	v.last.Store(k)
	return k.key
}

// authorization is the parsed Authorization header.
type authorization struct {
	accessKeyID   string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders []string
	signature     string
}

// Verify returns nil if r carries a valid signature over r and body, and an
// *Error otherwise. body is the complete request body (r.Body is not read).
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	header := r.Header.Get("Authorization")
	if header == "" {
		return &Error{Type: TypeMissingToken, Message: "Missing Authentication Token"}
	}
	auth, err := parseAuthorization(header, r)
	if err != nil {
		return err
	}
	if err := v.checkScope(auth); err != nil {
		return err
	}
	secret, ok := v.Lookup(auth.accessKeyID)
	if !ok {
		return &Error{Type: TypeUnrecognizedClient, Message: "The security token included in the request is invalid."}
	}
	stamp, err := v.checkTime(r, auth)
	if err != nil {
		return err
	}
	payloadHash, err := payloadHash(r, body)
	if err != nil {
		return err
	}
	key := v.signingKey(secret, auth)
	scope := strings.Join([]string{auth.date, auth.region, auth.service, terminator}, "/")
	var firstCanonical, firstToSign string
	// The canonical URI is the path encoded once. The AWS SDKs encode an
	// already-escaped path a second time for every service but S3, and the
	// service accepts both, so both forms are tried.
	for i, uri := range canonicalURIs(r) {
		canonical := canonicalRequest(r, uri, auth.signedHeaders, payloadHash)
		toSign := algorithm + "\n" + stamp + "\n" + scope + "\n" + hashHex([]byte(canonical))
		sig := hex.EncodeToString(hmacSHA256(key, []byte(toSign)))
		if subtle.ConstantTimeCompare([]byte(sig), []byte(auth.signature)) == 1 {
			return nil
		}
		if i == 0 {
			firstCanonical, firstToSign = canonical, toSign
		}
	}
	return &Error{Type: TypeInvalidSignature, Message: "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n" +
		"The Canonical String for this request should have been\n'" + firstCanonical + "'\n\n" +
		"The String-to-Sign should have been\n'" + firstToSign + "'\n"}
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…" and reports every missing part at once, as the service does.
func parseAuthorization(header string, r *http.Request) (*authorization, error) {
	alg, rest, _ := strings.Cut(header, " ")
	if alg != algorithm {
		return nil, &Error{Type: TypeIncompleteSignature, Message: fmt.Sprintf(
			"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. "+
				"Authorization header requires 'SignedHeaders' parameter. Authorization=%s", header)}
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			params[k] = val
		}
	}
	var missing []string
	for _, name := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[name] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", name))
		}
	}
	if r.Header.Get("X-Amz-Date") == "" && r.Header.Get("Date") == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return nil, &Error{Type: TypeIncompleteSignature, Message: strings.Join(missing, " ") + " Authorization=" + header}
	}
	cred := strings.Split(params["Credential"], "/")
	if len(cred) != 5 || cred[4] != terminator {
		return nil, &Error{Type: TypeIncompleteSignature, Message: fmt.Sprintf(
			"Credential should be scoped to a valid region. Authorization=%s", header)}
	}
	signed := strings.Split(params["SignedHeaders"], ";")
	if !contains(signed, "host") {
		return nil, &Error{Type: TypeInvalidSignature, Message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
	}
	return &authorization{
		accessKeyID: cred[0], date: cred[1], region: cred[2], service: cred[3],
		signedHeaders: signed, signature: params["Signature"],
	}, nil
}

// checkScope refuses credentials scoped to another region or service.
func (v *Verifier) checkScope(a *authorization) error {
	if a.region != v.Region {
		return &Error{Type: TypeInvalidSignature, Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", a.region)}
	}
	if a.service != v.Service {
		return &Error{Type: TypeInvalidSignature, Message: fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", v.Service)}
	}
	return nil
}

// checkTime parses the request time, checks it against the credential date
// and the clock, and returns it in the basic ISO 8601 form of the
// string-to-sign.
func (v *Verifier) checkTime(r *http.Request, a *authorization) (string, error) {
	raw := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(timeFormat, raw)
	if raw == "" {
		t, err = http.ParseTime(r.Header.Get("Date"))
	}
	if err != nil {
		return "", &Error{Type: TypeIncompleteSignature, Message: fmt.Sprintf(
			"Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", raw)}
	}
	t = t.UTC()
	stamp := t.Format(timeFormat)
	if t.Format(dateFormat) != a.date {
		return "", &Error{Type: TypeInvalidSignature, Message: fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.date, t.Format(dateFormat), stamp)}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now().UTC()
	if t.Before(n.Add(-maxClockSkew)) {
		return "", &Error{Type: TypeInvalidSignature, Message: fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - 5 min.)",
			stamp, n.Add(-maxClockSkew).Format(timeFormat), n.Format(timeFormat))}
	}
	if t.After(n.Add(maxClockSkew)) {
		return "", &Error{Type: TypeInvalidSignature, Message: fmt.Sprintf(
			"Signature not yet current: %s is still later than %s (%s + 5 min.)",
			stamp, n.Add(maxClockSkew).Format(timeFormat), n.Format(timeFormat))}
	}
	return stamp, nil
}

// payloadHash is the hex SHA-256 of the body. A client-sent
// X-Amz-Content-Sha256 must agree with it, so a replaced body is caught even
// when the header is signed.
func payloadHash(r *http.Request, body []byte) (string, error) {
	sum := emptyStringHash
	if len(body) > 0 {
		sum = hashHex(body)
	}
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != sum {
		return "", &Error{Type: TypeInvalidSignature, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	return sum, nil
}

// canonicalURIs returns the decoded path encoded once (RFC 3986, '/' kept)
// and the path as sent on the wire encoded again, which is what the SDKs sign.
func canonicalURIs(r *http.Request) []string {
	path, wire := r.URL.Path, r.URL.EscapedPath()
	if path == "" {
		path, wire = "/", "/"
	}
	return []string{encode(path, false), encode(wire, false)}
}

// canonicalRequest builds the canonical request string of SigV4.
func canonicalRequest(r *http.Request, uri string, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// headerValue returns the canonical value of one signed header. Go moves
// Host and Content-Length out of r.Header, so they are read from r.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	values := r.Header.Values(name)
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(trimmed, ",")
}

// canonicalQuery sorts parameters by name, then value, each encoded.
func canonicalQuery(q url.Values) string {
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, encode(k, true)+"="+encode(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// encode percent-encodes everything but RFC 3986 unreserved characters, and
// '/' unless slash is true.
func encode(s string, slash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (c == '/' && !slash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// signingKey derives the SigV4 key for one day, region and service.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(terminator))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
