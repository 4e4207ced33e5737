package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// Defaults of the alarm thresholds, each counted over 5 minutes.
const (
	DefaultIntegrationErrorsThreshold = 5.0
	DefaultExecutionErrorsThreshold   = 5.0
	DefaultPushesFailedThreshold      = 1.0
	DefaultPushesDroppedThreshold     = 1.0
)

// MonitoringOptions configures the dashboard and alarms of a
// RealtimeService.
type MonitoringOptions struct {
	// Dashboard creates a CloudWatch dashboard of the whole path.
	// Default: true.
	Dashboard *bool
	// DashboardName names the dashboard.
	// Default: a name CloudFormation generates.
	DashboardName *string
	// Alarms creates the alarms (see constructs/README.md, "Operating it").
	// Default: true.
	Alarms *bool
	// AlarmTopic receives every alarm's ALARM and OK notifications.
	// Default: none; the alarms only change state.
	AlarmTopic awssns.ITopic
	// IntegrationErrorsThreshold is the number of integration 4XX/5XX
	// answers in 5 minutes that raises the IntegrationErrors alarm.
	// Default: 5.
	IntegrationErrorsThreshold *float64
	// ExecutionErrorsThreshold is the number of failed integration calls in
	// 5 minutes that raises the ExecutionErrors alarm.
	// Default: 5.
	ExecutionErrorsThreshold *float64
	// PushesFailedThreshold is the number of undeliverable frames in 5
	// minutes that raises the PushesFailed alarm.
	// Default: 1.
	PushesFailedThreshold *float64
	// PushesDroppedThreshold is the number of frames dropped by full
	// queues in 5 minutes that raises the PushesDropped alarm.
	// Default: 1.
	PushesDroppedThreshold *float64
}

// alarms lists the alarms that exist.
func (r *RealtimeService) alarms() []awscloudwatch.IAlarm {
	var out []awscloudwatch.IAlarm
	for _, a := range []awscloudwatch.Alarm{r.IntegrationErrorsAlarm, r.ExecutionErrorsAlarm, r.PushesFailedAlarm, r.PushesDroppedAlarm, r.UnhealthyTasksAlarm} {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

// checkMonitoring validates the monitoring props.
func (p *problems) checkMonitoring(o *MonitoringOptions) {
	if o == nil {
		return
	}
	if o.AlarmTopic != nil && !orTrue(o.Alarms) {
		p.addf("Monitoring: got AlarmTopic with Alarms false; allowed: AlarmTopic only with alarms; fix: remove AlarmTopic, or leave Alarms unset")
	}
	for _, t := range []struct {
		field string
		v     *float64
		def   float64
	}{
		{"Monitoring.IntegrationErrorsThreshold", o.IntegrationErrorsThreshold, DefaultIntegrationErrorsThreshold},
		{"Monitoring.ExecutionErrorsThreshold", o.ExecutionErrorsThreshold, DefaultExecutionErrorsThreshold},
		{"Monitoring.PushesFailedThreshold", o.PushesFailedThreshold, DefaultPushesFailedThreshold},
		{"Monitoring.PushesDroppedThreshold", o.PushesDroppedThreshold, DefaultPushesDroppedThreshold},
	} {
		if t.v != nil && !unresolvedNumber(t.v) && (!isInt(*t.v) || *t.v < 1) {
			p.add(t.field, num(t.v), "a whole number of at least 1 (the alarm fires at or above it)", "set a count, or leave it unset for "+num(jsii.Number(t.def))+"; to turn the alarms off set Alarms to false")
		}
	}
}

// orTrue reads an optional flag that defaults to true.
func orTrue(b *bool) bool { return b == nil || *b }

// addMonitoring creates the alarms, then the dashboard that shows them.
func (r *RealtimeService) addMonitoring(props *RealtimeServiceProps) {
	o := props.Monitoring
	if o == nil {
		o = &MonitoringOptions{}
	}
	if orTrue(o.Alarms) {
		r.addAlarms(o, orNumber(props.DesiredCount, DefaultDesiredCount))
	}
	if orTrue(o.Dashboard) {
		r.addDashboard(o)
	}
}

// addDashboard lays the path out from the client to the tasks: the
// stage, the server's integration handling, its pushes, then the tasks.
func (r *RealtimeService) addDashboard(o *MonitoringOptions) {
	api := r.Api
	p99 := &awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Label: jsii.String("p99")}
	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6),
		})
	}
	rows := [][]awscloudwatch.IWidget{
		{
			graph("Connections ($connect)", api.MetricConnectCount(nil)),
			graph("Messages", api.MetricMessageCount(nil)),
			graph("API errors", api.MetricIntegrationError(nil), api.MetricClientError(nil), api.MetricExecutionError(nil)),
		},
		{
			graph("Integration latency (ms)", api.MetricIntegrationLatency(nil), api.MetricIntegrationLatency(p99),
				r.MetricIntegrationLatency(&awscloudwatch.MetricOptions{Label: jsii.String("server")})),
			graph("Integration requests (server)", r.MetricIntegrationRequests(nil)),
			graph("Sessions and view models", r.MetricSessions(nil), r.MetricViewModels(nil)),
		},
		{
			graph("Pushes", r.MetricPushesSent(nil), r.MetricPushesRetried(nil)),
			graph("Pushes gone (410), failed, dropped", r.MetricPushesGone(nil), r.MetricPushesFailed(nil), r.MetricPushesDropped(nil)),
			graph("Push latency and pacer wait (ms)", r.MetricPushLatency(nil), r.MetricPacerWait(nil)),
		},
		{
			graph("Tasks (load balancer health)", r.MetricHealthyTasks(nil), r.MetricUnhealthyTasks(nil)),
			graph("CPU and memory (%)", r.MetricCpuUtilization(nil), r.MetricMemoryUtilization(nil)),
		},
	}
	if alarms := r.alarms(); len(alarms) > 0 {
		rows[3] = append(rows[3], awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Alarms: &alarms, Width: jsii.Number(8), Height: jsii.Number(6),
		}))
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	r.Dashboard = awscloudwatch.NewDashboard(r, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   o.DashboardName,
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         &widgets,
	})
}
