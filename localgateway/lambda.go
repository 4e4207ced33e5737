package localgateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/localgateway/selection"
)

// lambdaResult is one Lambda invocation's answer.
type lambdaResult struct {
	payload  []byte
	funcErr  string // X-Amz-Function-Error: the function failed
	errorMsg string // errorMessage of a failed function
}

// invokeLambda calls a function through the Lambda Invoke API
// (POST /2015-03-31/functions/{name}/invocations) of the configured
// endpoint, such as `sam local start-lambda`, signed with the local
// credentials.
func (g *Gateway) invokeLambda(ctx context.Context, function string, event any) (*lambdaResult, error) {
	if g.cfg.LambdaEndpoint == nil {
		return nil, fmt.Errorf("%w: no Lambda endpoint configured for function %s", errIntegration, function)
	}
	body, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntegration, err)
	}
	target := *g.cfg.LambdaEndpoint
	target.Path = strings.TrimSuffix(target.Path, "/") + "/2015-03-31/functions/" + url.PathEscape(function) + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntegration, err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: g.cfg.Credentials.AccessKeyID, SecretAccessKey: g.cfg.Credentials.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", g.cfg.Credentials.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("%w: signing: %v", errIntegration, err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: invoking %s: %v", errIntegration, function, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIntegrationResponse))
	if err != nil {
		return nil, fmt.Errorf("%w: invoking %s: %v", errIntegration, function, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%w: invoking %s: status %d: %s", errIntegration, function, resp.StatusCode, data)
	}
	res := &lambdaResult{payload: data, funcErr: resp.Header.Get("X-Amz-Function-Error")}
	if res.funcErr != "" {
		var e struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(data, &e)
		res.errorMsg = e.ErrorMessage
	}
	return res, nil
}

// proxyEvent builds the Lambda proxy event of an API Gateway WebSocket
// route (CONNECT, MESSAGE or DISCONNECT).
func (g *Gateway) proxyEvent(c *conn, ev *event) map[string]any {
	rc := g.context(c, ev)
	rc["requestTime"] = ev.requestTime.UTC().Format("02/Jan/2006:15:04:05 -0700")
	rc["connectedAt"] = c.connectedAt.UnixMilli()
	rc["requestTimeEpoch"] = ev.requestTime.UnixMilli()
	if ev.eventType == eventDisconnect {
		rc["disconnectStatusCode"] = ev.discCode
	}
	if c.authorizer != nil {
		rc["authorizer"] = c.authorizer
	}
	out := map[string]any{"requestContext": rc, "isBase64Encoded": false}
	if len(g.stage.Variables) > 0 {
		out["stageVariables"] = g.stage.Variables
	}
	switch ev.eventType {
	case eventConnect:
		addRequestData(out, ev.connect)
	case eventMessage:
		out["body"] = string(ev.body)
	case eventDisconnect:
		out["headers"] = map[string]string{"Host": ev.domainName, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
		out["multiValueHeaders"] = map[string][]string{"Host": {ev.domainName}, "x-api-key": {""}, "X-Forwarded-For": {""}, "x-restapi": {""}}
	}
	return out
}

// addRequestData adds the handshake's headers and query string, the
// multi-value forms, and query keys only when there are any.
func addRequestData(out map[string]any, r *http.Request) {
	headers, multi := map[string]string{}, map[string][]string{}
	for k, v := range r.Header {
		headers[k], multi[k] = strings.Join(v, ","), v
	}
	headers["Host"], multi["Host"] = r.Host, []string{r.Host}
	out["headers"], out["multiValueHeaders"] = headers, multi
	if q := r.URL.Query(); len(q) > 0 {
		single := map[string]string{}
		for k, v := range q {
			single[k] = v[len(v)-1]
		}
		out["queryStringParameters"], out["multiValueQueryStringParameters"] = single, map[string][]string(q)
	}
}

// lambdaProxy runs an AWS_PROXY integration: the function's statusCode,
// headers and body are the answer.
func (g *Gateway) lambdaProxy(ctx context.Context, c *conn, in *cfn.Integration, ev *event) (*result, error) {
	res, err := g.invokeLambda(ctx, in.Function, g.proxyEvent(c, ev))
	if err != nil {
		return nil, err
	}
	if res.funcErr != "" {
		return nil, fmt.Errorf("%w: function %s failed: %s", errIntegration, in.Function, res.payload)
	}
	var out struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       *string           `json:"body"`
	}
	r := &result{status: http.StatusOK, header: http.Header{}}
	if json.Unmarshal(res.payload, &out) == nil {
		if out.StatusCode != 0 {
			r.status = out.StatusCode
		}
		for k, v := range out.Headers {
			r.header.Set(k, v)
		}
		if out.Body != nil {
			r.body = []byte(*out.Body)
		}
	}
	return r, nil
}

// lambdaCustom runs an AWS integration with a Lambda function: the request
// template makes the payload; the function's errorMessage selects the
// integration response.
func (g *Gateway) lambdaCustom(ctx context.Context, in *cfn.Integration, ev *event, vars map[string]any) (*result, error) {
	body, err := requestBody(in, ev, vars)
	if err != nil {
		return nil, err
	}
	var payload any = json.RawMessage(body)
	if !json.Valid(body) {
		payload = string(body)
	}
	res, err := g.invokeLambda(ctx, in.Function, payload)
	if err != nil {
		return nil, err
	}
	return integrationResponseBy(in, &result{status: http.StatusOK, header: http.Header{}}, vars, res.payload, res.errorMsg)
}

// Authorizer outcomes that refuse the handshake.
const (
	authUnauthorized = http.StatusUnauthorized
	authDenied       = http.StatusForbidden
	authFailed       = http.StatusInternalServerError
)

// authorize runs a REQUEST authorizer on the handshake. It returns 0 and
// stores the principal and context on the connection when allowed, else the
// handshake status: 401 for a missing identity source (the function is not
// called) or "Unauthorized", 403 for a Deny, 500 for anything malformed.
func (g *Gateway) authorize(ctx context.Context, c *conn, au *cfn.Authorizer, ev *event) int {
	r := ev.connect
	for _, src := range au.IdentitySource {
		if identityValue(src, r, g.stage.Variables) == "" {
			return authUnauthorized
		}
	}
	input := map[string]any{
		"type":           "REQUEST",
		"methodArn":      fmt.Sprintf("arn:aws:execute-api:%s:000000000000:%s/%s/$connect", g.cfg.Credentials.Region, g.api.ID, g.stage.Name),
		"stageVariables": g.stage.Variables,
		"requestContext": g.context(c, ev),
	}
	addRequestData(input, r)
	res, err := g.invokeLambda(ctx, au.Function, input)
	switch {
	case err != nil:
		g.log.Info("authorizer failed", "function", au.Function, "error", err)
		return authFailed
	case res.funcErr != "" && res.errorMsg == "Unauthorized":
		return authUnauthorized
	case res.funcErr != "":
		return authFailed
	}
	var out struct {
		PrincipalID    *string `json:"principalId"`
		PolicyDocument *struct {
			Statement []struct {
				Effect string `json:"Effect"`
			} `json:"Statement"`
		} `json:"policyDocument"`
		Context map[string]any `json:"context"`
	}
	if json.Unmarshal(res.payload, &out) != nil || out.PrincipalID == nil || out.PolicyDocument == nil || len(out.PolicyDocument.Statement) == 0 {
		return authFailed
	}
	for _, st := range out.PolicyDocument.Statement {
		if st.Effect != "Allow" {
			return authDenied
		}
	}
	auth := map[string]any{"principalId": *out.PrincipalID, "integrationLatency": 0}
	for k, v := range out.Context {
		auth[k] = v
	}
	c.authorizer = auth
	return 0
}

// identityValue reads one identity source of the handshake.
func identityValue(src string, r *http.Request, stageVars map[string]string) string {
	switch {
	case strings.HasPrefix(src, "route.request.header."):
		return r.Header.Get(strings.TrimPrefix(src, "route.request.header."))
	case strings.HasPrefix(src, "route.request.querystring."):
		return r.URL.Query().Get(strings.TrimPrefix(src, "route.request.querystring."))
	case strings.HasPrefix(src, "stageVariables."):
		return stageVars[strings.TrimPrefix(src, "stageVariables.")]
	}
	return "present" // context.* sources are always there
}

// authorizerContext is $context.authorizer for templates: values
// stringified, as the service does.
func authorizerContext(a map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = selection.Stringify(v)
	}
	return out
}
