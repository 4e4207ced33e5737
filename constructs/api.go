package constructs

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/wsgate/wsgate/contract"
)

// Defaults of the API and stage props.
const (
	// DefaultStageName is the stage clients connect to.
	DefaultStageName = "prod"
	// DefaultThrottleRateLimit is the stage's requests per second.
	DefaultThrottleRateLimit = 1000.0
	// DefaultThrottleBurstLimit is the stage's burst.
	DefaultThrottleBurstLimit = 500.0
	// DefaultIntegrationTimeout is in seconds, API Gateway's maximum.
	DefaultIntegrationTimeout = 29.0
	// DefaultPrivateBackendPort is the NLB listener port of a PrivateBackend.
	DefaultPrivateBackendPort = 80.0
)

// Limits API Gateway applies to WebSocket stages and integrations.
const (
	maxThrottleRateLimit  = 10000.0 // the account's default requests-per-second quota
	maxThrottleBurstLimit = 5000.0  // the account's default burst quota
	minIntegrationMillis  = 50.0
	maxIntegrationMillis  = 29000.0
)

// AccessLogFormat is the JSON access-log line of the stage. API Gateway's
// access-log fields for REST APIs lack the WebSocket ones (connectionId,
// eventType, routeKey), hence a hand-written format.
const AccessLogFormat = `{"requestId":"$context.requestId","connectionId":"$context.connectionId","eventType":"$context.eventType","routeKey":"$context.routeKey","status":"$context.status","sourceIp":"$context.identity.sourceIp","requestTime":"$context.requestTime","integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage"}`

// ApiOptions configures the WebSocket API and its stage. Both
// WebSocketApiProps and RealtimeServiceProps embed it.
type ApiOptions struct {
	// ApiName is the name of the API in API Gateway.
	// Default: a name unique in the account, derived from the construct path.
	ApiName *string
	// Description of the API.
	// Default: "wsgate WebSocket API (dotNetify integration)".
	Description *string
	// StageName is the stage clients connect to (wss://…/StageName).
	// Letters, digits, '-' and '_' only, at most 128 characters.
	// Default: "prod".
	StageName *string
	// ThrottleRateLimit is the stage's steady-state limit in requests per
	// second over all routes, more than 0. Above the default account quota
	// (10 000) synth warns: API Gateway applies the lower of the two.
	// Default: 1000.
	ThrottleRateLimit *float64
	// ThrottleBurstLimit is the stage's burst (token bucket size), a whole
	// number of at least 1. Above the default account quota (5000) synth
	// warns.
	// Default: 500.
	ThrottleBurstLimit *float64
	// IntegrationTimeout bounds each call to the backend, 50 ms to 29 s.
	// Default: 29 seconds.
	IntegrationTimeout awscdk.Duration
	// AccessLogRetention is how long the stage's access logs are kept.
	// Default: awslogs.RetentionDays_ONE_MONTH.
	AccessLogRetention awslogs.RetentionDays
	// DetailedMetrics turns on per-route CloudWatch metrics.
	// Default: true.
	DetailedMetrics *bool
	// ConfigureAccountCloudWatchRole creates the role API Gateway uses to
	// write logs and sets it on the account (AWS::ApiGateway::Account, one
	// per account and region, retained on stack deletion). Stage logging
	// fails to deploy until an account has such a role, so turn this on in
	// exactly one stack per account and region.
	// Default: false.
	ConfigureAccountCloudWatchRole *bool
	// ConnectAuthorization admits clients at $connect: IAM (SigV4) or a
	// Lambda REQUEST authorizer, whose principal reaches the server.
	// Default: none; every client may connect.
	ConnectAuthorization *ConnectAuthorization
	// CustomDomain serves the stage at wss://{domain}.
	// Default: none; clients use the execute-api URL.
	CustomDomain *CustomDomain
}

// PrivateBackend reaches the backend through a VPC link (v1) to a Network
// Load Balancer, so the backend needs no public endpoint.
type PrivateBackend struct {
	// VpcLink is an API Gateway VPC link (AWS::ApiGateway::VpcLink) whose
	// targets include LoadBalancer. Required.
	VpcLink awsapigateway.IVpcLink
	// LoadBalancer is the Network Load Balancer in front of the backend.
	// Required.
	LoadBalancer awselasticloadbalancingv2.INetworkLoadBalancer
	// Port is the load balancer listener's port.
	// Default: 80.
	Port *float64
}

// WebSocketApiProps configures a WebSocketApi. Give exactly one of
// BackendUrl and PrivateBackend.
type WebSocketApiProps struct {
	ApiOptions
	// BackendUrl is the base URL of a backend reachable over the internet,
	// such as an existing .NET dotNetify server:
	// "https://dotnetify.example.com". The routes call BackendUrl +
	// "/api/dotnetify/vm" and BackendUrl + "/api/dotnetify/vm/disconnect".
	// Default: none; give this or PrivateBackend.
	BackendUrl *string
	// PrivateBackend reaches the backend through a VPC link and an NLB.
	// Default: none; give this or BackendUrl.
	PrivateBackend *PrivateBackend
	// IntegrationSecret is a Secrets Manager secret whose SecretString every
	// integration sends in the X-Wsgate-Secret header, so the backend can
	// refuse callers other than this API (the wsgate server does when
	// WSGATE_INTEGRATION_SECRET is set). The template holds a CloudFormation
	// dynamic reference, never the value; API Gateway stores the resolved
	// value in the integration, where apigateway:GET callers can read it.
	// Default: none; the integrations send no secret.
	IntegrationSecret awssecretsmanager.ISecret
}

// ApiRoute holds the resources of one route: the HTTP integration with its
// $default integration response, and the route with its $default route
// response (which makes the route two-way, as in dotNetify's template).
type ApiRoute struct {
	// Integration is the HTTP integration (child id "<Route>Integration").
	Integration awsapigatewayv2.CfnIntegration
	// IntegrationResponse is its $default response ("<Route>IntegrationResponse").
	IntegrationResponse awsapigatewayv2.CfnIntegrationResponse
	// Route is the route ("<Route>Route"); add a $connect authorizer here.
	Route awsapigatewayv2.CfnRoute
	// RouteResponse is its $default response ("<Route>RouteResponse").
	RouteResponse awsapigatewayv2.CfnRouteResponse
}

// WebSocketApi is an API Gateway WebSocket API with dotNetify's routes
// ($connect, $default, $disconnect) as HTTP integrations to a backend, and
// a logged, throttled stage.
type WebSocketApi struct {
	constructs.Construct
	// Api is the WebSocket API (child id "Api").
	Api awsapigatewayv2.WebSocketApi
	// Stage is the auto-deployed stage (child id "Stage").
	Stage awsapigatewayv2.WebSocketStage
	// AccessLogGroup receives the stage's JSON access logs (child id
	// "AccessLogs").
	AccessLogGroup awslogs.LogGroup
	// Connect, Default and Disconnect are the three routes (child ids
	// "Connect…", "Default…", "Disconnect…").
	Connect, Default, Disconnect *ApiRoute
	// CloudWatchRole and Account are set only with
	// ConfigureAccountCloudWatchRole (child ids "CloudWatchRole", "Account").
	CloudWatchRole awsiam.Role
	// Account sets CloudWatchRole on the account; see CloudWatchRole.
	Account awsapigateway.CfnAccount
	// Authorizer is the $connect Lambda authorizer (child id
	// "ConnectAuthorizer"), set only with ConnectAuthorization.Function.
	Authorizer awsapigatewayv2.CfnAuthorizer
	// AuthorizerPermission lets API Gateway invoke the authorizer's
	// function for this API's authorizers (child id
	// "ConnectAuthorizerPermission").
	AuthorizerPermission awslambda.CfnPermission
	// DomainName, ApiMapping and DomainRecord are set only with
	// CustomDomain (child ids "DomainName", "ApiMapping", and
	// "DomainRecord" with a HostedZone).
	DomainName awsapigatewayv2.DomainName
	// ApiMapping maps DomainName's root to the stage.
	ApiMapping awsapigatewayv2.ApiMapping
	// DomainRecord is the alias A record in CustomDomain.HostedZone.
	DomainRecord awsroute53.ARecord
	domainUrl    *string
}

// NewWebSocketApi creates a WebSocketApi. It panics with a *PropsError when
// props are invalid.
func NewWebSocketApi(scope constructs.Construct, id *string, props *WebSocketApiProps) *WebSocketApi {
	if props == nil {
		props = &WebSocketApiProps{}
	}
	var p problems
	p.checkApiOptions(&props.ApiOptions)
	p.checkBackend(props)
	p.check("WebSocketApi", scope, id)

	this := &WebSocketApi{}
	constructs.NewConstruct_Override(this, scope, id)
	this.build(props)
	warnAboveQuota(this, &props.ApiOptions)
	return this
}

// WebSocketUrl is the URL clients connect to: wss://{domain} with a
// CustomDomain, else wss://{api}.execute-api.{region}.amazonaws.com/{stage}.
func (w *WebSocketApi) WebSocketUrl() *string {
	if w.domainUrl != nil {
		return w.domainUrl
	}
	return w.Stage.Url()
}

// CallbackUrl is the stage's connection URL, the base of the @connections
// management API: https://{api}.execute-api.{region}.amazonaws.com/{stage}.
func (w *WebSocketApi) CallbackUrl() *string { return w.Stage.CallbackUrl() }

// GrantManageConnections allows grantee to send to, read and close this
// stage's connections (execute-api:ManageConnections on
// arn:…:{api}/{stage}/*/@connections/*), and nothing on other APIs or stages.
func (w *WebSocketApi) GrantManageConnections(grantee awsiam.IGrantable) awsiam.Grant {
	return w.Stage.GrantManagementApiAccess(grantee)
}

func (w *WebSocketApi) build(props *WebSocketApiProps) {
	opts := props.ApiOptions
	apiName := opts.ApiName
	if apiName == nil {
		apiName = awscdk.Names_UniqueResourceName(w, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(128), Separator: jsii.String("-")})
	}
	w.Api = awsapigatewayv2.NewWebSocketApi(w, jsii.String("Api"), &awsapigatewayv2.WebSocketApiProps{
		ApiName:                  apiName,
		Description:              orString(opts.Description, "wsgate WebSocket API (dotNetify integration)"),
		RouteSelectionExpression: jsii.String("$request.body.action"),
	})
	routes := make([]*ApiRoute, len(routeSpecs))
	for i, spec := range routeSpecs {
		routes[i] = w.addRoute(spec, props)
	}
	w.Connect, w.Default, w.Disconnect = routes[0], routes[1], routes[2]
	w.authorizeConnect(props)
	w.buildStage(opts)
	w.addCustomDomain(opts.CustomDomain)
}

// addRoute creates the integration, route and their $default responses of
// one route, the same shape as dotNetify's published template.
func (w *WebSocketApi) addRoute(spec routeSpec, props *WebSocketApiProps) *ApiRoute {
	apiID := w.Api.ApiId()
	timeout := props.IntegrationTimeout
	if timeout == nil {
		timeout = awscdk.Duration_Seconds(jsii.Number(DefaultIntegrationTimeout))
	}
	integ := &awsapigatewayv2.CfnIntegrationProps{
		ApiId:                       apiID,
		IntegrationType:             jsii.String("HTTP"),
		IntegrationMethod:           jsii.String("POST"),
		PassthroughBehavior:         jsii.String("WHEN_NO_MATCH"),
		RequestTemplates:            &map[string]*string{"$default": jsii.String(spec.template)},
		TemplateSelectionExpression: jsii.String(TemplateSelectionExpression),
		TimeoutInMillis:             timeout.ToMilliseconds(nil),
		PayloadFormatVersion:        jsii.String("1.0"),
		RequestParameters:           requestParameters(props.IntegrationSecret),
	}
	if pb := props.PrivateBackend; pb != nil {
		port := orNumber(pb.Port, DefaultPrivateBackendPort)
		integ.ConnectionType = jsii.String("VPC_LINK")
		integ.ConnectionId = pb.VpcLink.VpcLinkId()
		integ.IntegrationUri = jsii.String(fmt.Sprintf("http://%s:%s%s", *pb.LoadBalancer.LoadBalancerDnsName(), portString(port), spec.path))
	} else {
		integ.ConnectionType = jsii.String("INTERNET")
		integ.IntegrationUri = jsii.String(strings.TrimSuffix(*props.BackendUrl, "/") + spec.path)
	}
	r := &ApiRoute{}
	r.Integration = awsapigatewayv2.NewCfnIntegration(w, jsii.String(spec.idPrefix+"Integration"), integ)
	r.IntegrationResponse = awsapigatewayv2.NewCfnIntegrationResponse(w, jsii.String(spec.idPrefix+"IntegrationResponse"), &awsapigatewayv2.CfnIntegrationResponseProps{
		ApiId:                  apiID,
		IntegrationId:          r.Integration.Ref(),
		IntegrationResponseKey: jsii.String("$default"),
	})
	r.Route = awsapigatewayv2.NewCfnRoute(w, jsii.String(spec.idPrefix+"Route"), &awsapigatewayv2.CfnRouteProps{
		ApiId:                            apiID,
		RouteKey:                         jsii.String(spec.key),
		AuthorizationType:                jsii.String("NONE"),
		ApiKeyRequired:                   jsii.Bool(false),
		RouteResponseSelectionExpression: jsii.String("$default"),
		Target:                           jsii.String("integrations/" + *r.Integration.Ref()),
	})
	r.RouteResponse = awsapigatewayv2.NewCfnRouteResponse(w, jsii.String(spec.idPrefix+"RouteResponse"), &awsapigatewayv2.CfnRouteResponseProps{
		ApiId:            apiID,
		RouteId:          r.Route.Ref(),
		RouteResponseKey: jsii.String("$default"),
	})
	if reason := apig4Reason(spec.key, props.ConnectAuthorization); reason != "" {
		suppressNag(r.Route, nagSuppression{"AwsSolutions-APIG4", reason, nil})
	}
	return r
}

// requestParameters are an integration's request parameters: the identity
// headers, and the secret header when there is a secret.
func requestParameters(secret awssecretsmanager.ISecret) *map[string]*string {
	params := identityParameters()
	if secret != nil {
		(*params)[headerParameter(contract.HeaderSecret)] = secretParameter(secret)
	}
	return params
}

// secretParameter is a static request-parameter value ('…') holding a
// dynamic reference to the secret's SecretString, which CloudFormation
// resolves at deployment: the template and cdk.out never hold the value.
// AWS documents secretsmanager references as usable in all resource
// properties (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
// dynamic-references-secretsmanager.html) but says nothing of a reference
// inside a larger string such as this quoted one; a test against AWS
// reported in localstack/localstack#5208 resolved references embedded in a
// longer string. CloudFormation resolves dynamic references after
// intrinsic functions, so the Fn::Join CDK renders for the secret's ARN is
// fine. The generated value has no punctuation, so it cannot end the quotes.
func secretParameter(secret awssecretsmanager.ISecret) *string {
	return jsii.String("'" + *secret.SecretValue().UnsafeUnwrap() + "'")
}

// apig4Reasons say, per route, why it has no authorizer. Nothing
// authorizes clients yet: the wsgate server admits every $connect.
var apig4Reasons = map[string]string{
	"$connect":    "authorization is not configured: API Gateway and the wsgate server admit every $connect; to authorize clients, set a Lambda (REQUEST) or IAM authorizer on Connect.Route, the only route WebSocket APIs authorize",
	"$default":    "WebSocket APIs authorize only at $connect; this route runs on connections $connect admitted, which is every connection until an authorizer is set on Connect.Route",
	"$disconnect": "WebSocket APIs authorize only at $connect; $disconnect only tells the backend that an admitted connection has closed",
}

// identityParameters hands the backend the connection's identity in
// request headers filled from API Gateway's $context, which no client can
// write; the request template's body embeds the client's frame, so the
// server trusts these headers and refuses a body that disagrees with them.
// AWS documents context.VARIABLE_NAME as a request-parameter source for
// WebSocket integrations when the variable is one of the WebSocket context
// variables (docs.aws.amazon.com/apigateway/latest/developerguide/
// websocket-api-data-mapping.html), and connectionId, identity.sourceIp and
// identity.userAgent all are (…/apigateway-websocket-api-mapping-template-reference.html),
// on every route.
func identityParameters() *map[string]*string {
	return &map[string]*string{
		headerParameter(contract.HeaderConnectionID): jsii.String("context.connectionId"),
		headerParameter(contract.HeaderSourceIP):     jsii.String("context.identity.sourceIp"),
		headerParameter(contract.HeaderUserAgent):    jsii.String("context.identity.userAgent"),
	}
}

// headerParameter is the request-parameter key of an integration request
// header.
func headerParameter(name string) string { return "integration.request.header." + name }

// buildStage creates the auto-deployed stage. The L2 stage drops access-log
// settings in this CDK version, so they are set on the L1 resource, which
// also needs the throttle restated.
func (w *WebSocketApi) buildStage(opts ApiOptions) {
	stageName := orString(opts.StageName, DefaultStageName)
	rate := orNumber(opts.ThrottleRateLimit, DefaultThrottleRateLimit)
	burst := orNumber(opts.ThrottleBurstLimit, DefaultThrottleBurstLimit)
	metrics := opts.DetailedMetrics
	if metrics == nil {
		metrics = jsii.Bool(true)
	}
	retention := opts.AccessLogRetention
	if retention == "" {
		retention = awslogs.RetentionDays_ONE_MONTH
	}
	w.AccessLogGroup = awslogs.NewLogGroup(w, jsii.String("AccessLogs"), &awslogs.LogGroupProps{Retention: retention})
	w.Stage = awsapigatewayv2.NewWebSocketStage(w, jsii.String("Stage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi:           w.Api,
		StageName:              stageName,
		AutoDeploy:             jsii.Bool(true),
		Throttle:               &awsapigatewayv2.ThrottleSettings{RateLimit: rate, BurstLimit: burst},
		DetailedMetricsEnabled: metrics,
	})
	cfnStage := w.Stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: w.AccessLogGroup.LogGroupArn(),
		Format:         jsii.String(AccessLogFormat),
	})
	cfnStage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{
		ThrottlingRateLimit:    rate,
		ThrottlingBurstLimit:   burst,
		DetailedMetricsEnabled: metrics,
		LoggingLevel:           jsii.String("ERROR"),
		DataTraceEnabled:       jsii.Bool(false),
	})
	// Auto-deploy fails on an API without routes, and nothing else orders
	// the stage after the L1 routes.
	for _, r := range []*ApiRoute{w.Connect, w.Default, w.Disconnect} {
		w.Stage.Node().AddDependency(r.Route, r.RouteResponse, r.Integration, r.IntegrationResponse)
	}
	if opts.ConfigureAccountCloudWatchRole != nil && *opts.ConfigureAccountCloudWatchRole {
		w.configureAccount()
	}
}

// configureAccount creates the account-level CloudWatch role API Gateway
// needs for stage logging, retained like the one RestApi creates because
// other APIs of the account rely on it.
func (w *WebSocketApi) configureAccount() {
	w.CloudWatchRole = awsiam.NewRole(w, jsii.String("CloudWatchRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AmazonAPIGatewayPushToCloudWatchLogs")),
		},
	})
	w.CloudWatchRole.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN)
	suppressNag(w.CloudWatchRole.Node().DefaultChild().(awscdk.CfnResource), nagSuppression{"AwsSolutions-IAM4",
		"AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy for the API Gateway account logging role", nil})
	w.Account = awsapigateway.NewCfnAccount(w, jsii.String("Account"), &awsapigateway.CfnAccountProps{
		CloudWatchRoleArn: w.CloudWatchRole.RoleArn(),
	})
	w.Account.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	w.Account.Node().AddDependency(w.Api)
	w.Stage.Node().AddDependency(w.Account)
}

// checkApiOptions validates the API and stage options.
func (p *problems) checkApiOptions(o *ApiOptions) {
	if o.ApiName != nil && !unresolvedString(o.ApiName) && (len(*o.ApiName) == 0 || len(*o.ApiName) > 128) {
		p.add("ApiName", quote(o.ApiName), "1 to 128 characters", "shorten ApiName or leave it unset for a generated name")
	}
	if o.StageName != nil && !unresolvedString(o.StageName) && !stageNamePattern.MatchString(*o.StageName) {
		p.add("StageName", quote(o.StageName), "1 to 128 letters, digits, '-' or '_'", `use a name such as "prod", or leave it unset for "prod"`)
	}
	// Above the account's default quotas is only a warning (warnAboveQuota):
	// quotas can be raised.
	if r := o.ThrottleRateLimit; r != nil && !unresolvedNumber(r) && *r <= 0 {
		p.add("ThrottleRateLimit", num(r), "more than 0 requests per second (at most the account quota, 10000 by default)", "set a positive rate, or leave it unset for 1000")
	}
	if b := o.ThrottleBurstLimit; b != nil && !unresolvedNumber(b) && (!isInt(*b) || *b < 1) {
		p.add("ThrottleBurstLimit", num(b), "a whole number of at least 1 (at most the account quota, 5000 by default)", "set a burst of at least 1 (0 rejects every request), or leave it unset for 500")
	}
	if t := o.IntegrationTimeout; t != nil && !unresolvedNumber(t.ToMilliseconds(nil)) {
		ms := *t.ToMilliseconds(nil)
		if ms < minIntegrationMillis || ms > maxIntegrationMillis {
			p.add("IntegrationTimeout", fmt.Sprintf("%gms", ms), "50 ms to 29 s (API Gateway's integration limits)", "use a timeout within the limits, or leave it unset for 29 s")
		}
	}
	p.checkConnectAuthorization(o.ConnectAuthorization)
	p.checkCustomDomain(o.CustomDomain)
}

// checkBackend requires exactly one well-formed backend.
func (p *problems) checkBackend(props *WebSocketApiProps) {
	switch {
	case props.BackendUrl == nil && props.PrivateBackend == nil:
		p.addf("BackendUrl and PrivateBackend: got neither; allowed: exactly one of them; fix: set BackendUrl to your server's base URL (such as \"https://dotnetify.example.com\") or PrivateBackend to a VPC link and NLB")
	case props.BackendUrl != nil && props.PrivateBackend != nil:
		p.addf("BackendUrl and PrivateBackend: got both (BackendUrl %s); allowed: exactly one of them; fix: remove BackendUrl for a private backend, or PrivateBackend for one on the internet", quote(props.BackendUrl))
	case props.BackendUrl != nil:
		p.checkBackendUrl(props.BackendUrl)
	default:
		pb := props.PrivateBackend
		if pb.VpcLink == nil {
			p.add("PrivateBackend.VpcLink", "nothing", "an API Gateway VPC link (awsapigateway.NewVpcLink) targeting the load balancer", "set PrivateBackend.VpcLink")
		}
		if pb.LoadBalancer == nil {
			p.add("PrivateBackend.LoadBalancer", "nothing", "the Network Load Balancer in front of the backend", "set PrivateBackend.LoadBalancer")
		}
		if pb.Port != nil {
			p.checkPort("PrivateBackend.Port", pb.Port, "80")
		}
	}
}

// checkBackendUrl accepts absolute http(s) URLs without query or fragment;
// the dotNetify paths are appended to them.
func (p *problems) checkBackendUrl(raw *string) {
	if unresolvedString(raw) {
		return
	}
	u, err := url.Parse(*raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p.add("BackendUrl", quote(raw), "an absolute http:// or https:// base URL without user info, query or fragment", `give the server's base URL, such as "https://dotnetify.example.com" (the routes append /api/dotnetify/vm)`)
	}
}

// portString renders a port for a URL, also when it is a token.
func portString(port *float64) string {
	if unresolvedNumber(port) {
		return *awscdk.Token_AsString(port, nil)
	}
	return fmt.Sprintf("%d", int(*port))
}

func orString(v *string, def string) *string {
	if v == nil {
		return jsii.String(def)
	}
	return v
}

func orNumber(v *float64, def float64) *float64 {
	if v == nil {
		return jsii.Number(def)
	}
	return v
}
