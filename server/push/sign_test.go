package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The push signer produces exactly the SDK signer's headers for every request it builds:
// POSTs with a body, DELETEs without one, connection ids that need escaping, temporary
// credentials, and a new day (a new signing key).
func TestSignerMatchesTheSDK(t *testing.T) {
	sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	for _, tc := range []struct {
		name, method, connID, callback string
		frame                          []byte
		creds                          aws.Credentials
		now                            time.Time
	}{
		{"post", http.MethodPost, "Wm1nYcO3IAMCJ2w=", "https://abc.execute-api.eu-west-1.amazonaws.com/prod", []byte(`{"callType":"response_vm"}`),
			aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, time.Date(2026, 12, 2, 23, 59, 59, 0, time.UTC)},
		{"next day", http.MethodPost, "Wm1nYcO3IAMCJ2w=", "https://abc.execute-api.eu-west-1.amazonaws.com/prod", []byte(`{}`),
			aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, time.Date(2026, 12, 3, 0, 0, 1, 0, time.UTC)},
		{"escaped id and stage", http.MethodPost, "a+b/c=d~e", "http://127.0.0.1:3000/my stage", []byte(`{"x":1}`),
			aws.Credentials{AccessKeyID: "AKIAWSGATELOCAL00000", SecretAccessKey: "wsgate-local-secret"}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"temporary credentials", http.MethodPost, "id", "https://abc.execute-api.us-east-1.amazonaws.com/prod", []byte(`{}`),
			aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret2", SessionToken: "token/with+chars=="}, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)},
		{"delete", http.MethodDelete, "Wm1nYcO3IAMCJ2w=", "https://abc.execute-api.eu-west-1.amazonaws.com/prod", nil,
			aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			c, err := New(Config{CallbackURL: tc.callback, Region: "eu-west-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return tc.creds, nil }),
				Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			ours, err := c.build(context.Background(), tc.method, tc.connID, tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			theirs := ours.Clone(context.Background())
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				theirs.Header.Del(h)
			}
			theirs.Body = http.NoBody
			if tc.frame != nil {
				theirs.Body = nopBody{bytes.NewReader(tc.frame)}
			}
			sum := sha256.Sum256(tc.frame)
			if err := sdk.SignHTTP(context.Background(), tc.creds, theirs, hex.EncodeToString(sum[:]), "execute-api", "eu-west-1", now); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if got, want := ours.Header.Get(h), theirs.Header.Get(h); got != want {
					t.Errorf("%s:\n got  %q\n want %q (SDK)", h, got, want)
				}
			}
		})
	}
}

type nopBody struct{ *bytes.Reader }

func (nopBody) Close() error { return nil }
