package push

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// signer signs @connections requests with SigV4 for the execute-api service. Every push is
// signed, so it does for this one request shape what the SDK's v4.Signer does (the same
// canonical request and signature: the tests compare the two) without the SDK's per-request
// header maps, sorting and key derivation: the day's signing key is kept until the date or
// the secret changes. The path is signed as sent, escaped once, as execute-api expects.
type signer struct {
	region string
	key    atomic.Pointer[signingKey]
}

// signingKey is HMAC("AWS4"+secret, day, region, service, "aws4_request") for one secret and
// day, with a pool of HMACs keyed with it (hmac.New costs more than the signature).
type signingKey struct {
	secret, day string
	key         []byte
	macs        sync.Pool
}

// mac returns an HMAC-SHA256 keyed with the signing key, reset; Put it back after use.
func (k *signingKey) mac() hash.Hash {
	if m, ok := k.macs.Get().(hash.Hash); ok {
		m.Reset()
		return m
	}
	return hmac.New(sha256.New, k.key)
}

const (
	amzDateFormat = "20060102T150405Z"
	service       = "execute-api"
)

// sign sets X-Amz-Date, X-Amz-Security-Token (with temporary credentials) and Authorization
// on req. payloadHash is the hex SHA-256 of the body. req.Host, req.URL.RawPath (or Path),
// req.ContentLength and the Content-Type header must be final.
func (s *signer) sign(req *http.Request, creds aws.Credentials, payloadHash string, now time.Time) {
	date := now.UTC().Format(amzDateFormat)
	day := date[:8]
	req.Header["X-Amz-Date"] = []string{date}
	if creds.SessionToken != "" {
		req.Header["X-Amz-Security-Token"] = []string{creds.SessionToken}
	}
	canonical, signed := canonicalRequest(req, payloadHash)
	scope := day + "/" + s.region + "/" + service + "/aws4_request"
	sum := sha256.Sum256([]byte(canonical))

	k := s.dayKey(creds.SecretAccessKey, day)
	mac := k.mac()
	mac.Write([]byte("AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n"))
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])
	mac.Write(hexSum[:])
	var raw [sha256.Size]byte
	var sig [2 * sha256.Size]byte
	hex.Encode(sig[:], mac.Sum(raw[:0]))
	k.macs.Put(mac)

	req.Header["Authorization"] = []string{"AWS4-HMAC-SHA256 Credential=" + creds.AccessKeyID + "/" + scope +
		", SignedHeaders=" + signed + ", Signature=" + string(sig[:])}
}

// canonicalRequest is SigV4's canonical request of req: the signed headers are those the SDK
// signs for it (content-length when there is a body, content-type when set, host,
// x-amz-date, x-amz-security-token when set), in their sorted order. It also returns the
// SignedHeaders list.
func canonicalRequest(req *http.Request, payloadHash string) (canonical, signed string) {
	var b, names strings.Builder
	b.Grow(256 + len(req.URL.RawPath))
	path := req.URL.RawPath
	if path == "" {
		path = req.URL.EscapedPath()
	}
	b.WriteString(req.Method)
	b.WriteString("\n")
	b.WriteString(path)
	b.WriteString("\n\n") // no query
	header := func(name, value string) {
		if names.Len() > 0 {
			names.WriteByte(';')
		}
		names.WriteString(name)
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(value))
		b.WriteByte('\n')
	}
	if req.ContentLength > 0 {
		header("content-length", strconv.FormatInt(req.ContentLength, 10))
	}
	if v := req.Header["Content-Type"]; len(v) > 0 {
		header("content-type", v[0])
	}
	header("host", req.Host)
	header("x-amz-date", req.Header["X-Amz-Date"][0])
	if v := req.Header["X-Amz-Security-Token"]; len(v) > 0 {
		header("x-amz-security-token", v[0])
	}
	b.WriteByte('\n')
	b.WriteString(names.String())
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), names.String()
}

// dayKey returns the signing key for secret on day, derived once per secret and day.
func (s *signer) dayKey(secret, day string) *signingKey {
	if k := s.key.Load(); k != nil && k.day == day && k.secret == secret {
		return k
	}
	key := hmacSum(sha256.New, []byte("AWS4"+secret), day)
	key = hmacSum(sha256.New, key, s.region)
	key = hmacSum(sha256.New, key, service)
	key = hmacSum(sha256.New, key, "aws4_request")
	k := &signingKey{secret: secret, day: day, key: key}
	s.key.Store(k)
	return k
}

func hmacSum(h func() hash.Hash, key []byte, data string) []byte {
	mac := hmac.New(h, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}
