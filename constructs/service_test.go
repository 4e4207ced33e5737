package constructs_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

func TestWebSocketApiPrivateBackend(t *testing.T) {
	stack := newStack(t)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), nil)
	nlb := elbv2.NewNetworkLoadBalancer(stack, jsii.String("Nlb"), &elbv2.NetworkLoadBalancerProps{Vpc: vpc})
	link := awsapigateway.NewVpcLink(stack, jsii.String("Link"), &awsapigateway.VpcLinkProps{Targets: &[]elbv2.INetworkLoadBalancer{nlb}})
	wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		PrivateBackend: &wsgate.PrivateBackend{VpcLink: link, LoadBalancer: nlb, Port: jsii.Number(8081)},
	})
	tpl := assertions.Template_FromStack(stack, nil)
	nlbID := *tpl.GetResourceId(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), nil)
	linkID := *tpl.GetResourceId(jsii.String("AWS::ApiGateway::VpcLink"), nil)
	for id, r := range resources(tpl, "AWS::ApiGatewayV2::Integration") {
		p := props(r)
		uri, _ := json.Marshal(p["IntegrationUri"])
		prefix := `{"Fn::Join":["",["http://",{"Fn::GetAtt":["` + nlbID + `","DNSName"]},":8081/api/dotnetify/vm`
		if p["ConnectionType"] != "VPC_LINK" || !strings.HasPrefix(string(uri), prefix) {
			t.Errorf("%s: %s %s", id, p["ConnectionType"], uri)
		}
		if ref, _ := p["ConnectionId"].(map[string]any); ref["Ref"] != linkID {
			t.Errorf("%s ConnectionId = %v, want Ref %s", id, p["ConnectionId"], linkID)
		}
		checkIdentityParameters(t, id, p["RequestParameters"])
	}
}

func TestRealtimeServiceWithClusterAndImage(t *testing.T) {
	stack := newStack(t)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), nil)
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: vpc})
	rt := wsgate.NewRealtimeService(stack, jsii.String("Realtime"), &wsgate.RealtimeServiceProps{
		Cluster: cluster,
		Image:   awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/wsgate-server:1.0.0"), nil),
	})
	if rt.Vpc != vpc || rt.Cluster != cluster {
		t.Errorf("the service does not use the given cluster and its VPC")
	}
	tpl := assertions.Template_FromStack(stack, nil)
	assert(t, "no VPC or cluster of its own", func() {
		tpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(1))
		tpl.ResourceCountIs(jsii.String("AWS::ECS::Cluster"), jsii.Number(1))
	})
	td := props(only(t, tpl, "AWS::ECS::TaskDefinition"))
	image := td["ContainerDefinitions"].([]any)[0].(map[string]any)["Image"]
	if image != "public.ecr.aws/example/wsgate-server:1.0.0" {
		t.Errorf("image = %v", image)
	}
}

func TestRealtimeServiceSourceDirAndSettings(t *testing.T) {
	stack := newStack(t)
	wsgate.NewRealtimeService(stack, jsii.String("Realtime"), &wsgate.RealtimeServiceProps{
		SourceDir:      jsii.String(".."),
		ContainerPort:  jsii.Number(9090),
		Cpu:            jsii.Number(512),
		MemoryLimitMiB: jsii.Number(2048),
		DesiredCount:   jsii.Number(0),
		Environment:    &map[string]*string{"WSGATE_PUSH_RATE": jsii.String("100")},
	})
	tpl := assertions.Template_FromStack(stack, nil)
	td := props(only(t, tpl, "AWS::ECS::TaskDefinition"))
	c := td["ContainerDefinitions"].([]any)[0].(map[string]any)
	image, _ := json.Marshal(c["Image"])
	if !strings.Contains(string(image), "container-assets") {
		t.Errorf("image = %s, want the asset built from SourceDir", image)
	}
	env, _ := json.Marshal(c["Environment"])
	for _, want := range []string{`{"Name":"WSGATE_LISTEN_ADDR","Value":":9090"}`, `{"Name":"WSGATE_PUSH_RATE","Value":"100"}`} {
		if !strings.Contains(string(env), want) {
			t.Errorf("environment %s lacks %s", env, want)
		}
	}
	if td["Cpu"] != "512" || td["Memory"] != "2048" {
		t.Errorf("task size = %v/%v", td["Cpu"], td["Memory"])
	}
	if svc := props(only(t, tpl, "AWS::ECS::Service")); svc["DesiredCount"] != 0.0 {
		t.Errorf("desired count = %v", svc["DesiredCount"])
	}
	tg := props(only(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup"))
	if tg["Port"] != 9090.0 {
		t.Errorf("target port = %v", tg["Port"])
	}
}

// TestRealtimeStackIsAScope checks the Go-native stack type can hold more
// constructs, as an app's own stack would.
func TestRealtimeStackIsAScope(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	s := wsgate.NewRealtimeStack(app, jsii.String("Chat"), &wsgate.RealtimeStackProps{
		Service: &wsgate.RealtimeServiceProps{Image: awsecs.ContainerImage_FromRegistry(jsii.String("example/wsgate:1"), nil)},
	})
	awscdk.NewCfnOutput(s, jsii.String("Extra"), &awscdk.CfnOutputProps{Value: s.CallbackUrl()})
	tpl := assertions.Template_FromStack(s, nil)
	outputs := *tpl.FindOutputs(jsii.String("*"), nil)
	var names []string
	for name := range outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "CallbackUrl Extra WebSocketUrl" {
		t.Fatalf("outputs = %v", names)
	}
	extra, _ := json.Marshal((*outputs["Extra"])["Value"])
	callback, _ := json.Marshal((*outputs["CallbackUrl"])["Value"])
	if string(extra) != string(callback) {
		t.Errorf("Extra = %s, want the callback URL %s", extra, callback)
	}
}

// secretReference is the X-Wsgate-Secret request parameter for the secret
// with logical id secretID: a quoted static value holding a CloudFormation
// dynamic reference, so the template never holds the value.
func secretReference(secretID string) string {
	return `{"Fn::Join":["",["'{{resolve:secretsmanager:",{"Ref":"` + secretID + `"},":SecretString:::}}'"]]}`
}

func TestRealtimeServiceIntegrationSecret(t *testing.T) {
	stack := newStack(t)
	rt := wsgate.NewRealtimeService(stack, jsii.String("Realtime"), &wsgate.RealtimeServiceProps{
		Image: awsecs.ContainerImage_FromRegistry(jsii.String("example/wsgate:1"), nil),
	})
	if rt.IntegrationSecret == nil {
		t.Fatal("IntegrationSecret is not exposed")
	}
	tpl := assertions.Template_FromStack(stack, nil)
	secretID := *tpl.GetResourceId(jsii.String("AWS::SecretsManager::Secret"), nil)
	secret := props(only(t, tpl, "AWS::SecretsManager::Secret"))
	if _, plain := secret["SecretString"]; plain {
		t.Errorf("the secret's value is in the template: %v", secret)
	}
	gen, _ := json.Marshal(secret["GenerateSecretString"])
	if string(gen) != `{"ExcludePunctuation":true,"PasswordLength":48}` {
		t.Errorf("GenerateSecretString = %s", gen)
	}
	for id, r := range resources(tpl, "AWS::ApiGatewayV2::Integration") {
		got, _ := json.Marshal(props(r)["RequestParameters"].(map[string]any)["integration.request.header.X-Wsgate-Secret"])
		if string(got) != secretReference(secretID) {
			t.Errorf("%s X-Wsgate-Secret = %s, want %s", id, got, secretReference(secretID))
		}
	}
	td := props(only(t, tpl, "AWS::ECS::TaskDefinition"))
	c := td["ContainerDefinitions"].([]any)[0].(map[string]any)
	secrets, _ := json.Marshal(c["Secrets"])
	if string(secrets) != `[{"Name":"WSGATE_INTEGRATION_SECRET","ValueFrom":{"Ref":"`+secretID+`"}}]` {
		t.Errorf("container secrets = %s", secrets)
	}
	env, _ := json.Marshal(c["Environment"])
	if strings.Contains(string(env), "WSGATE_INTEGRATION_SECRET") {
		t.Errorf("the integration secret is in the plain environment: %s", env)
	}
	execRole := td["ExecutionRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	taskRole := td["TaskRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	var readers []string
	for _, p := range resources(tpl, "AWS::IAM::Policy") {
		pp := props(p)
		doc, _ := json.Marshal(pp["PolicyDocument"])
		if !strings.Contains(string(doc), "secretsmanager:") {
			continue
		}
		roles, _ := json.Marshal(pp["Roles"])
		readers = append(readers, string(roles))
		for _, st := range pp["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			var actions []string
			if b, _ := json.Marshal(st["Action"]); json.Unmarshal(b, &actions) != nil || !strings.Contains(string(b), "secretsmanager:") {
				continue
			}
			sort.Strings(actions) // the order depends on feature flags
			if strings.Join(actions, " ") != "secretsmanager:DescribeSecret secretsmanager:GetSecretValue" {
				t.Errorf("secret actions = %v, want read only", actions)
			}
			if res, _ := json.Marshal(st["Resource"]); string(res) != `{"Ref":"`+secretID+`"}` {
				t.Errorf("secret read on %s, want the integration secret only", res)
			}
		}
	}
	if len(readers) != 1 || readers[0] != `[{"Ref":"`+execRole+`"}]` {
		t.Errorf("roles that read secrets = %v, want the execution role %s only (not the task role %s)", readers, execRole, taskRole)
	}
}
