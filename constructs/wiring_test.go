package constructs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

// synthError synthesizes the stack and returns the error synth fails with,
// or "".
func synthError(stack awscdk.Stack) string {
	v := panicOf(func() { assertions.Template_FromStack(stack, nil) })
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func TestChangesAfterConstructionFailSynth(t *testing.T) {
	why := "the server keeps view-model sessions in its own memory, so a second task would not know the connections of the first; running several tasks needs a shared session store"
	cases := []struct {
		name   string
		change func(*wsgate.RealtimeService)
		want   string
	}{
		{"callback URL overridden", func(rt *wsgate.RealtimeService) {
			rt.Container.AddEnvironment(jsii.String("WSGATE_CALLBACK_URL"), jsii.String("https://abc.execute-api.us-east-1.amazonaws.com/other"))
		}, `[Test/Realtime] wsgate: the server container's WSGATE_CALLBACK_URL was changed after construction (Container.AddEnvironment); got "https://abc.execute-api.us-east-1.amazonaws.com/other"; allowed: the construct's value {"Fn::Join":["",["https://",{"Ref":"RealtimeApiF5DE8165"},".execute-api.",{"Ref":"AWS::Region"},".",{"Ref":"AWS::URLSuffix"},"/prod"]]}; fix: remove the change (the construct sets WSGATE_CALLBACK_URL from the stage, region, ContainerPort and construct path)`},
		{"secret in plain text", func(rt *wsgate.RealtimeService) {
			rt.Container.AddEnvironment(jsii.String("WSGATE_INTEGRATION_SECRET"), jsii.String("hunter2"))
		}, "[Test/Realtime] wsgate: the server container's environment holds WSGATE_INTEGRATION_SECRET in plain text; allowed: the ECS secret the construct sets from IntegrationSecret; fix: remove the AddEnvironment call"},
		{"desired count raised", func(rt *wsgate.RealtimeService) {
			rt.Service.Node().DefaultChild().(awsecs.CfnService).SetDesiredCount(jsii.Number(3))
		}, "[Test/Realtime] wsgate: the Fargate service's DesiredCount was changed after construction; got 3; allowed: 0 or 1; fix: remove the change: " + why},
		{"auto scaling beyond one task", func(rt *wsgate.RealtimeService) {
			rt.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{MaxCapacity: jsii.Number(4)})
		}, "[Test/Realtime] wsgate: the Fargate service scales to 4 tasks (AutoScaleTaskCount MaxCapacity); allowed: at most 1; fix: remove the auto scaling: " + why},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stack := newStack(t)
			rt := imageService(t, stack, nil)
			c.change(rt)
			got := synthError(stack)
			if !strings.Contains(got, c.want) {
				t.Errorf("synth error:\n%s\nwant it to contain:\n%s", got, c.want)
			}
		})
	}
}

func TestUntouchedServiceSynthesizes(t *testing.T) {
	stack := newStack(t)
	rt := imageService(t, stack, nil)
	// Settings the construct does not own may still be added.
	rt.Container.AddEnvironment(jsii.String("WSGATE_LOG_LEVEL"), jsii.String("debug"))
	rt.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{MaxCapacity: jsii.Number(1)})
	if got := synthError(stack); got != "" {
		t.Fatalf("synth failed: %s", got)
	}
}

func TestThrottleAboveQuotaWarns(t *testing.T) {
	stack := newStack(t)
	wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String(backend),
		ApiOptions: wsgate.ApiOptions{ThrottleRateLimit: jsii.Number(20000), ThrottleBurstLimit: jsii.Number(8000)},
	})
	warnings := assertions.Annotations_FromStack(stack).FindWarning(jsii.String("/Test/Realtime"), assertions.Match_AnyValue())
	var got []string
	for _, w := range *warnings {
		got = append(got, fmt.Sprint(w.Entry.Data))
	}
	want := []string{
		"ThrottleRateLimit 20000 is above the default account quota of 10000 requests per second; API Gateway applies the lower of the two, so raise the account's quota (Service Quotas, Amazon API Gateway) or lower ThrottleRateLimit [ack: wsgate:throttleRateAboveQuota]",
		"ThrottleBurstLimit 8000 is above the default account quota of 5000 requests; API Gateway applies the lower of the two, so raise the account's quota (Service Quotas, Amazon API Gateway) or lower ThrottleBurstLimit [ack: wsgate:throttleBurstAboveQuota]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tpl := assertions.Template_FromStack(stack, nil)
	rs := props(only(t, tpl, "AWS::ApiGatewayV2::Stage"))["DefaultRouteSettings"].(map[string]any)
	if rs["ThrottlingRateLimit"] != 20000.0 || rs["ThrottlingBurstLimit"] != 8000.0 {
		t.Errorf("route settings = %v", rs)
	}
	// Within the quotas, no warning.
	stack = newStack(t)
	wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend)})
	if w := assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_AnyValue()); len(*w) != 0 {
		t.Errorf("warnings within the quotas: %v", (*w)[0].Entry.Data)
	}
}
