package snapshot

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
	"github.com/wsgate/wsgate/contract"
)

// of returns the template's resources of one type by logical id.
func of(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// one returns the id and Properties of the only resource of a type.
func one(t *testing.T, tpl map[string]any, typ string) (string, map[string]any) {
	t.Helper()
	rs := of(tpl, typ)
	if len(rs) != 1 {
		t.Fatalf("want one %s, got %d", typ, len(rs))
	}
	for id, r := range rs {
		p, _ := r["Properties"].(map[string]any)
		return id, p
	}
	return "", nil
}

// same compares a template fragment with the JSON text expected.
func same(t *testing.T, what string, got any, want string) {
	t.Helper()
	g, _ := json.Marshal(got)
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation for %s: %v", what, err)
	}
	wb, _ := json.Marshal(w)
	if string(g) != string(wb) {
		t.Errorf("%s:\n got  %s\n want %s", what, g, wb)
	}
}

// check runs a cdk assertion (which panics on mismatch) as a test failure.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

func TestIntegrationsUseTheVpcLinkToTheNlb(t *testing.T) {
	_, tpl := wsgateStack(t)
	linkID, link := one(t, tpl, "AWS::ApiGateway::VpcLink")
	nlbID, _ := one(t, tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	same(t, "VPC link targets", link["TargetArns"], `[{"Ref":"`+nlbID+`"}]`)
	paths := map[string]string{
		wsgate.ConnectRequestTemplate:    "/api/dotnetify/vm",
		wsgate.DefaultRequestTemplate:    "/api/dotnetify/vm",
		wsgate.DisconnectRequestTemplate: "/api/dotnetify/vm/disconnect",
	}
	integrations := of(tpl, "AWS::ApiGatewayV2::Integration")
	if len(integrations) != 3 {
		t.Fatalf("want 3 integrations, got %d", len(integrations))
	}
	for id, r := range integrations {
		p := r["Properties"].(map[string]any)
		template := p["RequestTemplates"].(map[string]any)["$default"].(string)
		path, ok := paths[template]
		if !ok {
			t.Errorf("%s: unexpected request template %q", id, template)
			continue
		}
		delete(paths, template)
		if p["ConnectionType"] != "VPC_LINK" || p["IntegrationType"] != "HTTP" || p["IntegrationMethod"] != "POST" {
			t.Errorf("%s: %v", id, p)
		}
		same(t, id+" ConnectionId", p["ConnectionId"], `{"Ref":"`+linkID+`"}`)
		same(t, id+" IntegrationUri", p["IntegrationUri"], `{"Fn::Join":["",["http://",{"Fn::GetAtt":["`+nlbID+`","DNSName"]},":80`+path+`"]]}`)
		params, _ := p["RequestParameters"].(map[string]any)
		for header, source := range identityHeaders {
			if got := params["integration.request.header."+header]; got != source {
				t.Errorf("%s: request parameter header %s = %v, want %s", id, header, got, source)
			}
		}
	}
}

// identityHeaders are the headers every integration fills from $context,
// where a client cannot write, with their sources.
var identityHeaders = map[string]string{
	contract.HeaderConnectionID: "context.connectionId",
	contract.HeaderSourceIP:     "context.identity.sourceIp",
	contract.HeaderUserAgent:    "context.identity.userAgent",
}

func TestLoadBalancerIsInternalAndPrivate(t *testing.T) {
	_, tpl := wsgateStack(t)
	_, nlb := one(t, tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	if nlb["Scheme"] != "internal" || nlb["Type"] != "network" || nlb["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] != "off" {
		t.Errorf("load balancer = %v", nlb)
	}
	for _, s := range nlb["Subnets"].([]any) {
		ref := s.(map[string]any)["Ref"].(string)
		sub := tpl["Resources"].(map[string]any)[ref].(map[string]any)["Properties"].(map[string]any)
		if sub["MapPublicIpOnLaunch"] != false {
			t.Errorf("NLB subnet %s is public", ref)
		}
	}
	_, listener := one(t, tpl, "AWS::ElasticLoadBalancingV2::Listener")
	if listener["Port"] != 80.0 || listener["Protocol"] != "TCP" {
		t.Errorf("listener = %v", listener)
	}
	_, tg := one(t, tpl, "AWS::ElasticLoadBalancingV2::TargetGroup")
	for k, v := range map[string]any{"Port": 8080.0, "Protocol": "TCP", "TargetType": "ip", "HealthCheckProtocol": "HTTP", "HealthCheckPath": "/healthz"} {
		if tg[k] != v {
			t.Errorf("target group %s = %v, want %v", k, tg[k], v)
		}
	}
}

// TestTasksAdmitOnlyTheLoadBalancer checks the integration endpoint is
// closed to the VPC: the tasks admit the container port from the NLB's
// security group only, and the NLB's group admits nothing (VPC link traffic
// arrives over PrivateLink, which the group does not filter with
// enforcement off) and reaches only the tasks.
func TestTasksAdmitOnlyTheLoadBalancer(t *testing.T) {
	_, tpl := wsgateStack(t)
	groups := of(tpl, "AWS::EC2::SecurityGroup")
	if len(groups) != 2 {
		t.Fatalf("want 2 security groups (NLB, tasks), got %d", len(groups))
	}
	var nlbSG, taskSG string
	for id, g := range groups {
		switch desc := g["Properties"].(map[string]any)["GroupDescription"]; desc {
		case "wsgate internal NLB: reached through the VPC link only, reaches the tasks only":
			nlbSG = id
		case "wsgate server tasks: container port from the NLB's security group only":
			taskSG = id
		default:
			t.Errorf("unexpected security group %s: %v", id, desc)
		}
	}
	_, nlb := one(t, tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	same(t, "NLB security groups", nlb["SecurityGroups"], `[{"Fn::GetAtt":["`+nlbSG+`","GroupId"]}]`)
	ingress := ingressRules(tpl)
	if len(ingress[nlbSG]) != 0 {
		t.Errorf("the NLB's group admits %v; it needs no ingress", ingress[nlbSG])
	}
	same(t, "task ingress", ingress[taskSG], `[{"FromPort":8080,"IpProtocol":"tcp","SourceSecurityGroupId":{"Fn::GetAtt":["`+nlbSG+`","GroupId"]},"ToPort":8080}]`)
	egress := egressRules(tpl)
	same(t, "NLB egress", egress[nlbSG], `[{"DestinationSecurityGroupId":{"Fn::GetAtt":["`+taskSG+`","GroupId"]},"FromPort":8080,"IpProtocol":"tcp","ToPort":8080}]`)
	for id, rules := range ingress {
		for _, r := range rules {
			if _, ok := r["CidrIp"]; ok {
				t.Errorf("%s admits a CIDR range: %v", id, r)
			}
		}
	}
}

// ingressRules returns each security group's ingress rules, inline or as
// AWS::EC2::SecurityGroupIngress resources, without descriptions.
func ingressRules(tpl map[string]any) map[string][]map[string]any {
	return rules(tpl, "SecurityGroupIngress", "AWS::EC2::SecurityGroupIngress")
}

// egressRules is ingressRules for egress.
func egressRules(tpl map[string]any) map[string][]map[string]any {
	return rules(tpl, "SecurityGroupEgress", "AWS::EC2::SecurityGroupEgress")
}

func rules(tpl map[string]any, inline, typ string) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	add := func(sg string, r map[string]any) {
		c := map[string]any{}
		for k, v := range r {
			if k != "Description" && k != "GroupId" {
				c[k] = v
			}
		}
		out[sg] = append(out[sg], c)
	}
	for id, g := range of(tpl, "AWS::EC2::SecurityGroup") {
		list, _ := g["Properties"].(map[string]any)[inline].([]any)
		for _, r := range list {
			add(id, r.(map[string]any))
		}
	}
	for _, r := range of(tpl, typ) {
		p := r["Properties"].(map[string]any)
		sg := p["GroupId"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		add(sg, p)
	}
	return out
}

func TestIntegrationSecretComesFromSecretsManager(t *testing.T) {
	_, tpl := wsgateStack(t)
	secretID, secret := one(t, tpl, "AWS::SecretsManager::Secret")
	if _, plain := secret["SecretString"]; plain {
		t.Fatalf("the template holds the secret's value: %v", secret)
	}
	same(t, "generated secret", secret["GenerateSecretString"], `{"ExcludePunctuation":true,"PasswordLength":48}`)
	ref := `{"Fn::Join":["",["'{{resolve:secretsmanager:",{"Ref":"` + secretID + `"},":SecretString:::}}'"]]}`
	for id, r := range of(tpl, "AWS::ApiGatewayV2::Integration") {
		params := r["Properties"].(map[string]any)["RequestParameters"].(map[string]any)
		same(t, id+" X-Wsgate-Secret", params["integration.request.header."+contract.HeaderSecret], ref)
	}
	_, td := one(t, tpl, "AWS::ECS::TaskDefinition")
	c := td["ContainerDefinitions"].([]any)[0].(map[string]any)
	same(t, "container secrets", c["Secrets"], `[{"Name":"`+contract.EnvIntegrationSecret+`","ValueFrom":{"Ref":"`+secretID+`"}}]`)
	execRole := td["ExecutionRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	var readers []string
	for id, p := range of(tpl, "AWS::IAM::Policy") {
		props := p["Properties"].(map[string]any)
		for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if !strings.Contains(jsonOf(st["Action"]), "secretsmanager:") {
				continue
			}
			readers = append(readers, jsonOf(props["Roles"]))
			same(t, id+" secret actions", st["Action"], `["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue"]`)
			same(t, id+" secret resource", st["Resource"], `{"Ref":"`+secretID+`"}`)
		}
	}
	if len(readers) != 1 || readers[0] != `[{"Ref":"`+execRole+`"}]` {
		t.Errorf("roles reading secrets = %v, want the execution role %s only", readers, execRole)
	}
}

func tplOf(t *testing.T) assertions.Template {
	tpl, _ := wsgateStack(t)
	return tpl
}

func TestTaskIsArm64WithCallbackUrlAndRegion(t *testing.T) {
	_, tpl := wsgateStack(t)
	apiID, _ := one(t, tpl, "AWS::ApiGatewayV2::Api")
	_, td := one(t, tpl, "AWS::ECS::TaskDefinition")
	same(t, "runtime platform", td["RuntimePlatform"], `{"CpuArchitecture":"ARM64","OperatingSystemFamily":"LINUX"}`)
	if td["Cpu"] != "256" || td["Memory"] != "512" || td["NetworkMode"] != "awsvpc" {
		t.Errorf("task size = %v/%v %v", td["Cpu"], td["Memory"], td["NetworkMode"])
	}
	containers := td["ContainerDefinitions"].([]any)
	if len(containers) != 1 {
		t.Fatalf("want one container, got %d", len(containers))
	}
	c := containers[0].(map[string]any)
	same(t, "environment", c["Environment"], `[
		{"Name":"WSGATE_CALLBACK_URL","Value":{"Fn::Join":["",["https://",{"Ref":"`+apiID+`"},".execute-api.",{"Ref":"AWS::Region"},".",{"Ref":"AWS::URLSuffix"},"/prod"]]}},
		{"Name":"WSGATE_LISTEN_ADDR","Value":":8080"},
		{"Name":"WSGATE_REGION","Value":{"Ref":"AWS::Region"}},
		{"Name":"WSGATE_SERVICE_NAME","Value":"`+serviceDimension(t, tpl)+`"}]`)
	same(t, "port mappings", c["PortMappings"], `[{"ContainerPort":8080,"Protocol":"tcp"}]`)
	if c["ReadonlyRootFilesystem"] != true {
		t.Errorf("root filesystem is writable")
	}
	// The server image's user (constructs/Dockerfile), also for a custom image
	// that would run as root, and no Linux capabilities.
	if c["User"] != "65534:65534" {
		t.Errorf("container user = %v, want 65534:65534 (not root)", c["User"])
	}
	same(t, "linux parameters", c["LinuxParameters"], `{"Capabilities":{"Drop":["ALL"]}}`)
	image := regexp.MustCompile(`^\{"Fn::Sub":"\$\{AWS::AccountId\}\.dkr\.ecr\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}/cdk-hnb659fds-container-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}:[0-9a-f]{64}"\}$`)
	if got := jsonOf(c["Image"]); !image.MatchString(got) {
		t.Errorf("image = %s, want the server image asset", got)
	}
	lc := c["LogConfiguration"].(map[string]any)
	if lc["LogDriver"] != "awslogs" {
		t.Errorf("log driver = %v", lc["LogDriver"])
	}
	logGroupID := lc["Options"].(map[string]any)["awslogs-group"].(map[string]any)["Ref"].(string)
	if _, ok := of(tpl, "AWS::Logs::LogGroup")[logGroupID]; !ok {
		t.Errorf("container logs go to %s, not a log group of the stack", logGroupID)
	}
}

// jsonOf renders v as JSON text.
func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestServiceDeploymentSettings(t *testing.T) {
	_, tpl := wsgateStack(t)
	_, svc := one(t, tpl, "AWS::ECS::Service")
	same(t, "deployment configuration", svc["DeploymentConfiguration"], `{"DeploymentCircuitBreaker":{"Enable":true,"Rollback":true},"MaximumPercent":200,"MinimumHealthyPercent":100}`)
	if svc["DesiredCount"] != 1.0 || svc["LaunchType"] != "FARGATE" {
		t.Errorf("service = %v", svc)
	}
	awsvpc := svc["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
	if awsvpc["AssignPublicIp"] != "DISABLED" {
		t.Errorf("tasks get public IPs")
	}
	for _, s := range awsvpc["Subnets"].([]any) {
		ref := s.(map[string]any)["Ref"].(string)
		sub := tpl["Resources"].(map[string]any)[ref].(map[string]any)
		tags, _ := json.Marshal(sub["Properties"].(map[string]any)["Tags"])
		if !strings.Contains(string(tags), `"aws-cdk:subnet-type","Value":"Private"`) {
			t.Errorf("task subnet %s is not a private subnet with egress: %s", ref, tags)
		}
	}
	_, cluster := one(t, tpl, "AWS::ECS::Cluster")
	same(t, "container insights", cluster["ClusterSettings"], `[{"Name":"containerInsights","Value":"enabled"}]`)
	check(t, "a NAT gateway for egress to execute-api", func() {
		tplOf(t).ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
	})
}

func TestTaskRoleManagesOnlyThisStagesConnections(t *testing.T) {
	_, tpl := wsgateStack(t)
	apiID, _ := one(t, tpl, "AWS::ApiGatewayV2::Api")
	_, td := one(t, tpl, "AWS::ECS::TaskDefinition")
	taskRole := td["TaskRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	var found bool
	for id, p := range of(tpl, "AWS::IAM::Policy") {
		props := p["Properties"].(map[string]any)
		for _, st := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if st["Action"] != "execute-api:ManageConnections" {
				continue
			}
			found = true
			same(t, id+" roles", props["Roles"], `[{"Ref":"`+taskRole+`"}]`)
			same(t, id+" resource", st["Resource"], `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":execute-api:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":",{"Ref":"`+apiID+`"},"/prod/*/@connections/*"]]}`)
		}
	}
	if !found {
		t.Fatal("no execute-api:ManageConnections statement")
	}
	check(t, "no IAM users or access keys", func() {
		tplOf(t).ResourceCountIs(jsii.String("AWS::IAM::User"), jsii.Number(0))
		tplOf(t).ResourceCountIs(jsii.String("AWS::IAM::AccessKey"), jsii.Number(0))
	})
}

func TestEveryLogGroupHasRetention(t *testing.T) {
	_, tpl := wsgateStack(t)
	groups := of(tpl, "AWS::Logs::LogGroup")
	if len(groups) != 3 {
		t.Fatalf("want 3 log groups (access, server, flow logs), got %d", len(groups))
	}
	for id, g := range groups {
		if g["Properties"].(map[string]any)["RetentionInDays"] != 30.0 {
			t.Errorf("%s retention = %v, want 30 days", id, g["Properties"])
		}
	}
}

func TestStageLoggingAndAccountRole(t *testing.T) {
	_, tpl := wsgateStack(t)
	_, stage := one(t, tpl, "AWS::ApiGatewayV2::Stage")
	als := stage["AccessLogSettings"].(map[string]any)
	if als["Format"] != wsgate.AccessLogFormat {
		t.Errorf("access log format = %v", als["Format"])
	}
	same(t, "stage route settings", stage["DefaultRouteSettings"], `{"DataTraceEnabled":false,"DetailedMetricsEnabled":true,"LoggingLevel":"ERROR","ThrottlingBurstLimit":500,"ThrottlingRateLimit":1000}`)
	if stage["StageName"] != "prod" || stage["AutoDeploy"] != true {
		t.Errorf("stage = %v", stage)
	}
	_, account := one(t, tpl, "AWS::ApiGateway::Account")
	roleID := account["CloudWatchRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	if _, ok := of(tpl, "AWS::IAM::Role")[roleID]; !ok {
		t.Errorf("account role %s is not in the stack", roleID)
	}
}

func TestOutputs(t *testing.T) {
	_, tpl := wsgateStack(t)
	apiID, _ := one(t, tpl, "AWS::ApiGatewayV2::Api")
	outputs := tpl["Outputs"].(map[string]any)
	url := func(scheme string) string {
		return `{"Fn::Join":["",["` + scheme + `://",{"Ref":"` + apiID + `"},".execute-api.",{"Ref":"AWS::Region"},".",{"Ref":"AWS::URLSuffix"},"/prod"]]}`
	}
	same(t, "WebSocketUrl", outputs["WebSocketUrl"].(map[string]any)["Value"], url("wss"))
	same(t, "CallbackUrl", outputs["CallbackUrl"].(map[string]any)["Value"], url("https"))
	if len(outputs) != 2 {
		t.Errorf("want exactly the two URL outputs, got %v", outputs)
	}
}

// serviceDimension is the ServiceName dimension of the server's
// PushesFailed alarm, which the task's WSGATE_SERVICE_NAME must match for
// the server's metrics to reach the alarms and the dashboard.
func serviceDimension(t *testing.T, tpl map[string]any) string {
	t.Helper()
	for _, r := range of(tpl, "AWS::CloudWatch::Alarm") {
		p := r["Properties"].(map[string]any)
		if p["Namespace"] != contract.MetricNamespace || p["MetricName"] != contract.MetricPushesFailed {
			continue
		}
		for _, d := range p["Dimensions"].([]any) {
			if d := d.(map[string]any); d["Name"] == contract.DimensionServiceName {
				return d["Value"].(string)
			}
		}
	}
	t.Fatal("no PushesFailed alarm with a ServiceName dimension")
	return ""
}

func TestStackHasDashboardAndAlarms(t *testing.T) {
	_, tpl := wsgateStack(t)
	one(t, tpl, "AWS::CloudWatch::Dashboard")
	var got []string
	for _, r := range of(tpl, "AWS::CloudWatch::Alarm") {
		p := r["Properties"].(map[string]any)
		got = append(got, fmt.Sprintf("%v/%v %v %v", p["Namespace"], p["MetricName"], p["ComparisonOperator"], p["Threshold"]))
	}
	sort.Strings(got)
	want := []string{
		"AWS/ApiGateway/ExecutionError GreaterThanOrEqualToThreshold 5",
		"AWS/ApiGateway/IntegrationError GreaterThanOrEqualToThreshold 5",
		"AWS/NetworkELB/HealthyHostCount LessThanThreshold 1",
		"Wsgate/PushesDropped GreaterThanOrEqualToThreshold 1",
		"Wsgate/PushesFailed GreaterThanOrEqualToThreshold 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alarms:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
