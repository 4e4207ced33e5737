package constructs

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/wsgate/wsgate/contract"
)

// maxTasks is how many tasks the server may run: sessions live in one
// task's memory until a shared session store exists.
const maxTasks = 1.0

// Warning ids of warnAboveQuota, for acknowledging them
// (awscdk.Annotations_Of(api).AcknowledgeWarning).
const (
	WarningThrottleRateAboveQuota  = "wsgate:throttleRateAboveQuota"
	WarningThrottleBurstAboveQuota = "wsgate:throttleBurstAboveQuota"
)

// warnAboveQuota warns, rather than fails, when the stage's throttle is
// above the account's default quotas: quotas can be raised, and API Gateway
// applies the lower of the stage's and the account's limits.
func warnAboveQuota(w *WebSocketApi, o *ApiOptions) {
	if r := o.ThrottleRateLimit; r != nil && !unresolvedNumber(r) && *r > maxThrottleRateLimit {
		awscdk.Annotations_Of(w).AddWarningV2(jsii.String(WarningThrottleRateAboveQuota), jsii.String(fmt.Sprintf(
			"ThrottleRateLimit %g is above the default account quota of %g requests per second; API Gateway applies the lower of the two, so raise the account's quota (Service Quotas, Amazon API Gateway) or lower ThrottleRateLimit",
			*r, maxThrottleRateLimit)))
	}
	if b := o.ThrottleBurstLimit; b != nil && !unresolvedNumber(b) && *b > maxThrottleBurstLimit {
		awscdk.Annotations_Of(w).AddWarningV2(jsii.String(WarningThrottleBurstAboveQuota), jsii.String(fmt.Sprintf(
			"ThrottleBurstLimit %g is above the default account quota of %g requests; API Gateway applies the lower of the two, so raise the account's quota (Service Quotas, Amazon API Gateway) or lower ThrottleBurstLimit",
			*b, maxThrottleBurstLimit)))
	}
}

// wiringCheck runs at synth, after every change the app made, and fails
// synth when a change broke what the construct wired together.
type wiringCheck struct {
	r *RealtimeService
}

// Validate implements constructs.IValidation.
func (c *wiringCheck) Validate() *[]*string {
	var msgs []string
	msgs = append(msgs, c.environment()...)
	msgs = append(msgs, c.taskCount()...)
	out := make([]*string, len(msgs))
	for i, m := range msgs {
		out[i] = jsii.String(m)
	}
	return &out
}

// environment checks the server container's environment as it will be
// synthesized: the variables the construct set still hold its values, and
// the integration secret is not in plain text.
func (c *wiringCheck) environment() []string {
	stack := awscdk.Stack_Of(c.r)
	cfn := c.r.TaskDefinition.Node().DefaultChild().(awsecs.CfnTaskDefinition)
	var defs []struct {
		Name        string
		Environment []struct {
			Name  string
			Value any
		}
	}
	if err := remarshal(stack.Resolve(cfn.ContainerDefinitions()), &defs); err != nil {
		return []string{fmt.Sprintf("wsgate: cannot read the server container's environment: %v", err)}
	}
	got := map[string]string{}
	for _, d := range defs {
		if d.Name != *c.r.Container.ContainerName() {
			continue
		}
		for _, e := range d.Environment {
			v, _ := json.Marshal(e.Value)
			got[e.Name] = string(v)
		}
	}
	var msgs []string
	names := make([]string, 0, len(c.r.constructEnv))
	for name := range c.r.constructEnv {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want, _ := json.Marshal(stack.Resolve(c.r.constructEnv[name]))
		if got[name] != string(want) {
			msgs = append(msgs, fmt.Sprintf("wsgate: the server container's %s was changed after construction (Container.AddEnvironment); got %s; allowed: the construct's value %s; fix: remove the change (the construct sets %s from the stage, region, ContainerPort and construct path)",
				name, orNothing(got[name]), want, name))
		}
	}
	if _, ok := got[contract.EnvIntegrationSecret]; ok {
		msgs = append(msgs, fmt.Sprintf("wsgate: the server container's environment holds %s in plain text; allowed: the ECS secret the construct sets from IntegrationSecret; fix: remove the AddEnvironment call",
			contract.EnvIntegrationSecret))
	}
	return msgs
}

// taskCount checks that nothing raised the number of tasks beyond
// maxTasks: the service's DesiredCount, or an auto-scaling target.
func (c *wiringCheck) taskCount() []string {
	var msgs []string
	why := "the server keeps view-model sessions in its own memory, so a second task would not know the connections of the first; running several tasks needs a shared session store"
	cfn := c.r.Service.Node().DefaultChild().(awsecs.CfnService)
	if d := cfn.DesiredCount(); d != nil && !unresolvedNumber(d) && *d > maxTasks {
		msgs = append(msgs, fmt.Sprintf("wsgate: the Fargate service's DesiredCount was changed after construction; got %g; allowed: 0 or 1; fix: remove the change: %s", *d, why))
	}
	for _, child := range *c.r.Service.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if !*awscdk.CfnResource_IsCfnResource(child) {
			continue
		}
		target, ok := child.(awsapplicationautoscaling.CfnScalableTarget)
		if !ok || *target.CfnResourceType() != "AWS::ApplicationAutoScaling::ScalableTarget" {
			continue
		}
		if m := target.MaxCapacity(); m != nil && !unresolvedNumber(m) && *m > maxTasks {
			msgs = append(msgs, fmt.Sprintf("wsgate: the Fargate service scales to %g tasks (AutoScaleTaskCount MaxCapacity); allowed: at most 1; fix: remove the auto scaling: %s", *m, why))
		}
	}
	return msgs
}

// remarshal converts a resolved CDK value into a Go value through JSON.
func remarshal(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// orNothing renders a missing value for a message.
func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
