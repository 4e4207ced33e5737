package constructs

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/wsgate/wsgate/contract"
)

// DefaultIdentitySource is where a Lambda authorizer's token comes from: the
// query string, because browsers cannot set headers on a WebSocket
// handshake, so the dotnetify client puts the token in the URL
// (wss://…/prod?token=…).
const DefaultIdentitySource = "route.request.querystring.token"

// ConnectAuthorization admits or refuses clients at the $connect route,
// the only route a WebSocket API authorizes; the other routes run on the
// connections $connect admitted. Set Iam or Function, not both.
type ConnectAuthorization struct {
	// Iam requires $connect requests signed with SigV4 by a principal
	// allowed execute-api:Invoke on the $connect route (see
	// WebSocketApi.GrantConnect). The server receives the caller's ARN in
	// the X-Wsgate-Principal header.
	// Default: false.
	Iam *bool
	// Function is a Lambda REQUEST authorizer: it receives the handshake's
	// identity sources and answers with a policy, a principalId and an
	// optional context. API Gateway refuses the handshake (401) when an
	// identity source is missing, without calling the function. The
	// server receives principalId in the X-Wsgate-Principal header.
	// Default: none.
	Function awslambda.IFunction
	// IdentitySource lists where the authorizer's inputs come from:
	// route.request.querystring.<name>, route.request.header.<name>,
	// stageVariables.<name> or context.<name>. Only with Function.
	// Default: ["route.request.querystring.token"].
	IdentitySource *[]*string
	// ContextKeys are keys of the Lambda authorizer's context the server
	// receives on $connect, each in an X-Wsgate-Authorizer-<key> header
	// (letters, digits and '_' only). Only with Function.
	// Default: none (the principalId only).
	ContextKeys *[]*string
}

// iam reports whether IAM authorization is asked for.
func (a *ConnectAuthorization) iam() bool { return a != nil && a.Iam != nil && *a.Iam }

// lambda reports whether a Lambda authorizer is asked for.
func (a *ConnectAuthorization) lambda() bool { return a != nil && a.Function != nil }

// authorizes reports whether $connect is authorized at all.
func (a *ConnectAuthorization) authorizes() bool { return a.iam() || a.lambda() }

// identitySourcePattern is the WebSocket identity-source syntax.
var identitySourcePattern = regexp.MustCompile(`^(route\.request\.(header|querystring)\.[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+|stageVariables\.[A-Za-z0-9_]+|context\.[A-Za-z0-9_.]+)$`)

// contextKeyPattern keeps an authorizer context key usable both in a
// $context variable and in a header name.
var contextKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// maxContextKeys is how many context keys the server accepts per request
// (server/integration.MaxAuthorizerKeys).
const maxContextKeys = 64

// checkConnectAuthorization validates the $connect authorization props.
func (p *problems) checkConnectAuthorization(a *ConnectAuthorization) {
	if a == nil {
		return
	}
	switch {
	case a.iam() && a.lambda():
		p.addf("ConnectAuthorization: got both Iam and Function; allowed: exactly one kind of authorization; fix: remove Function for SigV4-signing clients, or Iam for a Lambda authorizer")
		return
	case !a.authorizes():
		p.addf("ConnectAuthorization: got neither Iam nor Function; allowed: exactly one kind of authorization; fix: set Iam to true or Function to a Lambda REQUEST authorizer, or leave ConnectAuthorization unset to admit every client")
		return
	}
	if a.iam() {
		if a.IdentitySource != nil || a.ContextKeys != nil {
			p.addf("ConnectAuthorization: got IdentitySource or ContextKeys with Iam; allowed: those only with Function; fix: remove them (IAM authorization reads the SigV4 signature)")
		}
		return
	}
	if a.IdentitySource != nil {
		if len(*a.IdentitySource) == 0 {
			p.add("ConnectAuthorization.IdentitySource", "an empty list", "at least one identity source", `leave it unset for ["`+DefaultIdentitySource+`"]`)
		}
		for _, s := range *a.IdentitySource {
			if s == nil || (!unresolvedString(s) && !identitySourcePattern.MatchString(*s)) {
				p.add("ConnectAuthorization.IdentitySource", quote(s), "route.request.querystring.<name>, route.request.header.<name>, stageVariables.<name> or context.<name>",
					`name where the token is, such as "`+DefaultIdentitySource+`" (browsers cannot set headers on a WebSocket)`)
			}
		}
	}
	if a.ContextKeys != nil {
		if n := len(*a.ContextKeys); n > maxContextKeys {
			p.add("ConnectAuthorization.ContextKeys", fmt.Sprintf("%d keys", n), fmt.Sprintf("at most %d (the server refuses more)", maxContextKeys), "forward only the keys view models read")
		}
		for _, k := range *a.ContextKeys {
			if k == nil || unresolvedString(k) || !contextKeyPattern.MatchString(*k) {
				p.add("ConnectAuthorization.ContextKeys", quote(k), "1 to 64 letters, digits or '_'", "give the key as the authorizer's context names it")
			}
		}
	}
}

// authorizeConnect sets the $connect authorization and hands the admitted
// principal to the backend in request headers filled from $context, where
// a client cannot write, on every route. API Gateway keeps an authorized
// connection's $context.authorizer (and with IAM its $context.identity)
// for the connection's lifetime and states it on $default and $disconnect
// as well: the mapping-template reference lists them without a route
// restriction (unlike messageId), boto/boto3#3789 shows the authorizer on
// a $disconnect event, and dherault/serverless-offline#1379 fixed the
// emulator to match the service's authorizer context on every route. So
// the server remembers nothing from $connect, and any task can serve any
// request of the connection.
func (w *WebSocketApi) authorizeConnect(props *WebSocketApiProps) {
	a := props.ConnectAuthorization
	if !a.authorizes() {
		return
	}
	route := w.Connect.Route
	principal := map[string]*string{}
	if a.iam() {
		route.SetAuthorizationType(jsii.String("AWS_IAM"))
		principal[headerParameter(contract.HeaderPrincipal)] = jsii.String("context.identity.userArn")
	} else {
		w.addLambdaAuthorizer(a)
		route.SetAuthorizationType(jsii.String("CUSTOM"))
		route.SetAuthorizerId(w.Authorizer.Ref())
		principal[headerParameter(contract.HeaderPrincipal)] = jsii.String("context.authorizer.principalId")
		for _, k := range contextKeys(a) {
			principal[headerParameter(contract.HeaderAuthorizerPrefix+k)] = jsii.String("context.authorizer." + k)
		}
	}
	for _, r := range []*ApiRoute{w.Connect, w.Default, w.Disconnect} {
		params := requestParameters(props.IntegrationSecret)
		for k, v := range principal {
			(*params)[k] = v
		}
		r.Integration.SetRequestParameters(params)
	}
}

// contextKeys are the authorizer context keys to forward, sorted and
// without duplicates.
func contextKeys(a *ConnectAuthorization) []string {
	if a.ContextKeys == nil {
		return nil
	}
	seen := map[string]bool{}
	var keys []string
	for _, k := range *a.ContextKeys {
		if !seen[*k] {
			seen[*k] = true
			keys = append(keys, *k)
		}
	}
	sort.Strings(keys)
	return keys
}

// addLambdaAuthorizer creates the REQUEST authorizer and the permission
// for API Gateway to invoke its function for this API's authorizers only.
func (w *WebSocketApi) addLambdaAuthorizer(a *ConnectAuthorization) {
	sources := a.IdentitySource
	if sources == nil {
		sources = jsii.Strings(DefaultIdentitySource)
	}
	w.Authorizer = awsapigatewayv2.NewCfnAuthorizer(w, jsii.String("ConnectAuthorizer"), &awsapigatewayv2.CfnAuthorizerProps{
		ApiId:          w.Api.ApiId(),
		Name:           jsii.String("wsgate-connect"),
		AuthorizerType: jsii.String("REQUEST"),
		AuthorizerUri: jsii.String(fmt.Sprintf("arn:%s:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations",
			*awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *a.Function.FunctionArn())),
		IdentitySource: sources,
	})
	w.AuthorizerPermission = awslambda.NewCfnPermission(w, jsii.String("ConnectAuthorizerPermission"), &awslambda.CfnPermissionProps{
		Action:       jsii.String("lambda:InvokeFunction"),
		FunctionName: a.Function.FunctionArn(),
		Principal:    jsii.String("apigateway.amazonaws.com"),
		SourceArn: awscdk.Stack_Of(w).FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("execute-api"),
			Resource:     w.Api.ApiId(),
			ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			ResourceName: jsii.String("authorizers/" + *w.Authorizer.Ref()),
		}),
	})
}

// GrantConnect allows grantee to open connections when ConnectAuthorization
// is Iam: execute-api:Invoke on this stage's $connect route only.
func (w *WebSocketApi) GrantConnect(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("execute-api:Invoke"),
		ResourceArns: &[]*string{w.Api.ArnForExecuteApiV2(jsii.String("$connect"), w.StageName())},
	})
}

// apig4Reason says why a route has no authorizer, or "" for an authorized
// $connect, which needs no suppression. The reasons stay true either way.
func apig4Reason(routeKey string, a *ConnectAuthorization) string {
	if !a.authorizes() {
		return apig4Reasons[routeKey]
	}
	switch routeKey {
	case "$connect":
		return ""
	case "$default":
		return "WebSocket APIs authorize only at $connect; this route runs only on connections that $connect's " + authKind(a) + " authorization admitted"
	default:
		return apig4Reasons[routeKey]
	}
}

// authKind names the kind of $connect authorization.
func authKind(a *ConnectAuthorization) string {
	if a.iam() {
		return "IAM"
	}
	return "Lambda"
}
