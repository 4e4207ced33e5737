package constructs_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
	"github.com/wsgate/wsgate/contract"
)

// imageService creates a RealtimeService from a registry image, which
// synthesizes without staging the server's source.
func imageService(t *testing.T, stack awscdk.Stack, props *wsgate.RealtimeServiceProps) *wsgate.RealtimeService {
	t.Helper()
	if props == nil {
		props = &wsgate.RealtimeServiceProps{}
	}
	props.Image = imageOf()
	return wsgate.NewRealtimeService(stack, jsii.String("Realtime"), props)
}

// imageOf is a registry image, which needs no build.
func imageOf() awsecs.ContainerImage {
	return awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/wsgate-server:1.0.0"), nil)
}

// metricJSON renders a metric's identity as the template would hold it.
func metricJSON(t *testing.T, stack awscdk.Stack, m awscloudwatch.Metric) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"namespace": *m.Namespace(), "name": *m.MetricName(), "statistic": *m.Statistic(),
		"period": *m.Period().ToSeconds(nil), "dims": stack.Resolve(m.Dimensions()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWebSocketApiStageMetrics(t *testing.T) {
	stack := newStack(t)
	api := wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend)})
	apiRef := stack.Resolve(api.ApiId())
	ref, _ := json.Marshal(apiRef)
	dims := `{"ApiId":` + string(ref) + `,"Stage":"prod"}`
	cases := []struct {
		m    awscloudwatch.Metric
		want string
	}{
		{api.MetricConnectCount(nil), `{"dims":` + dims + `,"name":"ConnectCount","namespace":"AWS/ApiGateway","period":300,"statistic":"Sum"}`},
		{api.MetricMessageCount(nil), `{"dims":` + dims + `,"name":"MessageCount","namespace":"AWS/ApiGateway","period":300,"statistic":"Sum"}`},
		{api.MetricIntegrationError(nil), `{"dims":` + dims + `,"name":"IntegrationError","namespace":"AWS/ApiGateway","period":300,"statistic":"Sum"}`},
		{api.MetricClientError(nil), `{"dims":` + dims + `,"name":"ClientError","namespace":"AWS/ApiGateway","period":300,"statistic":"Sum"}`},
		{api.MetricExecutionError(nil), `{"dims":` + dims + `,"name":"ExecutionError","namespace":"AWS/ApiGateway","period":300,"statistic":"Sum"}`},
		{api.MetricIntegrationLatency(nil), `{"dims":` + dims + `,"name":"IntegrationLatency","namespace":"AWS/ApiGateway","period":300,"statistic":"Average"}`},
		{api.Metric(jsii.String("ConnectCount"), nil), `{"dims":` + dims + `,"name":"ConnectCount","namespace":"AWS/ApiGateway","period":300,"statistic":"Average"}`},
		// The caller's options win, as with CDK's own metric methods.
		{api.MetricConnectCount(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1))}),
			`{"dims":` + dims + `,"name":"ConnectCount","namespace":"AWS/ApiGateway","period":60,"statistic":"Maximum"}`},
	}
	for _, c := range cases {
		if got := metricJSON(t, stack, c.m); got != c.want {
			t.Errorf("metric:\n got  %s\n want %s", got, c.want)
		}
	}
	if !strings.Contains(string(ref), "RealtimeApi") {
		t.Errorf("ApiId dimension = %s, want a Ref of the API", ref)
	}
}

func TestRealtimeServiceMetrics(t *testing.T) {
	stack := newStack(t)
	rt := imageService(t, stack, nil)
	name := *rt.MetricsServiceName
	if !strings.HasPrefix(name, "Test-Realtime-") {
		t.Errorf("MetricsServiceName = %q, want a name derived from the construct path", name)
	}
	svc := `{"ServiceName":"` + name + `"}`
	want := func(metric, stat string) string {
		return `{"dims":` + svc + `,"name":"` + metric + `","namespace":"Wsgate","period":300,"statistic":"` + stat + `"}`
	}
	cases := []struct {
		m    awscloudwatch.Metric
		want string
	}{
		{rt.MetricIntegrationRequests(nil), want(contract.MetricIntegrationRequests, "Sum")},
		{rt.MetricIntegrationLatency(nil), want(contract.MetricIntegrationLatency, "Average")},
		{rt.MetricSessions(nil), want(contract.MetricSessions, "Maximum")},
		{rt.MetricViewModels(nil), want(contract.MetricViewModels, "Maximum")},
		{rt.MetricPushesSent(nil), want(contract.MetricPushesSent, "Sum")},
		{rt.MetricPushesRetried(nil), want(contract.MetricPushesRetried, "Sum")},
		{rt.MetricPushesGone(nil), want(contract.MetricPushesGone, "Sum")},
		{rt.MetricPushesFailed(nil), want(contract.MetricPushesFailed, "Sum")},
		{rt.MetricPushesDropped(nil), want(contract.MetricPushesDropped, "Sum")},
		{rt.MetricPushLatency(nil), want(contract.MetricPushLatency, "Average")},
		{rt.MetricPacerWait(nil), want(contract.MetricPacerWait, "Average")},
		{rt.Metric(jsii.String(contract.MetricPushesGone), nil), want(contract.MetricPushesGone, "Sum")},
		{rt.MetricIntegrationRequestsBy(jsii.String(contract.RouteConnect), jsii.String(contract.OutcomeError), nil),
			`{"dims":{"Outcome":"error","Route":"$connect","ServiceName":"` + name + `"},"name":"IntegrationRequests","namespace":"Wsgate","period":300,"statistic":"Sum"}`},
	}
	for _, c := range cases {
		if got := metricJSON(t, stack, c.m); got != c.want {
			t.Errorf("metric:\n got  %s\n want %s", got, c.want)
		}
	}
	for metric, m := range map[string]awscloudwatch.Metric{"CPUUtilization": rt.MetricCpuUtilization(nil), "MemoryUtilization": rt.MetricMemoryUtilization(nil)} {
		if *m.Namespace() != "AWS/ECS" || *m.MetricName() != metric {
			t.Errorf("%s: %s %s", metric, *m.Namespace(), *m.MetricName())
		}
	}
	for metric, m := range map[string]awscloudwatch.Metric{"HealthyHostCount": rt.MetricHealthyTasks(nil), "UnHealthyHostCount": rt.MetricUnhealthyTasks(nil)} {
		if *m.Namespace() != "AWS/NetworkELB" || *m.MetricName() != metric || *m.Period().ToSeconds(nil) != 60 {
			t.Errorf("%s: %s %s", metric, *m.Namespace(), *m.MetricName())
		}
	}
	// The server learns the dimension's value from its environment.
	td := props(only(t, assertions.Template_FromStack(stack, nil), "AWS::ECS::TaskDefinition"))
	env, _ := json.Marshal(td["ContainerDefinitions"].([]any)[0].(map[string]any)["Environment"])
	if entry := `{"Name":"WSGATE_SERVICE_NAME","Value":"` + name + `"}`; !strings.Contains(string(env), entry) {
		t.Errorf("environment %s lacks %s", env, entry)
	}
}

// dashboardWidgets parses the dashboard's body, with every CloudFormation
// intrinsic inside it replaced by "<ref>", into title -> metric names
// ("Namespace/Name").
func dashboardWidgets(t *testing.T, tpl assertions.Template) map[string][]string {
	t.Helper()
	body := props(only(t, tpl, "AWS::CloudWatch::Dashboard"))["DashboardBody"]
	var text strings.Builder
	switch b := body.(type) {
	case string:
		text.WriteString(b)
	case map[string]any:
		parts := b["Fn::Join"].([]any)[1].([]any)
		for _, p := range parts {
			if s, ok := p.(string); ok {
				text.WriteString(s)
			} else {
				text.WriteString("<ref>")
			}
		}
	}
	var parsed struct {
		Widgets []struct {
			Type       string
			Properties struct {
				Title   string
				Metrics [][]any
				Alarms  []string
			}
		}
	}
	if err := json.Unmarshal([]byte(text.String()), &parsed); err != nil {
		t.Fatalf("dashboard body is not JSON: %v\n%s", err, text.String())
	}
	out := map[string][]string{}
	for _, w := range parsed.Widgets {
		var names []string
		for _, m := range w.Properties.Metrics {
			names = append(names, fmt.Sprintf("%v/%v", m[0], m[1]))
		}
		for range w.Properties.Alarms {
			names = append(names, "alarm")
		}
		out[w.Properties.Title] = names
	}
	return out
}

func TestDashboardShowsTheWholePath(t *testing.T) {
	stack := newStack(t)
	imageService(t, stack, nil)
	got := dashboardWidgets(t, assertions.Template_FromStack(stack, nil))
	want := map[string][]string{
		"Connections ($connect)":             {"AWS/ApiGateway/ConnectCount"},
		"Messages":                           {"AWS/ApiGateway/MessageCount"},
		"API errors":                         {"AWS/ApiGateway/IntegrationError", "AWS/ApiGateway/ClientError", "AWS/ApiGateway/ExecutionError"},
		"Integration latency (ms)":           {"AWS/ApiGateway/IntegrationLatency", "AWS/ApiGateway/IntegrationLatency", "Wsgate/IntegrationLatency"},
		"Integration requests (server)":      {"Wsgate/IntegrationRequests"},
		"Sessions and view models":           {"Wsgate/Sessions", "Wsgate/ViewModels"},
		"Pushes":                             {"Wsgate/PushesSent", "Wsgate/PushesRetried"},
		"Pushes gone (410), failed, dropped": {"Wsgate/PushesGone", "Wsgate/PushesFailed", "Wsgate/PushesDropped"},
		"Push latency and pacer wait (ms)":   {"Wsgate/PushLatency", "Wsgate/PacerWait"},
		"Tasks (load balancer health)":       {"AWS/NetworkELB/HealthyHostCount", "AWS/NetworkELB/UnHealthyHostCount"},
		"CPU and memory (%)":                 {"AWS/ECS/CPUUtilization", "AWS/ECS/MemoryUtilization"},
		"Alarms":                             {"alarm", "alarm", "alarm", "alarm", "alarm"},
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("dashboard widgets:\n got  %s\n want %s", g, w)
	}
}

// alarmSummary renders the parts of an alarm the tests check.
type alarmSummary struct {
	Namespace, Metric, Comparison, Missing string
	Threshold                              any
	Periods                                float64
	AlarmActions, OKActions                any
}

// alarmsOf returns the template's alarms by their construct id.
func alarmsOf(t *testing.T, tpl assertions.Template) map[string]alarmSummary {
	t.Helper()
	out := map[string]alarmSummary{}
	for id, r := range resources(tpl, "AWS::CloudWatch::Alarm") {
		p := props(r)
		name := strings.TrimPrefix(id, "Realtime")
		name = name[:strings.Index(name, "Alarm")+len("Alarm")]
		out[name] = alarmSummary{
			Namespace: fmt.Sprint(p["Namespace"]), Metric: fmt.Sprint(p["MetricName"]),
			Comparison: fmt.Sprint(p["ComparisonOperator"]), Missing: fmt.Sprint(p["TreatMissingData"]),
			Threshold: p["Threshold"], Periods: p["EvaluationPeriods"].(float64),
			AlarmActions: p["AlarmActions"], OKActions: p["OKActions"],
		}
	}
	return out
}

func TestAlarmsDefaults(t *testing.T) {
	stack := newStack(t)
	rt := imageService(t, stack, nil)
	got := alarmsOf(t, assertions.Template_FromStack(stack, nil))
	want := map[string]alarmSummary{
		"IntegrationErrorsAlarm": {"AWS/ApiGateway", "IntegrationError", "GreaterThanOrEqualToThreshold", "notBreaching", 5.0, 1, nil, nil},
		"ExecutionErrorsAlarm":   {"AWS/ApiGateway", "ExecutionError", "GreaterThanOrEqualToThreshold", "notBreaching", 5.0, 1, nil, nil},
		"PushesFailedAlarm":      {"Wsgate", "PushesFailed", "GreaterThanOrEqualToThreshold", "notBreaching", 1.0, 1, nil, nil},
		"PushesDroppedAlarm":     {"Wsgate", "PushesDropped", "GreaterThanOrEqualToThreshold", "notBreaching", 1.0, 1, nil, nil},
		"UnhealthyTasksAlarm":    {"AWS/NetworkELB", "HealthyHostCount", "LessThanThreshold", "breaching", 1.0, 3, nil, nil},
	}
	compareAlarms(t, got, want)
	for _, a := range []awscloudwatch.Alarm{rt.IntegrationErrorsAlarm, rt.ExecutionErrorsAlarm, rt.PushesFailedAlarm, rt.PushesDroppedAlarm, rt.UnhealthyTasksAlarm} {
		if a == nil {
			t.Error("an alarm field is nil")
		}
	}
	if rt.Dashboard == nil {
		t.Error("Dashboard is nil")
	}
}

func TestAlarmsThresholdsAndTopic(t *testing.T) {
	stack := newStack(t)
	topic := awssns.NewTopic(stack, jsii.String("Oncall"), nil)
	imageService(t, stack, &wsgate.RealtimeServiceProps{Monitoring: &wsgate.MonitoringOptions{
		AlarmTopic:                 topic,
		IntegrationErrorsThreshold: jsii.Number(50),
		ExecutionErrorsThreshold:   jsii.Number(20),
		PushesFailedThreshold:      jsii.Number(3),
		PushesDroppedThreshold:     jsii.Number(4),
	}})
	tpl := assertions.Template_FromStack(stack, nil)
	topicRef := stack.Resolve(topic.TopicArn())
	actions := []any{topicRef}
	got := alarmsOf(t, tpl)
	want := map[string]alarmSummary{
		"IntegrationErrorsAlarm": {"AWS/ApiGateway", "IntegrationError", "GreaterThanOrEqualToThreshold", "notBreaching", 50.0, 1, actions, actions},
		"ExecutionErrorsAlarm":   {"AWS/ApiGateway", "ExecutionError", "GreaterThanOrEqualToThreshold", "notBreaching", 20.0, 1, actions, actions},
		"PushesFailedAlarm":      {"Wsgate", "PushesFailed", "GreaterThanOrEqualToThreshold", "notBreaching", 3.0, 1, actions, actions},
		"PushesDroppedAlarm":     {"Wsgate", "PushesDropped", "GreaterThanOrEqualToThreshold", "notBreaching", 4.0, 1, actions, actions},
		"UnhealthyTasksAlarm":    {"AWS/NetworkELB", "HealthyHostCount", "LessThanThreshold", "breaching", 1.0, 3, actions, actions},
	}
	compareAlarms(t, got, want)
}

func compareAlarms(t *testing.T, got, want map[string]alarmSummary) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(got) != len(want) {
		t.Errorf("got %d alarms %v, want %d", len(got), got, len(want))
	}
	for _, k := range keys {
		g, _ := json.Marshal(got[k])
		w, _ := json.Marshal(want[k])
		if string(g) != string(w) {
			t.Errorf("%s:\n got  %s\n want %s", k, g, w)
		}
	}
}

func TestMonitoringCanBeTurnedOff(t *testing.T) {
	stack := newStack(t)
	rt := imageService(t, stack, &wsgate.RealtimeServiceProps{Monitoring: &wsgate.MonitoringOptions{
		Dashboard: jsii.Bool(false), Alarms: jsii.Bool(false),
	}})
	tpl := assertions.Template_FromStack(stack, nil)
	assert(t, "no dashboard or alarms", func() {
		tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(0))
		tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(0))
	})
	if rt.Dashboard != nil || rt.PushesFailedAlarm != nil {
		t.Error("fields set although turned off")
	}

	// With no task desired, fewer healthy tasks than desired cannot happen.
	stack = newStack(t)
	rt = imageService(t, stack, &wsgate.RealtimeServiceProps{DesiredCount: jsii.Number(0)})
	got := alarmsOf(t, assertions.Template_FromStack(stack, nil))
	if _, ok := got["UnhealthyTasksAlarm"]; ok || rt.UnhealthyTasksAlarm != nil || len(got) != 4 {
		t.Errorf("alarms with DesiredCount 0: %v", got)
	}
}

func TestMonitoringValidation(t *testing.T) {
	head := "wsgate: invalid RealtimeService props at Test/Realtime (1 problem):\n  - "
	cases := []struct {
		name string
		o    func(awscdk.Stack) *wsgate.MonitoringOptions
		want string
	}{
		{"topic without alarms", func(s awscdk.Stack) *wsgate.MonitoringOptions {
			return &wsgate.MonitoringOptions{Alarms: jsii.Bool(false), AlarmTopic: awssns.NewTopic(s, jsii.String("T"), nil)}
		}, head + "Monitoring: got AlarmTopic with Alarms false; allowed: AlarmTopic only with alarms; fix: remove AlarmTopic, or leave Alarms unset"},
		{"zero threshold", func(awscdk.Stack) *wsgate.MonitoringOptions {
			return &wsgate.MonitoringOptions{PushesDroppedThreshold: jsii.Number(0)}
		}, head + "Monitoring.PushesDroppedThreshold: got 0; allowed: a whole number of at least 1 (the alarm fires at or above it); fix: set a count, or leave it unset for 1; to turn the alarms off set Alarms to false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := serviceError(t, func(s awscdk.Stack) *wsgate.RealtimeServiceProps {
				return &wsgate.RealtimeServiceProps{Monitoring: c.o(s)}
			})
			if got != c.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
