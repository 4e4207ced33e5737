package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/wsgate/wsgate/contract"
)

// ApiGatewayNamespace is the CloudWatch namespace of API Gateway's stage
// metrics, dimensioned by ApiId and Stage.
const ApiGatewayNamespace = "AWS/ApiGateway"

// Statistics the metric methods default to.
const (
	statSum     = "Sum"
	statAverage = "Average"
	statMaximum = "Maximum"
	statMinimum = "Minimum"
)

// defaultMetricPeriod is the period of every metric method unless the
// options say otherwise, as in CDK's own metric methods.
func defaultMetricPeriod() awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(5)) }

// newMetric builds a metric with its defaults, then applies the caller's
// options (which win, as with CDK's metricXxx methods).
func newMetric(namespace, name string, dims map[string]*string, statistic string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	m := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(namespace),
		MetricName:    jsii.String(name),
		DimensionsMap: &dims,
		Statistic:     jsii.String(statistic),
		Period:        defaultMetricPeriod(),
	})
	if opts != nil {
		m = m.With(opts)
	}
	return m
}

// stageMetric is one of API Gateway's metrics of a WebSocket stage.
func stageMetric(apiID, stage *string, name, statistic string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return newMetric(ApiGatewayNamespace, name, map[string]*string{"ApiId": apiID, "Stage": stage}, statistic, opts)
}

// Metric is the stage's metric of the given name in AWS/ApiGateway, with
// the ApiId and Stage dimensions.
// Default: the Average over 5 minutes.
func (w *WebSocketApi) Metric(metricName *string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(w.ApiId(), w.StageName(), *metricName, statAverage, opts)
}

// MetricConnectCount is the number of messages sent to the $connect route.
// Default: the Sum over 5 minutes.
func (w *WebSocketApi) MetricConnectCount(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(w.ApiId(), w.StageName(), "ConnectCount", statSum, opts)
}

// MetricMessageCount is the number of messages sent to the API, from or to
// clients.
// Default: the Sum over 5 minutes.
func (w *WebSocketApi) MetricMessageCount(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(w.ApiId(), w.StageName(), "MessageCount", statSum, opts)
}

// MetricIntegrationError is the number of requests the integration
// answered with a 4XX or 5XX.
// Default: the Sum over 5 minutes.
func (w *WebSocketApi) MetricIntegrationError(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(w.ApiId(), w.StageName(), "IntegrationError", statSum, opts)
}

// MetricClientError is the number of requests API Gateway answered with a
// 4XX before calling the integration (refused handshakes, throttling,
// oversize frames).
// Default: the Sum over 5 minutes.
func (w *WebSocketApi) MetricClientError(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(w.ApiId(), w.StageName(), "ClientError", statSum, opts)
}

// MetricExecutionError is the number of errors while calling the
// integration (unreachable backend, timeouts, configuration errors).
// Default: the Sum over 5 minutes.
func (w *WebSocketApi) MetricExecutionError(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(w.ApiId(), w.StageName(), "ExecutionError", statSum, opts)
}

// MetricIntegrationLatency is the time between API Gateway calling the
// integration and its answer, in milliseconds.
// Default: the Average over 5 minutes.
func (w *WebSocketApi) MetricIntegrationLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric(w.ApiId(), w.StageName(), "IntegrationLatency", statAverage, opts)
}

// serverStatistic is the default statistic of each server metric: counts
// add up, gauges (which every task reports on an interval) take the
// highest report, durations average.
var serverStatistic = map[string]string{
	contract.MetricIntegrationRequests: statSum,
	contract.MetricIntegrationLatency:  statAverage,
	contract.MetricSessions:            statMaximum,
	contract.MetricViewModels:          statMaximum,
	contract.MetricPushesSent:          statSum,
	contract.MetricPushesRetried:       statSum,
	contract.MetricPushesGone:          statSum,
	contract.MetricPushesFailed:        statSum,
	contract.MetricPushesDropped:       statSum,
	contract.MetricPushLatency:         statAverage,
	contract.MetricPacerWait:           statAverage,
}

// serverMetric is one of the server's metrics (namespace Wsgate) with the
// ServiceName dimension, plus extra dimensions when given.
func (r *RealtimeService) serverMetric(name string, extra map[string]*string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	dims := map[string]*string{contract.DimensionServiceName: r.MetricsServiceName}
	for k, v := range extra {
		dims[k] = v
	}
	stat, ok := serverStatistic[name]
	if !ok {
		stat = statAverage
	}
	return newMetric(contract.MetricNamespace, name, dims, stat, opts)
}

// Metric is the server's metric of the given name in the Wsgate namespace
// with the ServiceName dimension (see package contract for the names).
// Default: the statistic of the named metric method (Average for names
// without one) over 5 minutes.
func (r *RealtimeService) Metric(metricName *string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(*metricName, nil, opts)
}

// MetricIntegrationRequests is the number of integration requests the
// server answered, over all routes and outcomes.
// Default: the Sum over 5 minutes.
func (r *RealtimeService) MetricIntegrationRequests(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricIntegrationRequests, nil, opts)
}

// MetricIntegrationRequestsBy is the number of integration requests of one
// route ("$connect", "$default", "$disconnect") with one outcome ("ok",
// "rejected", "error"), the server's second dimension set.
// Default: the Sum over 5 minutes.
func (r *RealtimeService) MetricIntegrationRequestsBy(route, outcome *string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricIntegrationRequests, map[string]*string{
		contract.DimensionRoute:   route,
		contract.DimensionOutcome: outcome,
	}, opts)
}

// MetricIntegrationLatency is the server's time to answer an integration
// request, in milliseconds.
// Default: the Average over 5 minutes.
func (r *RealtimeService) MetricIntegrationLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricIntegrationLatency, nil, opts)
}

// MetricSessions is the number of live connections with a session.
// Default: the Maximum over 5 minutes.
func (r *RealtimeService) MetricSessions(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricSessions, nil, opts)
}

// MetricViewModels is the number of live view models.
// Default: the Maximum over 5 minutes.
func (r *RealtimeService) MetricViewModels(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricViewModels, nil, opts)
}

// MetricPushesSent is the number of frames API Gateway accepted.
// Default: the Sum over 5 minutes.
func (r *RealtimeService) MetricPushesSent(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricPushesSent, nil, opts)
}

// MetricPushesRetried is the number of pushes retried after a 429 or 5XX.
// Default: the Sum over 5 minutes.
func (r *RealtimeService) MetricPushesRetried(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricPushesRetried, nil, opts)
}

// MetricPushesGone is the number of pushes answered 410: the client had
// already left.
// Default: the Sum over 5 minutes.
func (r *RealtimeService) MetricPushesGone(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricPushesGone, nil, opts)
}

// MetricPushesFailed is the number of frames not delivered after the
// retries; the server closes such a connection so its client resyncs.
// Default: the Sum over 5 minutes.
func (r *RealtimeService) MetricPushesFailed(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricPushesFailed, nil, opts)
}

// MetricPushesDropped is the number of frames dropped because a
// connection's queue was full; the server closes that connection.
// Default: the Sum over 5 minutes.
func (r *RealtimeService) MetricPushesDropped(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricPushesDropped, nil, opts)
}

// MetricPushLatency is the time from queueing a frame to API Gateway
// accepting it, in milliseconds.
// Default: the Average over 5 minutes.
func (r *RealtimeService) MetricPushLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricPushLatency, nil, opts)
}

// MetricPacerWait is the time pushes waited for the pacer that keeps them
// under the @connections quota, in milliseconds.
// Default: the Average over 5 minutes.
func (r *RealtimeService) MetricPacerWait(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.serverMetric(contract.MetricPacerWait, nil, opts)
}

// MetricCpuUtilization is the service's CPU use in percent (AWS/ECS).
// Default: the Average over 5 minutes.
func (r *RealtimeService) MetricCpuUtilization(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.Service.MetricCpuUtilization(opts)
}

// MetricMemoryUtilization is the service's memory use in percent (AWS/ECS).
// Default: the Average over 5 minutes.
func (r *RealtimeService) MetricMemoryUtilization(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return r.Service.MetricMemoryUtilization(opts)
}

// MetricHealthyTasks is the number of tasks passing the load balancer's
// health check (AWS/NetworkELB HealthyHostCount). The Minimum, because with
// cross-zone load balancing each zone reports every target.
// Default: the Minimum over 1 minute.
func (r *RealtimeService) MetricHealthyTasks(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	m := r.TargetGroup.Metrics().HealthyHostCount(&awscloudwatch.MetricOptions{
		Statistic: jsii.String(statMinimum), Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	if opts != nil {
		m = m.With(opts)
	}
	return m
}

// MetricUnhealthyTasks is the number of tasks failing the load balancer's
// health check (AWS/NetworkELB UnHealthyHostCount).
// Default: the Maximum over 1 minute.
func (r *RealtimeService) MetricUnhealthyTasks(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	m := r.TargetGroup.Metrics().UnHealthyHostCount(&awscloudwatch.MetricOptions{
		Statistic: jsii.String(statMaximum), Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
	if opts != nil {
		m = m.With(opts)
	}
	return m
}
