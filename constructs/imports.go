package constructs

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// IWebSocketApi is a WebSocket API stage a server pushes to: one this app
// creates (*WebSocketApi) or one imported with ImportWebSocketApi, so that
// the server, or a grant to push, can live in another stack or app.
type IWebSocketApi interface {
	constructs.IConstruct
	// ApiId is the API's id.
	ApiId() *string
	// StageName is the stage's name.
	StageName() *string
	// WebSocketUrl is the URL clients connect to.
	WebSocketUrl() *string
	// CallbackUrl is the base of the stage's @connections management API.
	CallbackUrl() *string
	// GrantManageConnections allows grantee to send to, read and close the
	// stage's connections, and nothing else.
	GrantManageConnections(grantee awsiam.IGrantable) awsiam.Grant
	// Metric is the stage's metric of that name in AWS/ApiGateway.
	Metric(metricName *string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric
}

// ApiId is the API's id.
func (w *WebSocketApi) ApiId() *string { return w.Api.ApiId() }

// StageName is the stage's name.
func (w *WebSocketApi) StageName() *string { return w.Stage.StageName() }

// WebSocketApiAttributes identify an existing WebSocket API stage.
type WebSocketApiAttributes struct {
	// ApiId is the API's id (for example another stack's
	// WebSocketApi.ApiId()). Required.
	ApiId *string
	// StageName is the stage's name. Required.
	StageName *string
	// WebSocketUrl is the URL clients connect to, when it is a custom
	// domain's.
	// Default: wss://{ApiId}.execute-api.{region}.{urlSuffix}/{StageName}.
	WebSocketUrl *string
}

// importedWebSocketApi is a stage known by its attributes.
type importedWebSocketApi struct {
	constructs.Construct
	apiID, stageName, url *string
}

// ImportWebSocketApi refers to an existing WebSocket API stage, in the
// importing stack's account and region. It panics with a *PropsError when
// attrs are invalid.
func ImportWebSocketApi(scope constructs.Construct, id *string, attrs *WebSocketApiAttributes) IWebSocketApi {
	if attrs == nil {
		attrs = &WebSocketApiAttributes{}
	}
	var p problems
	if attrs.ApiId == nil || (!unresolvedString(attrs.ApiId) && *attrs.ApiId == "") {
		p.add("ApiId", quote(attrs.ApiId), "the id of an existing WebSocket API", "set ApiId, for example to the other stack's WebSocketApi.ApiId()")
	}
	if attrs.StageName == nil {
		p.add("StageName", "nothing", "the name of a stage of that API", "set StageName, for example to the other stack's WebSocketApi.StageName()")
	} else if !unresolvedString(attrs.StageName) && !stageNamePattern.MatchString(*attrs.StageName) {
		p.add("StageName", quote(attrs.StageName), "1 to 128 letters, digits, '-' or '_'", "give the stage's name as API Gateway shows it")
	}
	p.check("WebSocketApi import", scope, id)
	this := &importedWebSocketApi{apiID: attrs.ApiId, stageName: attrs.StageName, url: attrs.WebSocketUrl}
	constructs.NewConstruct_Override(this, scope, id)
	return this
}

// host is the stage's execute-api host name.
func (i *importedWebSocketApi) host() string {
	stack := awscdk.Stack_Of(i)
	return fmt.Sprintf("%s.execute-api.%s.%s", *i.apiID, *stack.Region(), *stack.UrlSuffix())
}

func (i *importedWebSocketApi) ApiId() *string     { return i.apiID }
func (i *importedWebSocketApi) StageName() *string { return i.stageName }

func (i *importedWebSocketApi) WebSocketUrl() *string {
	if i.url != nil {
		return i.url
	}
	return jsii.String("wss://" + i.host() + "/" + *i.stageName)
}

func (i *importedWebSocketApi) CallbackUrl() *string {
	return jsii.String("https://" + i.host() + "/" + *i.stageName)
}

// GrantManageConnections grants what WebSocketStage.GrantManagementApiAccess
// grants: execute-api:ManageConnections on {api}/{stage}/*/@connections/*.
func (i *importedWebSocketApi) GrantManageConnections(grantee awsiam.IGrantable) awsiam.Grant {
	arn := awscdk.Stack_Of(i).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("execute-api"),
		Resource:     i.apiID,
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		ResourceName: jsii.String(*i.stageName + "/*/@connections/*"),
	})
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("execute-api:ManageConnections"),
		ResourceArns: &[]*string{arn},
	})
}

func (i *importedWebSocketApi) Metric(metricName *string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(i.apiID, i.stageName, *metricName, statAverage, opts)
}
