package constructs_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

// Both kinds of API satisfy the interface.
var _ wsgate.IWebSocketApi = (*wsgate.WebSocketApi)(nil)

// TestServerInAnotherStack puts the API in one stack and, in another, a
// server's role granted to push and the callback URL it is given: the
// second stack reaches the first through exports.
func TestServerInAnotherStack(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	env := &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")}
	apiStack := awscdk.NewStack(app, jsii.String("ApiStack"), &awscdk.StackProps{Env: env})
	api := wsgate.NewWebSocketApi(apiStack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend)})

	serverStack := awscdk.NewStack(app, jsii.String("ServerStack"), &awscdk.StackProps{Env: env})
	imported := wsgate.ImportWebSocketApi(serverStack, jsii.String("Api"), &wsgate.WebSocketApiAttributes{
		ApiId: api.ApiId(), StageName: api.StageName(),
	})
	role := awsiam.NewRole(serverStack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
	})
	imported.GrantManageConnections(role)
	awscdk.NewCfnOutput(serverStack, jsii.String("Callback"), &awscdk.CfnOutputProps{Value: imported.CallbackUrl()})
	awscdk.NewCfnOutput(serverStack, jsii.String("Url"), &awscdk.CfnOutputProps{Value: imported.WebSocketUrl()})

	apiTpl := assertions.Template_FromStack(apiStack, nil).ToJSON()
	exports, _ := json.Marshal((*apiTpl)["Outputs"])
	if !strings.Contains(string(exports), `"Export"`) {
		t.Fatalf("the API stack exports nothing: %s", exports)
	}
	tpl := assertions.Template_FromStack(serverStack, nil)
	policy := props(only(t, tpl, "AWS::IAM::Policy"))
	doc, _ := json.Marshal(policy["PolicyDocument"])
	apiID := *apiStack.GetLogicalId(api.Api.Node().DefaultChild().(awscdk.CfnElement))
	importValue := `{"Fn::ImportValue":"ApiStack:ExportsOutputRef` + apiID + `[0-9A-F]{8}"}`
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(`{"Statement":[{"Action":"execute-api:ManageConnections","Effect":"Allow","Resource":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":execute-api:eu-west-1:123456789012:",`) +
		importValue + regexp.QuoteMeta(`,"/prod/*/@connections/*"]]}}],"Version":"2012-10-17"}`) + `$`)
	if !want.Match(doc) {
		t.Errorf("policy:\n got  %s\n want %s", doc, want)
	}
	outputs := (*tpl.ToJSON())["Outputs"].(map[string]any)
	cb, _ := json.Marshal(outputs["Callback"].(map[string]any)["Value"])
	if want := regexp.MustCompile(`^` + regexp.QuoteMeta(`{"Fn::Join":["",["https://",`) + importValue + regexp.QuoteMeta(`,".execute-api.eu-west-1.",{"Ref":"AWS::URLSuffix"},"/prod"]]}`) + `$`); !want.Match(cb) {
		t.Errorf("callback URL = %s", cb)
	}
	u, _ := json.Marshal(outputs["Url"].(map[string]any)["Value"])
	if !strings.HasPrefix(string(u), `{"Fn::Join":["",["wss://",`) {
		t.Errorf("WebSocket URL = %s", u)
	}
	// The same grant through the API itself, passed as the interface.
	var i wsgate.IWebSocketApi = api
	if *i.StageName() != "prod" {
		t.Errorf("StageName() = %q", *i.StageName())
	}
}

func TestImportWithCustomDomainUrl(t *testing.T) {
	stack := newStack(t)
	imported := wsgate.ImportWebSocketApi(stack, jsii.String("Api"), &wsgate.WebSocketApiAttributes{
		ApiId: jsii.String("a1b2c3d4e5"), StageName: jsii.String("live"), WebSocketUrl: jsii.String("wss://realtime.example.com"),
	})
	if *imported.WebSocketUrl() != "wss://realtime.example.com" || *imported.ApiId() != "a1b2c3d4e5" {
		t.Errorf("WebSocketUrl() = %q", *imported.WebSocketUrl())
	}
	m := imported.Metric(jsii.String("ConnectCount"), nil)
	dims, _ := json.Marshal(stack.Resolve(m.Dimensions()))
	if *m.Namespace() != "AWS/ApiGateway" || string(dims) != `{"ApiId":"a1b2c3d4e5","Stage":"live"}` {
		t.Errorf("metric %s %s", *m.Namespace(), dims)
	}
}

func TestImportValidation(t *testing.T) {
	stack := newStack(t)
	got := propsError(t, func() {
		wsgate.ImportWebSocketApi(stack, jsii.String("Api"), &wsgate.WebSocketApiAttributes{StageName: jsii.String("pr od")})
	})
	want := "wsgate: invalid WebSocketApi import props at Test/Api (2 problems):\n" +
		"  - ApiId: got nothing; allowed: the id of an existing WebSocket API; fix: set ApiId, for example to the other stack's WebSocketApi.ApiId()\n" +
		`  - StageName: got "pr od"; allowed: 1 to 128 letters, digits, '-' or '_'; fix: give the stage's name as API Gateway shows it`
	if got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
}
