package cfn

import (
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/stacktemplate"
)

func TestLoadDotNetifyTemplate(t *testing.T) {
	apis, err := Load("../testdata/dotnetify-cloudformation-template.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(apis) != 1 {
		t.Fatalf("got %d APIs", len(apis))
	}
	a := apis[0]
	if a.ID != "ApiGatewayV2Api" || a.RouteSelectionExpression != "$request.body.action" || len(a.Stages) != 0 {
		t.Fatalf("api = %+v", a)
	}
	want := map[string]string{
		"$connect":    "https://<your-url-domain>/api/dotnetify/vm",
		"$default":    "https://<your-url-domain>/api/dotnetify/vm",
		"$disconnect": "https://<your-url-domain>/api/dotnetify/vm/disconnect",
	}
	for key, uri := range want {
		r := a.Routes[key]
		if r == nil || r.Integration == nil {
			t.Fatalf("route %s missing or without integration", key)
		}
		in := r.Integration
		if in.URI != uri || in.Type != "HTTP" || in.Method != "POST" || in.TemplateSelectionExpression != `\$default` || in.Timeout != 29*time.Second {
			t.Errorf("route %s integration = %+v", key, in)
		}
		if !r.TwoWay() || len(in.Responses) != 1 || in.Responses[0].Key != "$default" {
			t.Errorf("route %s responses: twoWay=%v %+v", key, r.TwoWay(), in.Responses)
		}
		if !strings.Contains(in.RequestTemplates["$default"], `"connectionId": "$context.connectionId"`) {
			t.Errorf("route %s template %q", key, in.RequestTemplates["$default"])
		}
	}
}

func TestLoadSynthesizedTemplate(t *testing.T) {
	secrets, err := SameSecret(stacktemplate.JSON, Options{}, "local")
	if err != nil {
		t.Fatal(err)
	}
	path, err := stacktemplate.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	apis, err := Load(path, Options{Region: "eu-west-1", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	a := apis[0]
	if len(a.Routes) != 3 || len(a.Stages) != 1 || a.Stages[0].Name != "prod" {
		t.Fatalf("routes=%d stages=%+v", len(a.Routes), a.Stages)
	}
	in := a.Routes["$connect"].Integration
	if in.ConnectionType != "VPC_LINK" || !strings.HasSuffix(in.URI, ":80/api/dotnetify/vm") || !strings.HasPrefix(in.URI, "http://<") {
		t.Fatalf("connect integration = %+v", in)
	}
	if !strings.Contains(a.Stages[0].AccessLogFormat, "$context.requestId") {
		t.Fatalf("access log format %q", a.Stages[0].AccessLogFormat)
	}
}

func TestShortFormIntrinsics(t *testing.T) {
	tpl := `
Parameters:
  Domain: {Type: String, Default: backend.example.com}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Mappings:
  Paths: {vm: {path: /api/vm}}
Resources:
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: !If [NotProd, dev, live]
      StageVariables: {host: !Select [1, !Split [".", !Ref Domain]]}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: !Sub "${AWS::StackName}-api", ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Integ:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !GetAtt Api.ApiId
      IntegrationType: HTTP_PROXY
      IntegrationUri: !Sub
        - "https://${Domain}${Path}?stage=${!literal}&v=${stageVariables.v}"
        - Path: !FindInMap [Paths, vm, path]
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Target: !Join ["/", [integrations, !Ref Integ]]}
`
	// "Stage" is both a resource and, in IsProd, a Ref: a Ref to a resource
	// is its logical id, so IsProd is false.
	apis, err := Parse([]byte(tpl), Options{StackName: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	a := apis[0]
	if a.Name != "demo-api" || a.Stages[0].Name != "dev" || a.Stages[0].Variables["host"] != "example" {
		t.Fatalf("api %+v stage %+v", a, a.Stages[0])
	}
	if got := a.Routes["$default"].Integration.URI; got != "https://backend.example.com/api/vm?stage=${literal}&v=${stageVariables.v}" {
		t.Fatalf("uri %q", got)
	}
}

func TestMalformedTemplates(t *testing.T) {
	api := "  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}\n"
	cases := map[string]string{
		"{not json":        "invalid JSON: invalid character 'n' looking for beginning of object key string",
		"Resources: [1, 2": "invalid YAML: yaml: line 1: did not find expected ',' or ']'",
		"- a list":         "a template must be a map with Resources",
		"Resources: {}":    "no Resources",
		"Resources:\n  B: {Type: AWS::S3::Bucket}":                                                                                                         "no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET",
		"Resources:\n  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}":                                                         "resource Api, property RouteSelectionExpression: required for a WEBSOCKET API",
		"Resources:\n" + api + "  R: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Ref Api, RouteKey: $default, Target: integrations/Nope}}":       `resource R, property Target: "integrations/Nope" does not name an integration of this template`,
		"Resources:\n" + api + "  R: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Ref Api, RouteKey: $default, Target: foo}}":                     `resource R, property Target: "foo" must be integrations/<IntegrationId>`,
		"Resources:\n" + api + "  I: {Type: AWS::ApiGatewayV2::Integration, Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: x}}": `resource I, property IntegrationUri: "x": of AWS services only Lambda functions (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations) run locally`,
		"Resources:\n" + api + "  I: {Type: AWS::ApiGatewayV2::Integration, Properties: {ApiId: !Ref Api, IntegrationType: MOCK, TimeoutInMillis: 40000}}": "resource I, property TimeoutInMillis: 40000 is outside 50–29000",
		"Resources:\n" + api + "  I: {Type: AWS::ApiGatewayV2::Integration, Properties: {ApiId: !Ref Missing, IntegrationType: MOCK}}":                     "resource I: Ref Missing: no such parameter or resource",
		"Resources:\n" + api + "  S: {Type: AWS::ApiGatewayV2::Stage, Properties: {ApiId: !Ref Api, StageName: 'a b'}}":                                    `resource S, property StageName: "a b" must be 1–128 characters of [A-Za-z0-9_-]`,
		"Resources:\n" + api + "  S: {Type: AWS::ApiGatewayV2::Stage, Properties: {ApiId: !Ref Api, StageName: p, AccessLogSettings: {Format: x}}}":        "resource S, property AccessLogSettings.Format: must contain $context.requestId",
		"Resources:\n" + api + "  R: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Ref Api, RouteKey: msg, AuthorizationType: AWS_IAM}}":           `resource R, property AuthorizationType: authorization is only allowed on the $connect route, not "msg"`,
		"Resources:\n" + api + "  R: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Sub '${Nope}', RouteKey: msg}}":                                 "resource R: Fn::Sub: Ref Nope: no such parameter or resource",
	}
	for src, want := range cases {
		_, err := Parse([]byte(src), Options{})
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%q)\n error %v\n want  %s", src, err, want)
		}
	}
}

func TestFunctionName(t *testing.T) {
	cases := map[string]string{
		"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:Chat/invocations":      "Chat",
		"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:Chat:live/invocations": "Chat",
		"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/<ChatFn12AB.Arn>/invocations":                                         "ChatFn12AB",
	}
	for uri, want := range cases {
		if got, ok := FunctionName(uri); !ok || got != want {
			t.Errorf("FunctionName(%q) = %q, %v; want %q", uri, got, ok, want)
		}
	}
	if _, ok := FunctionName("arn:aws:apigateway:us-east-1:dynamodb:action/PutItem"); ok {
		t.Error("a DynamoDB action is not a function")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Resources:\n  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}\n"))
	f.Add([]byte(`{"Resources":{"A":{"Type":"AWS::ApiGatewayV2::Api","Properties":{"Name":{"Fn::Sub":"${AWS::Region}-x"}}}}}`))
	f.Add([]byte("Conditions:\n  C: !Equals [a, !Ref AWS::Region]\nResources:\n  R: {Type: AWS::ApiGatewayV2::Route, Condition: C}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		apis, err := Parse(data, Options{})
		if err == nil && len(apis) == 0 {
			t.Fatal("no error and no API")
		}
	})
}
