package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIAWSGATELOCAL00000"
	testSecret = "wsgate-local-secret"
	testRegion = "us-east-1"
)

var signTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func newVerifier() *Verifier {
	return &Verifier{
		Region:  testRegion,
		Service: "execute-api",
		Lookup: func(id string) (string, bool) {
			if id == testKey {
				return testSecret, true
			}
			return "", false
		},
		Now: func() time.Time { return signTime.Add(30 * time.Second) },
	}
}

// request describes one signed call sent over a real loopback connection.
type request struct {
	method, path, query string
	body                string
	signedBody          string // body the signature is computed over; "" = body
	key, secret, region string
	service             string
	singleEncodedPath   bool
	header              map[string]string
	unsigned            bool
	at                  time.Time
}

// send signs req with aws-sdk-go-v2's signer, sends it to a test server and
// returns what Verify said about it there.
func send(t *testing.T, v *Verifier, req request) error {
	t.Helper()
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		got <- v.Verify(r, body)
	}))
	defer srv.Close()
	fill(&req)
	target := srv.URL + req.path
	if req.query != "" {
		target += "?" + req.query
	}
	hr, err := http.NewRequest(req.method, target, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range req.header {
		hr.Header.Set(k, val)
	}
	if !req.unsigned {
		sum := sha256.Sum256([]byte(req.signedBody))
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = req.singleEncodedPath })
		creds := aws.Credentials{AccessKeyID: req.key, SecretAccessKey: req.secret}
		if err := signer.SignHTTP(context.Background(), creds, hr, hex.EncodeToString(sum[:]), req.service, req.region, req.at); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return <-got
}

func fill(req *request) {
	if req.method == "" {
		req.method = http.MethodPost
	}
	if req.path == "" {
		req.path = "/prod/@connections/R1kmxc2VNjMCFIA%3D"
	}
	if req.signedBody == "" {
		req.signedBody = req.body
	}
	if req.key == "" {
		req.key = testKey
	}
	if req.secret == "" {
		req.secret = testSecret
	}
	if req.region == "" {
		req.region = testRegion
	}
	if req.service == "" {
		req.service = "execute-api"
	}
	if req.at.IsZero() {
		req.at = signTime
	}
}

func wantError(t *testing.T, err error, typ, msgPrefix string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error %s, got %v", typ, err)
	}
	if e.Type != typ || !strings.HasPrefix(e.Message, msgPrefix) {
		t.Fatalf("want %s %q…, got %s %q", typ, msgPrefix, e.Type, e.Message)
	}
}

func TestVerifyAcceptsSDKSignedRequests(t *testing.T) {
	cases := map[string]request{
		"post with body":         {body: `{"callType":"response_vm","vmId":"HelloWorldVM"}`},
		"get":                    {method: http.MethodGet},
		"delete":                 {method: http.MethodDelete},
		"path without stage":     {path: "/@connections/VNRXVFJOywMF3-Q%3D", body: "x"},
		"single-encoded path":    {path: "/prod/%40connections/R1kmxc2VNjMCFIA%3D", singleEncodedPath: true, body: "hi"},
		"sorted query":           {method: http.MethodGet, query: "b=2&a=1&a=0&c=x%20y"},
		"extra signed header":    {body: "{}", header: map[string]string{"Content-Type": "application/json; charset=utf-8", "X-Custom": "  a   b "}},
		"content sha256 header":  {body: "data", header: map[string]string{"X-Amz-Content-Sha256": hashHex([]byte("data"))}},
		"large body":             {body: strings.Repeat("z", 128<<10)},
		"signed a minute before": {body: "early", at: signTime.Add(-time.Minute)},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			if err := send(t, newVerifier(), req); err != nil {
				t.Fatalf("valid signature refused: %v", err)
			}
		})
	}
}

func TestVerifyRefusesWrongSecret(t *testing.T) {
	err := send(t, newVerifier(), request{body: "hello", secret: "not-the-secret"})
	wantError(t, err, TypeInvalidSignature, "The request signature we calculated does not match the signature you provided. "+
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n"+
		"The Canonical String for this request should have been\n'POST\n/prod/%40connections/R1kmxc2VNjMCFIA%3D\n")
}

func TestVerifyRefusesTamperedBody(t *testing.T) {
	err := send(t, newVerifier(), request{body: "hello, evil", signedBody: "hello"})
	wantError(t, err, TypeInvalidSignature, "The request signature we calculated does not match")
}

func TestVerifyRefusesBodyNotMatchingContentHash(t *testing.T) {
	err := send(t, newVerifier(), request{body: "evil", header: map[string]string{"X-Amz-Content-Sha256": hashHex([]byte("good"))}})
	wantError(t, err, TypeInvalidSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
}

func TestVerifyRefusesWrongRegion(t *testing.T) {
	err := send(t, newVerifier(), request{body: "x", region: "eu-west-1"})
	wantError(t, err, TypeInvalidSignature, "Credential should be scoped to a valid region, not 'eu-west-1'. ")
}

func TestVerifyRefusesWrongService(t *testing.T) {
	err := send(t, newVerifier(), request{body: "x", service: "s3"})
	wantError(t, err, TypeInvalidSignature, "Credential should be scoped to correct service: 'execute-api'. ")
}

func TestVerifyRefusesUnknownAccessKey(t *testing.T) {
	err := send(t, newVerifier(), request{body: "x", key: "AKIAUNKNOWN000000000", secret: testSecret})
	wantError(t, err, TypeUnrecognizedClient, "The security token included in the request is invalid.")
}

func TestVerifyRefusesMissingAuthorization(t *testing.T) {
	err := send(t, newVerifier(), request{body: "x", unsigned: true})
	wantError(t, err, TypeMissingToken, "Missing Authentication Token")
}

func TestVerifyRefusesExpiredSignature(t *testing.T) {
	err := send(t, newVerifier(), request{body: "x", at: signTime.Add(-10 * time.Minute)})
	wantError(t, err, TypeInvalidSignature, "Signature expired: 20260314T091653Z is now earlier than 20260314T092223Z (20260314T092723Z - 5 min.)")
}

func TestVerifyRefusesFutureSignature(t *testing.T) {
	err := send(t, newVerifier(), request{body: "x", at: signTime.Add(10 * time.Minute)})
	wantError(t, err, TypeInvalidSignature, "Signature not yet current: 20260314T093653Z is still later than 20260314T093223Z (20260314T092723Z + 5 min.)")
}

func TestVerifyRefusesIncompleteHeader(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/prod/@connections/abc", bytes.NewReader(nil))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/20260314/us-east-1/execute-api/aws4_request")
	err := newVerifier().Verify(r, nil)
	wantError(t, err, TypeIncompleteSignature, "Authorization header requires 'Signature' parameter. "+
		"Authorization header requires 'SignedHeaders' parameter. "+
		"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256")
}

func TestVerifyRefusesUnsignedHost(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/prod/@connections/abc", nil)
	r.Header.Set("X-Amz-Date", "20260314T092653Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/20260314/us-east-1/execute-api/aws4_request, SignedHeaders=x-amz-date, Signature=00")
	err := newVerifier().Verify(r, nil)
	wantError(t, err, TypeInvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
}

func TestVerifyRefusesSignatureOfOtherPath(t *testing.T) {
	v := newVerifier()
	var signed *http.Request
	signed = httptest.NewRequest(http.MethodPost, "http://example.test/prod/@connections/aaa", nil)
	sum := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, signed, hex.EncodeToString(sum[:]), "execute-api", testRegion, signTime); err != nil {
		t.Fatal(err)
	}
	replay := httptest.NewRequest(http.MethodPost, "http://example.test/prod/@connections/bbb", nil)
	replay.Header = signed.Header.Clone()
	wantError(t, v.Verify(replay, nil), TypeInvalidSignature, "The request signature we calculated does not match")
}

// signedAsServerSees signs a push-shaped @connections POST the way wsgate's push client
// does and returns it as a server reads it off the wire, with its body.
func signedAsServerSees(tb testing.TB) (*http.Request, []byte) {
	tb.Helper()
	body := []byte(`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"Hello World\"}"}`)
	hr, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/prod/%40connections/R1kmxc2VNjMCFIA%3D", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(body)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}, hr, hex.EncodeToString(sum[:]), "execute-api", testRegion, signTime); err != nil {
		tb.Fatal(err)
	}
	var wire bytes.Buffer
	if err := hr.Write(&wire); err != nil {
		tb.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		tb.Fatal(err)
	}
	return r, body
}

// The signing key is derived once per secret and day, and a request signed on another day
// still gets its own key: a cached key must never verify a signature made with another.
func TestVerifyKeepsOneKeyPerDay(t *testing.T) {
	v := newVerifier()
	r, body := signedAsServerSees(t)
	if err := v.Verify(r, body); err != nil {
		t.Fatalf("first request: %v", err)
	}
	if err := v.Verify(r, body); err != nil {
		t.Fatalf("same request again: %v", err)
	}
	// The next day's request, verified the next day.
	next := signTime.Add(24 * time.Hour)
	v.Now = func() time.Time { return next.Add(30 * time.Second) }
	err := send(t, v, request{at: next, body: "x"})
	if err != nil {
		t.Fatalf("next day's request: %v", err)
	}
	// A wrong secret on the cached day is still refused.
	v.Now = func() time.Time { return signTime.Add(30 * time.Second) }
	wantError(t, send(t, v, request{secret: "not-the-secret"}), TypeInvalidSignature, "The request signature we calculated does not match")
}

func BenchmarkVerify(b *testing.B) {
	v := newVerifier()
	r, body := signedAsServerSees(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}
