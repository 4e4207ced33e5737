package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StackName is the name of the stack `cdk deploy` creates for this
// repository; the local gateway reads cdk.out/WsgateStack.template.json.
const StackName = "WsgateStack"

// RealtimeStackProps configures a RealtimeStack.
type RealtimeStackProps struct {
	awscdk.StackProps
	// Service configures the RealtimeService.
	// Default: RealtimeServiceProps defaults.
	Service *RealtimeServiceProps
}

// RealtimeStack is a stack holding one RealtimeService (child id
// "Realtime") and outputs for its URLs. It embeds awscdk.Stack, so it can
// be the scope of more constructs.
type RealtimeStack struct {
	awscdk.Stack
	// Realtime is the API and Fargate server.
	Realtime *RealtimeService
	// WebSocketUrlOutput is the "WebSocketUrl" output: wss://…/{stage}, the
	// URL for the dotnetify client's createWebSocketHub.
	WebSocketUrlOutput awscdk.CfnOutput
	// CallbackUrlOutput is the "CallbackUrl" output: https://…/{stage}, the
	// base of the @connections management API.
	CallbackUrlOutput awscdk.CfnOutput
}

// NewRealtimeStack creates a RealtimeStack in scope (usually the app).
func NewRealtimeStack(scope constructs.Construct, id *string, props *RealtimeStackProps) *RealtimeStack {
	if props == nil {
		props = &RealtimeStackProps{}
	}
	stackProps := props.StackProps
	if stackProps.Description == nil {
		stackProps.Description = jsii.String("wsgate: API Gateway WebSocket API with the dotNetify-compatible wsgate server on ECS Fargate")
	}
	s := &RealtimeStack{}
	awscdk.NewStack_Override(s, scope, id, &stackProps)
	s.Realtime = NewRealtimeService(s, jsii.String("Realtime"), props.Service)
	s.WebSocketUrlOutput = awscdk.NewCfnOutput(s, jsii.String("WebSocketUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("WebSocket URL for the dotnetify client (createWebSocketHub)"),
		Value:       s.Realtime.WebSocketUrl(),
	})
	s.CallbackUrlOutput = awscdk.NewCfnOutput(s, jsii.String("CallbackUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("Connection (callback) URL of the stage: the @connections management API"),
		Value:       s.Realtime.CallbackUrl(),
	})
	return s
}

// WebSocketUrl is the URL clients connect to (wss://…/{stage}).
func (s *RealtimeStack) WebSocketUrl() *string { return s.Realtime.WebSocketUrl() }

// CallbackUrl is the stage's connection URL the server pushes to.
func (s *RealtimeStack) CallbackUrl() *string { return s.Realtime.CallbackUrl() }
