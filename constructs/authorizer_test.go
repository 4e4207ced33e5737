package constructs_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

const authorizerArn = "arn:aws:lambda:us-east-1:123456789012:function:wsgate-auth"

// routesByKey returns the template's routes by route key.
func routesByKey(tpl assertions.Template) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range resources(tpl, "AWS::ApiGatewayV2::Route") {
		out[props(r)["RouteKey"].(string)] = r
	}
	return out
}

// apig4Reason returns the route's APIG4 suppression reason, or "".
func apig4Reason(route map[string]any) string {
	md, _ := route["Metadata"].(map[string]any)
	nag, _ := md["cdk_nag"].(map[string]any)
	rules, _ := nag["rules_to_suppress"].([]any)
	for _, r := range rules {
		if r := r.(map[string]any); r["id"] == "AwsSolutions-APIG4" {
			return r["reason"].(string)
		}
	}
	return ""
}

// connectParameters returns the request parameters of the integration the
// $connect route targets, and of the others.
func integrationParameters(t *testing.T, tpl assertions.Template) (connect map[string]any, others []map[string]any) {
	t.Helper()
	routes := routesByKey(tpl)
	target := props(routes["$connect"])["Target"]
	tb, _ := json.Marshal(target)
	for id, r := range resources(tpl, "AWS::ApiGatewayV2::Integration") {
		params, _ := props(r)["RequestParameters"].(map[string]any)
		if strings.Contains(string(tb), `"`+id+`"`) {
			connect = params
		} else {
			others = append(others, params)
		}
	}
	if connect == nil {
		t.Fatalf("no integration for $connect (target %s)", tb)
	}
	return connect, others
}

func TestConnectLambdaAuthorizer(t *testing.T) {
	stack := newStack(t)
	fn := awslambda.Function_FromFunctionArn(stack, jsii.String("Auth"), jsii.String(authorizerArn))
	api := wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String(backend),
		ApiOptions: wsgate.ApiOptions{ConnectAuthorization: &wsgate.ConnectAuthorization{
			Function: fn, ContextKeys: jsii.Strings("tenant", "role", "tenant"),
		}},
	})
	tpl := assertions.Template_FromStack(stack, nil)
	authID := *stack.GetLogicalId(api.Authorizer)
	apiID := *stack.GetLogicalId(api.Api.Node().DefaultChild().(awscdk.CfnElement))

	auth := props(only(t, tpl, "AWS::ApiGatewayV2::Authorizer"))
	same := func(what string, got any, want string) {
		t.Helper()
		g, _ := json.Marshal(got)
		if string(g) != want {
			t.Errorf("%s:\n got  %s\n want %s", what, g, want)
		}
	}
	same("authorizer", auth, `{"ApiId":{"Ref":"`+apiID+`"},"AuthorizerType":"REQUEST","AuthorizerUri":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":apigateway:",{"Ref":"AWS::Region"},":lambda:path/2015-03-31/functions/`+authorizerArn+`/invocations"]]},"IdentitySource":["route.request.querystring.token"],"Name":"wsgate-connect"}`)

	routes := routesByKey(tpl)
	same("$connect route auth", []any{props(routes["$connect"])["AuthorizationType"], props(routes["$connect"])["AuthorizerId"]}, `["CUSTOM",{"Ref":"`+authID+`"}]`)
	for _, key := range []string{"$default", "$disconnect"} {
		if got := props(routes[key])["AuthorizationType"]; got != "NONE" {
			t.Errorf("%s AuthorizationType = %v", key, got)
		}
	}

	// Every route maps the principal: API Gateway states an authorized connection's
	// authorizer context on $default and $disconnect too, so the server keeps no state
	// from $connect and any task can serve any request.
	connect, others := integrationParameters(t, tpl)
	if len(others) != 2 {
		t.Fatalf("%d other integrations, want 2", len(others))
	}
	for i, params := range append([]map[string]any{connect}, others...) {
		for header, source := range map[string]string{
			"X-Wsgate-Principal":         "context.authorizer.principalId",
			"X-Wsgate-Authorizer-role":   "context.authorizer.role",
			"X-Wsgate-Authorizer-tenant": "context.authorizer.tenant",
			"X-Wsgate-Connection-Id":     "context.connectionId",
		} {
			if got := params["integration.request.header."+header]; got != source {
				t.Errorf("integration %d header %s = %v, want %s", i, header, got, source)
			}
		}
		if len(params) != 6 {
			t.Errorf("integration %d request parameters = %v, want the 3 identity headers, the principal and 2 context keys", i, params)
		}
	}

	perm := props(only(t, tpl, "AWS::Lambda::Permission"))
	same("permission", perm, `{"Action":"lambda:InvokeFunction","FunctionName":"`+authorizerArn+`","Principal":"apigateway.amazonaws.com","SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":execute-api:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":",{"Ref":"`+apiID+`"},"/authorizers/",{"Ref":"`+authID+`"}]]}}`)

	// cdk-nag: an authorized $connect needs no APIG4 suppression, and the
	// others' reasons stay true.
	if r := apig4Reason(routes["$connect"]); r != "" {
		t.Errorf("$connect still suppresses APIG4: %q", r)
	}
	if r := apig4Reason(routes["$default"]); r != "WebSocket APIs authorize only at $connect; this route runs only on connections that $connect's Lambda authorization admitted" {
		t.Errorf("$default APIG4 reason = %q", r)
	}
}

func TestConnectWithoutAuthorizationKeepsItsSuppression(t *testing.T) {
	tpl := byoTemplate(t, &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend)})
	routes := routesByKey(tpl)
	if r := apig4Reason(routes["$connect"]); !strings.HasPrefix(r, "authorization is not configured") {
		t.Errorf("$connect APIG4 reason = %q", r)
	}
	if got := props(routes["$connect"])["AuthorizationType"]; got != "NONE" {
		t.Errorf("AuthorizationType = %v", got)
	}
	connect, _ := integrationParameters(t, tpl)
	if _, ok := connect["integration.request.header.X-Wsgate-Principal"]; ok {
		t.Errorf("principal mapped without an authorizer: %v", connect)
	}
}

func TestConnectIamAuthorization(t *testing.T) {
	stack := newStack(t)
	api := wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String(backend),
		ApiOptions: wsgate.ApiOptions{ConnectAuthorization: &wsgate.ConnectAuthorization{Iam: jsii.Bool(true)}},
	})
	role := awsiam.NewRole(stack, jsii.String("Client"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
	api.GrantConnect(role)
	tpl := assertions.Template_FromStack(stack, nil)
	assert(t, "no Lambda authorizer", func() {
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Authorizer"), jsii.Number(0))
		tpl.ResourceCountIs(jsii.String("AWS::Lambda::Permission"), jsii.Number(0))
	})
	routes := routesByKey(tpl)
	if got := props(routes["$connect"])["AuthorizationType"]; got != "AWS_IAM" {
		t.Errorf("AuthorizationType = %v", got)
	}
	if r := apig4Reason(routes["$connect"]); r != "" {
		t.Errorf("$connect still suppresses APIG4: %q", r)
	}
	connect, others := integrationParameters(t, tpl)
	for i, params := range append([]map[string]any{connect}, others...) {
		if got := params["integration.request.header.X-Wsgate-Principal"]; got != "context.identity.userArn" {
			t.Errorf("integration %d principal source = %v", i, got)
		}
	}
	policy := props(only(t, tpl, "AWS::IAM::Policy"))
	b, _ := json.Marshal(policy["PolicyDocument"])
	if !strings.Contains(string(b), `"Action":"execute-api:Invoke"`) || !strings.Contains(string(b), `/prod/$connect"`) {
		t.Errorf("GrantConnect policy = %s", b)
	}
}

func TestConnectAuthorizationValidation(t *testing.T) {
	const head = "wsgate: invalid WebSocketApi props at Test/Realtime (1 problem):\n  - "
	stack := newStack(t)
	fn := awslambda.Function_FromFunctionArn(stack, jsii.String("Auth"), jsii.String(authorizerArn))
	cases := []struct {
		name string
		a    *wsgate.ConnectAuthorization
		want string
	}{
		{"both", &wsgate.ConnectAuthorization{Iam: jsii.Bool(true), Function: fn},
			head + "ConnectAuthorization: got both Iam and Function; allowed: exactly one kind of authorization; fix: remove Function for SigV4-signing clients, or Iam for a Lambda authorizer"},
		{"neither", &wsgate.ConnectAuthorization{Iam: jsii.Bool(false)},
			head + "ConnectAuthorization: got neither Iam nor Function; allowed: exactly one kind of authorization; fix: set Iam to true or Function to a Lambda REQUEST authorizer, or leave ConnectAuthorization unset to admit every client"},
		{"identity source", &wsgate.ConnectAuthorization{Function: fn, IdentitySource: jsii.Strings("querystring.token")},
			head + `ConnectAuthorization.IdentitySource: got "querystring.token"; allowed: route.request.querystring.<name>, route.request.header.<name>, stageVariables.<name> or context.<name>; fix: name where the token is, such as "route.request.querystring.token" (browsers cannot set headers on a WebSocket)`},
		{"empty identity source", &wsgate.ConnectAuthorization{Function: fn, IdentitySource: &[]*string{}},
			head + `ConnectAuthorization.IdentitySource: got an empty list; allowed: at least one identity source; fix: leave it unset for ["route.request.querystring.token"]`},
		{"context key", &wsgate.ConnectAuthorization{Function: fn, ContextKeys: jsii.Strings("tenant id")},
			head + `ConnectAuthorization.ContextKeys: got "tenant id"; allowed: 1 to 64 letters, digits or '_'; fix: give the key as the authorizer's context names it`},
		{"too many context keys", &wsgate.ConnectAuthorization{Function: fn, ContextKeys: manyKeys(65)},
			head + `ConnectAuthorization.ContextKeys: got 65 keys; allowed: at most 64 (the server refuses more); fix: forward only the keys view models read`},
		{"iam with identity source", &wsgate.ConnectAuthorization{Iam: jsii.Bool(true), IdentitySource: jsii.Strings("route.request.header.Auth")},
			head + "ConnectAuthorization: got IdentitySource or ContextKeys with Iam; allowed: those only with Function; fix: remove them (IAM authorization reads the SigV4 signature)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := apiError(t, &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{ConnectAuthorization: c.a}})
			if got != c.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
	// Header and query-string sources of every allowed form pass.
	wsgate.NewWebSocketApi(stack, jsii.String("Ok"), &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{
		ConnectAuthorization: &wsgate.ConnectAuthorization{Function: fn, IdentitySource: jsii.Strings("route.request.header.Sec-WebSocket-Protocol", "route.request.querystring.token", "stageVariables.realm", "context.identity.sourceIp")},
	}})
}

// manyKeys returns n distinct context keys.
func manyKeys(n int) *[]*string {
	keys := make([]*string, n)
	for i := range keys {
		keys[i] = jsii.String(fmt.Sprintf("k%d", i))
	}
	return &keys
}
