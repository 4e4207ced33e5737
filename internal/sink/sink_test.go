package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The sink must really verify: unsigned, forged, wrongly scoped and double-encoded requests
// are refused and record nothing; a correct one is recorded.
func TestSinkVerifiesSignatures(t *testing.T) {
	s, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := []byte(`{"callType":"response_vm","vmId":"X","data":"{}"}`)
	good := aws.Credentials{AccessKeyID: "AKIAWSGATELOCAL00000", SecretAccessKey: "wsgate-local-secret"}
	tests := []struct {
		name    string
		creds   *aws.Credentials
		region  string
		rawPath string
		status  int
	}{
		{"unsigned", nil, "us-east-1", "/prod/%40connections/a%3D", http.StatusForbidden},
		{"wrong secret", &aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: "guess"}, "us-east-1", "/prod/%40connections/a%3D", http.StatusForbidden},
		{"unknown key", &aws.Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: good.SecretAccessKey}, "us-east-1", "/prod/%40connections/a%3D", http.StatusForbidden},
		{"other region", &good, "eu-west-1", "/prod/%40connections/a%3D", http.StatusForbidden},
		{"double-encoded path", &good, "us-east-1", "/prod/%2540connections/a%253D", http.StatusNotFound},
		{"signed", &good, "us-east-1", "/prod/%40connections/a%3D", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(body))
			req.URL.Path = strings.ReplaceAll(strings.ReplaceAll(tt.rawPath, "%40", "@"), "%3D", "=")
			req.URL.RawPath = tt.rawPath
			req.Header.Set("Content-Type", "application/json")
			if tt.creds != nil {
				sum := sha256.Sum256(body)
				signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
				if err := signer.SignHTTP(context.Background(), *tt.creds, req, hex.EncodeToString(sum[:]), "execute-api", tt.region, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d; rejected %q", resp.StatusCode, tt.status, s.Rejected())
			}
		})
	}
	if got := s.Frames("a="); len(got) != 1 || got[0] != string(body) {
		t.Errorf("recorded %q, want only the signed frame", got)
	}
	if n := len(s.Rejected()); n != 5 {
		t.Errorf("rejected %d requests, want 5", n)
	}
}
