package constructs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/wsgate/wsgate/contract"
)

// Defaults of the Fargate service props.
const (
	// DefaultContainerPort is the server's listen port.
	DefaultContainerPort = 8080.0
	// DefaultListenerPort is the NLB port the VPC link calls.
	DefaultListenerPort = 80.0
	// DefaultHealthCheckPath is the server's health endpoint.
	DefaultHealthCheckPath = contract.PathHealth
	// DefaultDesiredCount is the number of tasks (and, for now, the maximum).
	DefaultDesiredCount = 1.0
	// DefaultCpu is the task's CPU units.
	DefaultCpu = 256.0
	// DefaultMemoryLimitMiB is the task's memory.
	DefaultMemoryLimitMiB = 512.0
	// DefaultMinHealthyPercent keeps the old task until the new one is healthy.
	DefaultMinHealthyPercent = 100.0
	// DefaultMaxHealthyPercent lets the new task start next to the old one.
	DefaultMaxHealthyPercent = 200.0
)

// ServerUser is the user:group the server container runs as: nobody, as
// in server/Dockerfile's final image.
const ServerUser = "65534:65534"

// Environment variables the construct sets on the server container; see
// docs/architecture.md.
const (
	// EnvCallbackUrl carries the stage's connection URL.
	EnvCallbackUrl = contract.EnvCallbackURL
	// EnvRegion carries the stack's region for SigV4.
	EnvRegion = contract.EnvRegion
	// EnvListenAddr carries ":" and the container port.
	EnvListenAddr = contract.EnvListenAddr
)

// RealtimeServiceProps configures a RealtimeService. Every field is optional.
type RealtimeServiceProps struct {
	ApiOptions
	// Vpc hosts the load balancer and the tasks (in its private subnets with
	// egress, which the server needs to reach the execute-api endpoint).
	// Give Vpc or Cluster, not both.
	// Default: the Cluster's VPC, else a new VPC with two availability
	// zones, one NAT gateway and flow logs.
	Vpc awsec2.IVpc
	// Cluster runs the service. Give Vpc or Cluster, not both.
	// Default: a new cluster with Container Insights in Vpc.
	Cluster awsecs.ICluster
	// Image is the server image, for example
	// awsecs.ContainerImage_FromRegistry(...). Give Image, or
	// ServerPackage and SourceDir, not both. It must be an ARM64
	// (linux/arm64) image.
	// Default: built at deploy time from ServerPackage in SourceDir.
	Image awsecs.ContainerImage
	// ServerPackage is the main package the server image is built from,
	// relative to SourceDir and starting with "./", for example
	// "./cmd/counter": a package main whose main registers your view models
	// and calls server.Main. The library supplies the Dockerfile: synth
	// stages a copy of the module (without .git, cdk.out, node_modules,
	// testdata, .cache, the root's bin, tests, nested modules and go.work),
	// the directories its replace directives point at, and the Dockerfile
	// into the cloud assembly, and `cdk deploy` builds it there.
	// Default: "./server/cmd/wsgate-server" when SourceDir is given (a
	// checkout of this module); when neither ServerPackage, SourceDir nor
	// Image is given, this library's demo server (its example view models),
	// built from the library's own source, with a synth warning that names
	// the fix: for your own stack, always set ServerPackage or Image.
	ServerPackage *string
	// SourceDir is the root of the Go module that holds ServerPackage (the
	// directory with its go.mod). Relative paths resolve against the
	// working directory.
	// Default: the module holding the working directory (the nearest go.mod
	// at or above it) when ServerPackage is given, else this library's own
	// source (see LibrarySourceDir).
	SourceDir *string
	// ContainerPort is the port the server listens on.
	// Default: 8080.
	ContainerPort *float64
	// ListenerPort is the load balancer's port the VPC link calls.
	// Default: 80.
	ListenerPort *float64
	// HealthCheckPath is the target group's HTTP health check path.
	// Default: "/healthz".
	HealthCheckPath *string
	// DesiredCount is the number of tasks: 0 or 1. Sessions live in the
	// server's memory, so a second task would not know the view models of
	// connections served by the first.
	// Default: 1.
	DesiredCount *float64
	// Cpu is the task's CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384.
	// Default: 256.
	Cpu *float64
	// MemoryLimitMiB is the task's memory, within Fargate's range for Cpu.
	// Default: 512.
	MemoryLimitMiB *float64
	// MinHealthyPercent is the lower bound of running tasks during a
	// deployment, 0 to 100.
	// Default: 100 (the new task starts before the old one stops).
	MinHealthyPercent *float64
	// MaxHealthyPercent is the upper bound of running tasks during a
	// deployment, at least 100 and more than MinHealthyPercent.
	// Default: 200.
	MaxHealthyPercent *float64
	// LogRetention is how long the server's logs (and the flow logs of a
	// VPC this construct creates) are kept.
	// Default: awslogs.RetentionDays_ONE_MONTH.
	LogRetention awslogs.RetentionDays
	// Environment adds server settings such as WSGATE_PUSH_RATE or
	// WSGATE_LOG_LEVEL (non-secret values only; they are visible in the
	// task definition). WSGATE_CALLBACK_URL, WSGATE_REGION,
	// WSGATE_LISTEN_ADDR, WSGATE_SERVICE_NAME and WSGATE_INTEGRATION_SECRET
	// are set by the construct and may not be given (nor changed later
	// with Container.AddEnvironment: synth fails).
	// Default: none.
	Environment *map[string]*string
	// Monitoring configures the dashboard and alarms.
	// Default: a dashboard and every alarm, without notifications.
	Monitoring *MonitoringOptions
}

// RealtimeService is a WebSocket API whose routes reach the wsgate server on
// ECS Fargate privately: API Gateway → VPC link (v1) → internal Network
// Load Balancer → ARM64 Fargate task. The task role may manage this stage's
// connections only.
type RealtimeService struct {
	constructs.Construct
	// Vpc is the given or created VPC (child id "Vpc" when created).
	Vpc awsec2.IVpc
	// Cluster is the given or created cluster (child id "Cluster" when created).
	Cluster awsecs.ICluster
	// LoadBalancer is the internal NLB (child id "LoadBalancer").
	LoadBalancer elbv2.NetworkLoadBalancer
	// LoadBalancerSecurityGroup guards the NLB (child id
	// "LoadBalancerSecurityGroup"): no ingress, egress to the tasks only.
	LoadBalancerSecurityGroup awsec2.SecurityGroup
	// Listener is the NLB's TCP listener (child id "LoadBalancer/Listener").
	Listener elbv2.NetworkListener
	// TargetGroup holds the tasks, health-checked over HTTP.
	TargetGroup elbv2.NetworkTargetGroup
	// VpcLink connects the API to the NLB (child id "VpcLink").
	VpcLink awsapigateway.VpcLink
	// IntegrationSecret is the generated secret the integrations send in
	// X-Wsgate-Secret and the server requires (child id
	// "IntegrationSecret"); the task gets it as WSGATE_INTEGRATION_SECRET.
	IntegrationSecret awssecretsmanager.Secret
	// Api is the WebSocket API and its stage (child id "Api").
	Api *WebSocketApi
	// LogGroup receives the server's logs (child id "ServerLogs").
	LogGroup awslogs.LogGroup
	// Image is the server image in use.
	Image awsecs.ContainerImage
	// TaskDefinition is the ARM64 task definition (child id "TaskDefinition").
	TaskDefinition awsecs.FargateTaskDefinition
	// Container is the server container (child id "Server").
	Container awsecs.ContainerDefinition
	// SecurityGroup guards the tasks (child id "ServiceSecurityGroup"):
	// the container port from LoadBalancerSecurityGroup only.
	SecurityGroup awsec2.SecurityGroup
	// Service is the Fargate service (child id "Service").
	Service awsecs.FargateService
	// MetricsServiceName is the value of the ServiceName dimension of the
	// server's metrics, given to the server as WSGATE_SERVICE_NAME:
	// unique in the account, derived from the construct path.
	MetricsServiceName *string
	// Dashboard shows the whole path: connections, messages, errors,
	// latency, pushes, tasks, CPU and memory (child id "Dashboard"); nil
	// with Monitoring.Dashboard false.
	Dashboard awscloudwatch.Dashboard
	// The alarms (child ids "IntegrationErrorsAlarm" and so on), nil with
	// Monitoring.Alarms false; constructs/README.md says what each means.
	// UnhealthyTasksAlarm is also nil with DesiredCount 0.
	IntegrationErrorsAlarm, ExecutionErrorsAlarm, PushesFailedAlarm, PushesDroppedAlarm, UnhealthyTasksAlarm awscloudwatch.Alarm
	// constructEnv holds the variables the construct set, which
	// wiringCheck keeps from being changed after construction.
	constructEnv map[string]*string
}

// NewRealtimeService creates a RealtimeService. It panics with a
// *PropsError when props are invalid.
func NewRealtimeService(scope constructs.Construct, id *string, props *RealtimeServiceProps) *RealtimeService {
	if props == nil {
		props = &RealtimeServiceProps{}
	}
	var p problems
	p.checkApiOptions(&props.ApiOptions)
	p.checkService(props)
	p.checkMonitoring(props.Monitoring)
	source := p.checkImage(props)
	p.check("RealtimeService", scope, id)

	this := &RealtimeService{}
	constructs.NewConstruct_Override(this, scope, id)
	this.build(props, source)
	return this
}

// WebSocketUrl is the URL clients connect to (wss://…/{stage}).
func (r *RealtimeService) WebSocketUrl() *string { return r.Api.WebSocketUrl() }

// CallbackUrl is the stage's connection URL the server pushes to.
func (r *RealtimeService) CallbackUrl() *string { return r.Api.CallbackUrl() }

func (r *RealtimeService) build(props *RealtimeServiceProps, source serverSource) {
	containerPort := orNumber(props.ContainerPort, DefaultContainerPort)
	listenerPort := orNumber(props.ListenerPort, DefaultListenerPort)
	r.buildNetwork(props)
	r.buildLoadBalancer(listenerPort)
	r.buildSecret()
	r.Api = NewWebSocketApi(r, jsii.String("Api"), &WebSocketApiProps{
		ApiOptions:        props.ApiOptions,
		PrivateBackend:    &PrivateBackend{VpcLink: r.VpcLink, LoadBalancer: r.LoadBalancer, Port: listenerPort},
		IntegrationSecret: r.IntegrationSecret,
	})
	r.Image = props.Image
	if r.Image == nil {
		r.Image = r.buildImage(source)
	}
	r.buildTask(props, containerPort)
	r.buildService(props, containerPort)
	r.Api.GrantManageConnections(r.TaskDefinition.TaskRole())
	r.suppressNagFindings()
	r.addMonitoring(props)
	r.Node().AddValidation(&wiringCheck{r: r})
}

// buildNetwork uses or creates the VPC and the cluster.
func (r *RealtimeService) buildNetwork(props *RealtimeServiceProps) {
	switch {
	case props.Cluster != nil:
		r.Cluster, r.Vpc = props.Cluster, props.Cluster.Vpc()
		return
	case props.Vpc != nil:
		r.Vpc = props.Vpc
	default:
		flowLogs := awslogs.NewLogGroup(r, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{Retention: logRetention(props)})
		r.Vpc = awsec2.NewVpc(r, jsii.String("Vpc"), &awsec2.VpcProps{
			MaxAzs:      jsii.Number(2),
			NatGateways: jsii.Number(1),
			SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
				{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
				{Name: jsii.String("Private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(22)},
			},
			FlowLogs: &map[string]*awsec2.FlowLogOptions{"FlowLogs": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
			}},
		})
	}
	r.Cluster = awsecs.NewCluster(r, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 r.Vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
}

// buildLoadBalancer creates the internal NLB and the VPC link to it.
//
// The NLB's security group has no ingress rule, so nothing in the VPC
// (or in a shared VPC the user passes in) can open a connection to the
// listener. The VPC link still can: its traffic arrives over PrivateLink,
// and with EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic off the
// group's inbound rules are not evaluated for PrivateLink traffic. With it
// on they would be, against the private address of the PrivateLink client
// (docs.aws.amazon.com/elasticloadbalancing/latest/network/
// load-balancer-security-groups.html, "Considerations"), which for a VPC
// link is an API Gateway address AWS does not publish: the only rule that
// would admit it is a wide CIDR range that also admits the VPC. Off plus
// no ingress admits exactly the VPC link; the endpoint service behind the
// VPC link accepts API Gateway only. Health checks are subject to the
// group's outbound rules, not its inbound ones; buildService adds the one
// outbound rule, to the tasks' group on the container port.
func (r *RealtimeService) buildLoadBalancer(listenerPort *float64) {
	private := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	r.LoadBalancerSecurityGroup = awsec2.NewSecurityGroup(r, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              r.Vpc,
		Description:      jsii.String("wsgate internal NLB: reached through the VPC link only, reaches the tasks only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	r.LoadBalancer = elbv2.NewNetworkLoadBalancer(r, jsii.String("LoadBalancer"), &elbv2.NetworkLoadBalancerProps{
		Vpc:            r.Vpc,
		InternetFacing: jsii.Bool(false),
		VpcSubnets:     private,
		SecurityGroups: &[]awsec2.ISecurityGroup{r.LoadBalancerSecurityGroup},
		EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: jsii.Bool(false),
		CrossZoneEnabled: jsii.Bool(true),
	})
	r.Listener = r.LoadBalancer.AddListener(jsii.String("Listener"), &elbv2.BaseNetworkListenerProps{
		Port:     listenerPort,
		Protocol: elbv2.Protocol_TCP,
	})
	r.VpcLink = awsapigateway.NewVpcLink(r, jsii.String("VpcLink"), &awsapigateway.VpcLinkProps{
		Description: jsii.String("wsgate WebSocket API to the internal NLB"),
		Targets:     &[]elbv2.INetworkLoadBalancer{r.LoadBalancer},
	})
}

// buildSecret generates the integration secret. Letters and digits only:
// the value travels inside a quoted static request parameter and an HTTP
// header.
func (r *RealtimeService) buildSecret() {
	r.IntegrationSecret = awssecretsmanager.NewSecret(r, jsii.String("IntegrationSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("wsgate: the X-Wsgate-Secret header API Gateway sends to the server, which refuses requests without it"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation: jsii.Bool(true),
			PasswordLength:     jsii.Number(48),
		},
	})
}

// logRetention is the retention of the server's and the VPC's logs.
func logRetention(props *RealtimeServiceProps) awslogs.RetentionDays {
	if props.LogRetention == "" {
		return awslogs.RetentionDays_ONE_MONTH
	}
	return props.LogRetention
}

// buildTask creates the ARM64 task definition and the server container.
func (r *RealtimeService) buildTask(props *RealtimeServiceProps, containerPort *float64) {
	r.LogGroup = awslogs.NewLogGroup(r, jsii.String("ServerLogs"), &awslogs.LogGroupProps{Retention: logRetention(props)})
	r.TaskDefinition = awsecs.NewFargateTaskDefinition(r, jsii.String("TaskDefinition"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            orNumber(props.Cpu, DefaultCpu),
		MemoryLimitMiB: orNumber(props.MemoryLimitMiB, DefaultMemoryLimitMiB),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	r.MetricsServiceName = awscdk.Names_UniqueResourceName(r, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(255), Separator: jsii.String("-")})
	r.constructEnv = map[string]*string{
		EnvCallbackUrl:          r.CallbackUrl(),
		EnvRegion:               awscdk.Aws_REGION(),
		EnvListenAddr:           jsii.String(":" + portString(containerPort)),
		contract.EnvServiceName: r.MetricsServiceName,
	}
	env := map[string]*string{}
	for k, v := range r.constructEnv {
		env[k] = v
	}
	if props.Environment != nil {
		for k, v := range *props.Environment {
			env[k] = v
		}
	}
	// No Linux capabilities: the server only listens on an unprivileged
	// port and makes outbound calls.
	linux := awsecs.NewLinuxParameters(r, jsii.String("LinuxParameters"), nil)
	linux.DropCapabilities(awsecs.Capability_ALL)
	r.Container = r.TaskDefinition.AddContainer(jsii.String("Server"), &awsecs.ContainerDefinitionOptions{
		Image:                  r.Image,
		Essential:              jsii.Bool(true),
		ReadonlyRootFilesystem: jsii.Bool(true),
		// The user of server/Dockerfile's image; set here too so that a
		// custom Image whose Dockerfile names no user does not run as root.
		User:            jsii.String(ServerUser),
		LinuxParameters: linux,
		Environment:     &env,
		// The execution role reads the secret when the task starts (CDK
		// grants it read on this secret only); the task role never can.
		Secrets: &map[string]awsecs.Secret{
			contract.EnvIntegrationSecret: awsecs.Secret_FromSecretsManager(r.IntegrationSecret, nil),
		},
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: containerPort, Protocol: awsecs.Protocol_TCP}},
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     r.LogGroup,
			StreamPrefix: jsii.String("wsgate"),
		}),
	})
}

// buildService creates the Fargate service in private subnets and
// registers it with the NLB, health-checked over HTTP.
func (r *RealtimeService) buildService(props *RealtimeServiceProps, containerPort *float64) {
	// Outbound stays open: the server calls the execute-api endpoint
	// through the NAT gateway, and the task pulls its image, writes logs and
	// reads its secret.
	r.SecurityGroup = awsec2.NewSecurityGroup(r, jsii.String("ServiceSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              r.Vpc,
		Description:      jsii.String("wsgate server tasks: container port from the NLB's security group only"),
		AllowAllOutbound: jsii.Bool(true),
	})
	// The only way in: the NLB's group (forwarded requests and health
	// checks) on the container port. A CIDR rule would admit anything in
	// the VPC, which could then post integration bodies for any connection.
	r.SecurityGroup.Connections().AllowFrom(r.LoadBalancerSecurityGroup, awsec2.Port_Tcp(containerPort),
		jsii.String("integration requests and health checks from the NLB"))
	r.Service = awsecs.NewFargateService(r, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:                r.Cluster,
		TaskDefinition:         r.TaskDefinition,
		DesiredCount:           orNumber(props.DesiredCount, DefaultDesiredCount),
		MinHealthyPercent:      orNumber(props.MinHealthyPercent, DefaultMinHealthyPercent),
		MaxHealthyPercent:      orNumber(props.MaxHealthyPercent, DefaultMaxHealthyPercent),
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		AssignPublicIp:         jsii.Bool(false),
		VpcSubnets:             &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		SecurityGroups:         &[]awsec2.ISecurityGroup{r.SecurityGroup},
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(30)),
	})
	r.TargetGroup = r.Listener.AddTargets(jsii.String("Targets"), &elbv2.AddNetworkTargetsProps{
		Port:     containerPort,
		Protocol: elbv2.Protocol_TCP,
		Targets: &[]elbv2.INetworkLoadBalancerTarget{r.Service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
			ContainerName: jsii.String("Server"),
			ContainerPort: containerPort,
		})},
		HealthCheck: &elbv2.HealthCheck{
			Protocol:              elbv2.Protocol_HTTP,
			Path:                  orString(props.HealthCheckPath, DefaultHealthCheckPath),
			HealthyThresholdCount: jsii.Number(2),
			Interval:              awscdk.Duration_Seconds(jsii.Number(10)),
		},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(30)),
	})
}

// suppressNagFindings documents the cdk-nag findings that are inherent to
// this design.
func (r *RealtimeService) suppressNagFindings() {
	cfn := func(c constructs.IConstruct) awscdk.CfnResource { return c.Node().DefaultChild().(awscdk.CfnResource) }
	suppressNag(cfn(r.TaskDefinition), nagSuppression{"AwsSolutions-ECS2",
		"the environment holds only non-secret settings (callback URL, region, listen address, the user's Environment); the integration secret comes from Secrets Manager as an ECS secret", nil})
	suppressNag(cfn(r.LoadBalancer), nagSuppression{"AwsSolutions-ELB2",
		"NLB access logs exist only for TLS listeners; this internal TCP listener admits only the VPC link (its security group has no ingress rule and does not filter PrivateLink traffic), and the API stage logs every request", nil})
	suppressNag(cfn(r.IntegrationSecret), nagSuppression{"AwsSolutions-SMG4",
		"CloudFormation resolves the dynamic reference in the integrations only when a stack update changes them, so after an automatic rotation API Gateway would keep sending the old value and the tasks would refuse every request; rotate by deploying a new value (constructs/README.md)", nil})
	if policy := r.TaskDefinition.ExecutionRole().Node().TryFindChild(jsii.String("DefaultPolicy")); policy != nil {
		suppressNag(cfn(policy), nagSuppression{"AwsSolutions-IAM5",
			"ecr:GetAuthorizationToken does not support resource-level permissions; the image pull actions are scoped to the repository",
			[]string{"Resource::*"}})
	}
	if policy := r.TaskDefinition.TaskRole().Node().TryFindChild(jsii.String("DefaultPolicy")); policy != nil {
		suppressNag(cfn(policy), nagSuppression{"AwsSolutions-IAM5",
			"connection ids are created at runtime, so @connections needs a wildcard; it is scoped to this API's stage (docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-iam.html)",
			[]string{`/^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<.*>\/.*\/\*\/@connections\/\*$/g`}})
	}
}

// fargateMemory lists the memory sizes (MiB) Fargate accepts per CPU size.
var fargateMemory = map[float64]func(mem float64) bool{
	256:   func(m float64) bool { return m == 512 || m == 1024 || m == 2048 },
	512:   func(m float64) bool { return m >= 1024 && m <= 4096 && int(m)%1024 == 0 },
	1024:  func(m float64) bool { return m >= 2048 && m <= 8192 && int(m)%1024 == 0 },
	2048:  func(m float64) bool { return m >= 4096 && m <= 16384 && int(m)%1024 == 0 },
	4096:  func(m float64) bool { return m >= 8192 && m <= 30720 && int(m)%1024 == 0 },
	8192:  func(m float64) bool { return m >= 16384 && m <= 61440 && int(m)%4096 == 0 },
	16384: func(m float64) bool { return m >= 32768 && m <= 122880 && int(m)%8192 == 0 },
}

// reservedEnv are the variables the construct sets itself.
var reservedEnv = []string{EnvCallbackUrl, contract.EnvIntegrationSecret, EnvListenAddr, EnvRegion, contract.EnvServiceName}

// checkService validates the Fargate props.
func (p *problems) checkService(props *RealtimeServiceProps) {
	if props.Vpc != nil && props.Cluster != nil {
		p.addf("Vpc and Cluster: got both; allowed: one of them (the service runs in the Cluster's VPC); fix: remove Vpc, or remove Cluster to get a new cluster in Vpc")
	}
	if props.ContainerPort != nil {
		p.checkPort("ContainerPort", props.ContainerPort, "8080")
	}
	if props.ListenerPort != nil {
		p.checkPort("ListenerPort", props.ListenerPort, "80")
	}
	if h := props.HealthCheckPath; h != nil && !unresolvedString(h) && !strings.HasPrefix(*h, "/") {
		p.add("HealthCheckPath", quote(h), `an absolute path starting with "/"`, `use "/healthz" (the server's health endpoint) or leave it unset`)
	}
	if d := props.DesiredCount; d != nil && !unresolvedNumber(d) && (*d != 0 && *d != 1) {
		p.add("DesiredCount", num(d), "0 or 1", "leave DesiredCount unset (1): the server keeps view-model sessions in its own memory, so a second task would not know the connections of the first; running several tasks needs a shared session store")
	}
	p.checkTaskSize(props)
	p.checkHealthyPercent(props)
	if props.Environment != nil {
		var bad []string
		for _, k := range reservedEnv {
			if _, ok := (*props.Environment)[k]; ok {
				bad = append(bad, k)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			p.add("Environment", strings.Join(bad, ", "), "any variable except "+strings.Join(reservedEnv, ", "),
				"remove "+strings.Join(bad, ", ")+": the construct sets the callback URL, region and listen address from the stage, region and ContainerPort, the metrics' service name from the construct path, and the integration secret from IntegrationSecret in Secrets Manager")
		}
	}
}

// checkTaskSize validates Cpu and MemoryLimitMiB against Fargate's sizes.
func (p *problems) checkTaskSize(props *RealtimeServiceProps) {
	cpu, mem := orNumber(props.Cpu, DefaultCpu), orNumber(props.MemoryLimitMiB, DefaultMemoryLimitMiB)
	if unresolvedNumber(cpu) || unresolvedNumber(mem) {
		return
	}
	fits, ok := fargateMemory[*cpu]
	if !ok {
		p.add("Cpu", num(cpu), "256, 512, 1024, 2048, 4096, 8192 or 16384", "pick one of Fargate's CPU sizes, or leave Cpu unset for 256")
		return
	}
	if !fits(*mem) {
		p.add("MemoryLimitMiB", fmt.Sprintf("%g with Cpu %g", *mem, *cpu), "the memory sizes Fargate pairs with that CPU (for 256: 512, 1024 or 2048; for 512: 1024 to 4096 in steps of 1024; for 1024: 2048 to 8192; …)",
			"choose a memory size from Fargate's table for the CPU (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html)")
	}
}

// checkHealthyPercent validates the deployment bounds.
func (p *problems) checkHealthyPercent(props *RealtimeServiceProps) {
	minP, maxP := orNumber(props.MinHealthyPercent, DefaultMinHealthyPercent), orNumber(props.MaxHealthyPercent, DefaultMaxHealthyPercent)
	if unresolvedNumber(minP) || unresolvedNumber(maxP) {
		return
	}
	if *minP < 0 || *minP > 100 {
		p.add("MinHealthyPercent", num(minP), "0 to 100", "set MinHealthyPercent within 0 to 100, or leave it unset for 100")
	}
	if *maxP < 100 || *maxP <= *minP {
		p.add("MaxHealthyPercent", fmt.Sprintf("%g with MinHealthyPercent %g", *maxP, *minP), "at least 100 and more than MinHealthyPercent", "raise MaxHealthyPercent (200 lets the new task start before the old one stops), or leave it unset")
	}
}

// checkImage validates the image source and returns what the default
// image is built from (nothing when Image is given).
func (p *problems) checkImage(props *RealtimeServiceProps) serverSource {
	if props.Image != nil {
		if props.SourceDir != nil {
			p.addf("Image and SourceDir: got both (SourceDir %s); allowed: one of them; fix: remove SourceDir to use Image, or remove Image to build from SourceDir", quote(props.SourceDir))
		}
		if props.ServerPackage != nil {
			p.addf("Image and ServerPackage: got both (ServerPackage %s); allowed: one of them; fix: remove ServerPackage to use Image, or remove Image to build ServerPackage", quote(props.ServerPackage))
		}
		return serverSource{}
	}
	if props.SourceDir == nil && props.ServerPackage == nil {
		dir, err := LibrarySourceDir()
		if err != nil {
			p.addf("Image and ServerPackage: got neither, and %v", err)
		}
		return serverSource{dir: dir, pkg: DemoServerPackage, demo: true}
	}
	src := serverSource{pkg: *orString(props.ServerPackage, DemoServerPackage)}
	if !p.checkSourceDir(props, &src) {
		return src
	}
	if allowed, fix, bad := serverPackageError(src.dir, src.pkg); bad {
		p.add("ServerPackage", quote(props.ServerPackage), allowed, fix)
	}
	for _, msg := range replaceProblems(src.dir) {
		p.add("SourceDir", fmt.Sprintf("%q (module root)", src.dir), "a module whose replace directives point at directories holding a go.mod",
			msg+": correct the directive, or vendor the dependencies (`go mod vendor`)")
	}
	return src
}

// checkSourceDir sets src.dir to the module root the image is built from,
// and reports whether there is one.
func (p *problems) checkSourceDir(props *RealtimeServiceProps, src *serverSource) bool {
	if props.SourceDir == nil {
		cwd, err := os.Getwd()
		if err == nil {
			src.dir, err = findEnclosingModule(cwd)
		}
		if err != nil {
			p.add("ServerPackage", quote(props.ServerPackage)+" without SourceDir", "a package of the Go module that holds the working directory",
				"run the CDK app from inside your module, or set SourceDir to its root ("+err.Error()+")")
			return false
		}
		return true
	}
	dir, err := filepath.Abs(*props.SourceDir)
	if err == nil {
		err = moduleDirError(dir)
	}
	if err != nil {
		p.add("SourceDir", quote(props.SourceDir), "the root directory of a Go module (holding go.mod)",
			"point SourceDir at the module root, or leave it unset for the module of the working directory ("+err.Error()+")")
		return false
	}
	src.dir = dir
	return true
}
