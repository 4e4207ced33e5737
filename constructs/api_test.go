package constructs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

// byoTemplate synthesizes a WebSocketApi in front of an internet backend,
// with a role granted @connections access.
func byoTemplate(t *testing.T, props *wsgate.WebSocketApiProps) assertions.Template {
	t.Helper()
	stack := newStack(t)
	api := wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), props)
	role := awsiam.NewRole(stack, jsii.String("Pusher"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	api.GrantManageConnections(role)
	return assertions.Template_FromStack(stack, nil)
}

func TestWebSocketApiMatchesDotnetifyTemplate(t *testing.T) {
	tpl := byoTemplate(t, &wsgate.WebSocketApiProps{BackendUrl: jsii.String("https://dotnetify.example.com/")})

	api := props(only(t, tpl, "AWS::ApiGatewayV2::Api"))
	if api["ProtocolType"] != "WEBSOCKET" || api["RouteSelectionExpression"] != "$request.body.action" {
		t.Errorf("api = %v", api)
	}
	want := map[string]struct{ uri, template string }{
		"$connect":    {"https://dotnetify.example.com/api/dotnetify/vm", wsgate.ConnectRequestTemplate},
		"$default":    {"https://dotnetify.example.com/api/dotnetify/vm", wsgate.DefaultRequestTemplate},
		"$disconnect": {"https://dotnetify.example.com/api/dotnetify/vm/disconnect", wsgate.DisconnectRequestTemplate},
	}
	integrations := resources(tpl, "AWS::ApiGatewayV2::Integration")
	routes := resources(tpl, "AWS::ApiGatewayV2::Route")
	if len(routes) != 3 || len(integrations) != 3 {
		t.Fatalf("want 3 routes and 3 integrations, got %d and %d", len(routes), len(integrations))
	}
	for _, r := range routes {
		rp := props(r)
		key := rp["RouteKey"].(string)
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected route %q", key)
			continue
		}
		if rp["AuthorizationType"] != "NONE" || rp["RouteResponseSelectionExpression"] != "$default" || rp["ApiKeyRequired"] != false {
			t.Errorf("route %s = %v", key, rp)
		}
		integID := targetIntegration(t, rp["Target"])
		ip := props(integrations[integID])
		checks := map[string]any{
			"IntegrationType": "HTTP", "IntegrationMethod": "POST", "ConnectionType": "INTERNET",
			"IntegrationUri": w.uri, "PassthroughBehavior": "WHEN_NO_MATCH", "TemplateSelectionExpression": `\$default`,
			"TimeoutInMillis": 29000.0, "PayloadFormatVersion": "1.0",
		}
		for k, v := range checks {
			if ip[k] != v {
				t.Errorf("%s integration %s = %v, want %v", key, k, ip[k], v)
			}
		}
		tmpl := ip["RequestTemplates"].(map[string]any)["$default"]
		if tmpl != w.template {
			t.Errorf("%s request template = %q, want %q", key, tmpl, w.template)
		}
		checkIdentityParameters(t, key, ip["RequestParameters"])
	}
	assert(t, "route responses", func() {
		tpl.ResourcePropertiesCountIs(jsii.String("AWS::ApiGatewayV2::RouteResponse"), map[string]any{"RouteResponseKey": "$default"}, jsii.Number(3))
	})
	assert(t, "integration responses", func() {
		tpl.ResourcePropertiesCountIs(jsii.String("AWS::ApiGatewayV2::IntegrationResponse"), map[string]any{"IntegrationResponseKey": "$default"}, jsii.Number(3))
	})
	assert(t, "no VPC link", func() { tpl.ResourceCountIs(jsii.String("AWS::ApiGateway::VpcLink"), jsii.Number(0)) })
}

// checkIdentityParameters requires an integration's request parameters to
// carry the connection's identity from $context in the headers the server
// trusts, and nothing a client can write.
func checkIdentityParameters(t *testing.T, what string, params any) {
	t.Helper()
	want := map[string]any{
		"integration.request.header.X-Wsgate-Connection-Id": "context.connectionId",
		"integration.request.header.X-Wsgate-Source-Ip":     "context.identity.sourceIp",
		"integration.request.header.X-Wsgate-User-Agent":    "context.identity.userAgent",
	}
	got, _ := params.(map[string]any)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s request parameter %s = %v, want %v", what, k, got[k], v)
		}
	}
	for k, v := range got {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "route.request.") {
			t.Errorf("%s request parameter %s comes from %s, which the client writes", what, k, s)
		}
	}
}

// targetIntegration returns the logical id in a route target
// {"Fn::Join":["",["integrations/",{"Ref":id}]]}.
func targetIntegration(t *testing.T, target any) string {
	t.Helper()
	b, _ := json.Marshal(target)
	var join struct {
		Join []json.RawMessage `json:"Fn::Join"`
	}
	var parts []json.RawMessage
	var ref struct{ Ref string }
	if json.Unmarshal(b, &join) != nil || len(join.Join) != 2 || json.Unmarshal(join.Join[1], &parts) != nil || len(parts) != 2 ||
		string(parts[0]) != `"integrations/"` || json.Unmarshal(parts[1], &ref) != nil || ref.Ref == "" {
		t.Fatalf("route target %s is not integrations/{Ref}", b)
	}
	return ref.Ref
}

// TestRequestTemplatesRenderArchitectureBodies renders the templates the way
// API Gateway does for the variables they use and checks the bodies of
// docs/architecture.md.
func TestRequestTemplatesRenderArchitectureBodies(t *testing.T) {
	frame := `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`
	render := strings.NewReplacer(
		"$context.connectionId", "Wm1nYcO3IAMCJ2w=",
		"$context.identity.sourceIp", "203.0.113.7",
		`$util.escapeJavaScript($context.identity.userAgent).replaceAll("\\'","'")`, `Mozilla/5.0 \"x\"`,
		"$input.body", frame,
	)
	cases := []struct{ name, template, want string }{
		{"connect", wsgate.ConnectRequestTemplate, `{"connectionId":"Wm1nYcO3IAMCJ2w=","sourceIp":"203.0.113.7","userAgent":"Mozilla/5.0 \"x\""}`},
		{"default", wsgate.DefaultRequestTemplate, `{"connectionId":"Wm1nYcO3IAMCJ2w=","sourceIp":"203.0.113.7","userAgent":"Mozilla/5.0 \"x\"","payload":` + frame + `}`},
		{"disconnect", wsgate.DisconnectRequestTemplate, `{"connectionId":"Wm1nYcO3IAMCJ2w="}`},
	}
	for _, c := range cases {
		var body any
		if err := json.Unmarshal([]byte(render.Replace(c.template)), &body); err != nil {
			t.Fatalf("%s: rendered template is not JSON: %v", c.name, err)
		}
		got, _ := json.Marshal(body)
		var want any
		_ = json.Unmarshal([]byte(c.want), &want)
		wantJSON, _ := json.Marshal(want)
		if string(got) != string(wantJSON) {
			t.Errorf("%s body = %s, want %s", c.name, got, wantJSON)
		}
	}
}

func TestWebSocketApiIntegrationSecret(t *testing.T) {
	stack := newStack(t)
	secret := awssecretsmanager.NewSecret(stack, jsii.String("Shared"), nil)
	wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl:        jsii.String("https://dotnetify.example.com"),
		IntegrationSecret: secret,
	})
	tpl := assertions.Template_FromStack(stack, nil)
	secretID := *tpl.GetResourceId(jsii.String("AWS::SecretsManager::Secret"), nil)
	want := `{"Fn::Join":["",["'{{resolve:secretsmanager:",{"Ref":"` + secretID + `"},":SecretString:::}}'"]]}`
	for id, r := range resources(tpl, "AWS::ApiGatewayV2::Integration") {
		params := props(r)["RequestParameters"].(map[string]any)
		got, _ := json.Marshal(params["integration.request.header.X-Wsgate-Secret"])
		if string(got) != want {
			t.Errorf("%s X-Wsgate-Secret = %s, want %s", id, got, want)
		}
		checkIdentityParameters(t, id, params)
	}
	without := byoTemplate(t, &wsgate.WebSocketApiProps{BackendUrl: jsii.String("https://dotnetify.example.com")})
	for id, r := range resources(without, "AWS::ApiGatewayV2::Integration") {
		if v, ok := props(r)["RequestParameters"].(map[string]any)["integration.request.header.X-Wsgate-Secret"]; ok {
			t.Errorf("%s sends X-Wsgate-Secret %v without an IntegrationSecret", id, v)
		}
	}
}

func TestWebSocketApiStage(t *testing.T) {
	tpl := byoTemplate(t, &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String("https://dotnetify.example.com"),
		ApiOptions: wsgate.ApiOptions{
			StageName: jsii.String("live"), ThrottleRateLimit: jsii.Number(50), ThrottleBurstLimit: jsii.Number(20),
			IntegrationTimeout: awscdk.Duration_Seconds(jsii.Number(10)),
		},
	})
	stage := only(t, tpl, "AWS::ApiGatewayV2::Stage")
	sp := props(stage)
	if sp["StageName"] != "live" || sp["AutoDeploy"] != true {
		t.Errorf("stage = %v", sp)
	}
	rs := sp["DefaultRouteSettings"].(map[string]any)
	for k, v := range map[string]any{"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 20.0, "DetailedMetricsEnabled": true, "DataTraceEnabled": false, "LoggingLevel": "ERROR"} {
		if rs[k] != v {
			t.Errorf("DefaultRouteSettings.%s = %v, want %v", k, rs[k], v)
		}
	}
	als := sp["AccessLogSettings"].(map[string]any)
	if als["Format"] != wsgate.AccessLogFormat {
		t.Errorf("access log format = %v", als["Format"])
	}
	var line map[string]string
	if err := json.Unmarshal([]byte(wsgate.AccessLogFormat), &line); err != nil || line["requestId"] != "$context.requestId" {
		t.Errorf("access log format is not JSON with requestId: %v", err)
	}
	logGroupID := getAttArn(t, als["DestinationArn"])
	lg := resources(tpl, "AWS::Logs::LogGroup")[logGroupID]
	if props(lg)["RetentionInDays"] != 30.0 {
		t.Errorf("access log group = %v, want 30-day retention", lg)
	}
	deps := stage["DependsOn"].([]any)
	routeIDs := resources(tpl, "AWS::ApiGatewayV2::Route")
	for id := range routeIDs {
		if !contains(deps, id) {
			t.Errorf("stage does not depend on route %s (DependsOn %v)", id, deps)
		}
	}
	assert(t, "integration timeout", func() {
		tpl.AllResourcesProperties(jsii.String("AWS::ApiGatewayV2::Integration"), map[string]any{"TimeoutInMillis": 10000})
	})
	assert(t, "no account role by default", func() { tpl.ResourceCountIs(jsii.String("AWS::ApiGateway::Account"), jsii.Number(0)) })
}

func getAttArn(t *testing.T, v any) string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not Fn::GetAtt", v)
	}
	ga, ok := m["Fn::GetAtt"].([]any)
	if !ok || len(ga) != 2 || ga[1] != "Arn" {
		t.Fatalf("%v is not Fn::GetAtt [id, Arn]", v)
	}
	return ga[0].(string)
}

func contains(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestGrantManageConnectionsScopedToStage(t *testing.T) {
	tpl := byoTemplate(t, &wsgate.WebSocketApiProps{BackendUrl: jsii.String("https://dotnetify.example.com")})
	apiID := *tpl.GetResourceId(jsii.String("AWS::ApiGatewayV2::Api"), nil)
	policy := props(only(t, tpl, "AWS::IAM::Policy"))
	stmts := policy["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(stmts) != 1 {
		t.Fatalf("want one statement, got %v", stmts)
	}
	st := stmts[0].(map[string]any)
	if st["Action"] != "execute-api:ManageConnections" || st["Effect"] != "Allow" {
		t.Errorf("statement = %v", st)
	}
	got, _ := json.Marshal(st["Resource"])
	want := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":execute-api:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":",{"Ref":"` + apiID + `"},"/prod/*/@connections/*"]]}`
	if string(got) != want {
		t.Errorf("resource = %s\nwant       %s", got, want)
	}
	assert(t, "no IAM user or access key", func() {
		tpl.ResourceCountIs(jsii.String("AWS::IAM::User"), jsii.Number(0))
		tpl.ResourceCountIs(jsii.String("AWS::IAM::AccessKey"), jsii.Number(0))
	})
}

func TestAccountCloudWatchRoleOptIn(t *testing.T) {
	tpl := byoTemplate(t, &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String("https://dotnetify.example.com"),
		ApiOptions: wsgate.ApiOptions{ConfigureAccountCloudWatchRole: jsii.Bool(true)},
	})
	account := only(t, tpl, "AWS::ApiGateway::Account")
	if account["DeletionPolicy"] != "Retain" {
		t.Errorf("account = %v, want Retain", account)
	}
	assert(t, "logging role", func() {
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{
				"Statement": []any{map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "apigateway.amazonaws.com"}}},
			}),
			"ManagedPolicyArns": []any{map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}}}},
		})
	})
	stage := only(t, tpl, "AWS::ApiGatewayV2::Stage")
	accountID := *tpl.GetResourceId(jsii.String("AWS::ApiGateway::Account"), nil)
	if !contains(stage["DependsOn"].([]any), accountID) {
		t.Errorf("stage does not depend on the account settings")
	}
}
