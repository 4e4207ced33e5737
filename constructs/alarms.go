package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/jsii-runtime-go"
)

// alarmSpec is one alarm: its child id, metric, threshold and what it
// means, which becomes the alarm's description.
type alarmSpec struct {
	id          string
	metric      awscloudwatch.IMetric
	threshold   *float64
	comparison  awscloudwatch.ComparisonOperator
	periods     float64
	missing     awscloudwatch.TreatMissingData
	description string
}

// addAlarms creates the alarms. Count alarms treat missing data as fine:
// no traffic is no error. The tasks alarm treats it as breaching: a load
// balancer without registered tasks reports nothing.
func (r *RealtimeService) addAlarms(o *MonitoringOptions, desired *float64) {
	atOrAbove := awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	fine := awscloudwatch.TreatMissingData_NOT_BREACHING
	specs := []alarmSpec{
		{"IntegrationErrorsAlarm", r.Api.MetricIntegrationError(nil), orNumber(o.IntegrationErrorsThreshold, DefaultIntegrationErrorsThreshold), atOrAbove, 1, fine,
			"wsgate: the server answered integration requests with 4XX/5XX (API Gateway IntegrationError). Read the server's logs for the failing route."},
		{"ExecutionErrorsAlarm", r.Api.MetricExecutionError(nil), orNumber(o.ExecutionErrorsThreshold, DefaultExecutionErrorsThreshold), atOrAbove, 1, fine,
			"wsgate: API Gateway could not call the server (ExecutionError: unreachable, timed out or misconfigured). Check the tasks' health, the VPC link and the stage's execution log."},
		{"PushesFailedAlarm", r.MetricPushesFailed(nil), orNumber(o.PushesFailedThreshold, DefaultPushesFailedThreshold), atOrAbove, 1, fine,
			"wsgate: frames could not be delivered to clients after retries (PushesFailed); those connections were closed. Check the task role's execute-api:ManageConnections grant and the server's logs."},
		{"PushesDroppedAlarm", r.MetricPushesDropped(nil), orNumber(o.PushesDroppedThreshold, DefaultPushesDroppedThreshold), atOrAbove, 1, fine,
			"wsgate: frames were dropped because a connection's queue was full (PushesDropped); those connections were closed. Pushes outpace the @connections rate: raise WSGATE_PUSH_RATE within the quota or push less often."},
	}
	if unresolvedNumber(desired) || *desired > 0 {
		specs = append(specs, alarmSpec{"UnhealthyTasksAlarm", r.MetricHealthyTasks(nil), desired,
			awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 3, awscloudwatch.TreatMissingData_BREACHING,
			"wsgate: fewer tasks pass the load balancer's health check than the service's desired count, for 3 minutes. Check the ECS service's events and the server's logs; clients cannot connect while no task is healthy."})
	}
	created := make([]awscloudwatch.Alarm, len(specs))
	for i, s := range specs {
		created[i] = r.addAlarm(s, o)
	}
	r.IntegrationErrorsAlarm, r.ExecutionErrorsAlarm, r.PushesFailedAlarm, r.PushesDroppedAlarm = created[0], created[1], created[2], created[3]
	if len(created) > 4 {
		r.UnhealthyTasksAlarm = created[4]
	}
}

// addAlarm creates one alarm and sends its ALARM and OK transitions to
// the topic, if there is one.
func (r *RealtimeService) addAlarm(s alarmSpec, o *MonitoringOptions) awscloudwatch.Alarm {
	a := awscloudwatch.NewAlarm(r, jsii.String(s.id), &awscloudwatch.AlarmProps{
		Metric:             s.metric,
		Threshold:          s.threshold,
		ComparisonOperator: s.comparison,
		EvaluationPeriods:  jsii.Number(s.periods),
		DatapointsToAlarm:  jsii.Number(s.periods),
		TreatMissingData:   s.missing,
		AlarmDescription:   jsii.String(s.description),
	})
	if o.AlarmTopic != nil {
		action := awscloudwatchactions.NewSnsAction(o.AlarmTopic)
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}
	return a
}
