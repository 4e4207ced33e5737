// Command authorizer is an example Lambda REQUEST authorizer for wsgate's $connect route,
// an ordinary aws-lambda-go handler: on AWS it is the function given as
// ConnectAuthorization.Function; locally `wsgate dev --authorizer-package ./examples/authorizer`
// builds it and runs it against the local Lambda Runtime API.
//
// Browsers cannot set headers on a WebSocket, so the dotnetify client sends the token in the
// URL (wss://…/prod?token=…), the authorizer's default identity source. A token is
// "<user>.<signature>": the signature is the unpadded base64url HMAC-SHA256 of the user
// under the secret in AUTHORIZER_SECRET. A valid token is allowed with the user as the
// principal and the context {"role": "member"}; anything else is refused with
// "Unauthorized", which API Gateway answers with 401.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log"
	"os"
	"regexp"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// EnvSecret names the environment variable holding the token-signing secret.
const EnvSecret = "AUTHORIZER_SECRET"

// errUnauthorized is the error API Gateway turns into a 401 handshake response.
var errUnauthorized = errors.New("Unauthorized")

// userPattern bounds the principal: it travels in a header to the server.
var userPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// request is what this authorizer reads of API Gateway's REQUEST authorizer input.
type request struct {
	MethodArn             string            `json:"methodArn"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
}

func main() {
	secret := os.Getenv(EnvSecret)
	if len(secret) < 16 {
		log.Fatalf("authorizer: %s must hold a secret of at least 16 bytes", EnvSecret)
	}
	lambda.Start(handler([]byte(secret)))
}

// handler returns the authorizer for tokens signed with secret.
func handler(secret []byte) func(context.Context, request) (events.APIGatewayCustomAuthorizerResponse, error) {
	return func(_ context.Context, req request) (events.APIGatewayCustomAuthorizerResponse, error) {
		user, ok := verify(secret, req.QueryStringParameters["token"])
		if !ok {
			return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: user,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{
					Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{req.MethodArn},
				}},
			},
			Context: map[string]any{"role": "member"},
		}, nil
	}
}

// verify returns the token's user when its signature is right.
func verify(secret []byte, token string) (string, bool) {
	user, sig, ok := strings.Cut(token, ".")
	if !ok || !userPattern.MatchString(user) {
		return "", false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return "", false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(user))
	return user, hmac.Equal(got, mac.Sum(nil))
}
