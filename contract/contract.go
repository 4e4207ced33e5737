// Package contract holds the names the parts of wsgate agree on: the integration paths and
// headers API Gateway sends to the server, the server's WSGATE_* environment, and the local
// gateway's default credentials. The constructs, the server, the local gateway, the CLI and
// the benchmarks import it; it imports nothing, so neither the constructs pull in the
// server's runtime nor the server pulls in jsii.
package contract

// Integration paths of dotNetify's Web API integration, relative to the backend's base URL.
const (
	// PathMessage receives the $connect and $default routes.
	PathMessage = "/api/dotnetify/vm"
	// PathDisconnect receives the $disconnect route.
	PathDisconnect = "/api/dotnetify/vm/disconnect"
	// PathHealth is the server's health check.
	PathHealth = "/healthz"
)

// Headers the integrations set from API Gateway's $context (request parameters), where a
// client cannot write. When present, the server takes the connection's identity from them
// and refuses a body that disagrees.
const (
	// HeaderConnectionID carries $context.connectionId.
	HeaderConnectionID = "X-Wsgate-Connection-Id"
	// HeaderSourceIP carries $context.identity.sourceIp.
	HeaderSourceIP = "X-Wsgate-Source-Ip"
	// HeaderUserAgent carries $context.identity.userAgent.
	HeaderUserAgent = "X-Wsgate-User-Agent"
	// HeaderSecret carries the integration secret the server requires when it has one.
	HeaderSecret = "X-Wsgate-Secret"
	// HeaderPrincipal carries the principal $connect's authorizer admitted: a Lambda
	// authorizer's $context.authorizer.principalId, or with IAM authorization the
	// caller's $context.identity.userArn. Set on the $connect integration only.
	HeaderPrincipal = "X-Wsgate-Principal"
	// HeaderAuthorizerPrefix starts the headers carrying further keys of a Lambda
	// authorizer's context on $connect: X-Wsgate-Authorizer-<key> holds
	// $context.authorizer.<key>.
	HeaderAuthorizerPrefix = "X-Wsgate-Authorizer-"
)

// The server's metrics, written as CloudWatch Embedded Metric Format records to stdout,
// which the awslogs driver turns into CloudWatch metrics. The constructs chart and alarm
// on these names, so the server must emit exactly them.
const (
	// MetricNamespace is the CloudWatch namespace of every server metric.
	MetricNamespace = "Wsgate"
	// DimensionServiceName is on every server metric; its value comes from EnvServiceName.
	DimensionServiceName = "ServiceName"
	// DimensionRoute and DimensionOutcome are added to MetricIntegrationRequests in a
	// second dimension set (ServiceName, Route, Outcome), next to ServiceName alone.
	DimensionRoute   = "Route"
	DimensionOutcome = "Outcome"

	MetricIntegrationRequests = "IntegrationRequests" // Count, per integration request
	MetricIntegrationLatency  = "IntegrationLatency"  // Milliseconds, per integration request
	MetricSessions            = "Sessions"            // Count, live connections with a session
	MetricViewModels          = "ViewModels"          // Count, live view models
	MetricPushesSent          = "PushesSent"          // Count, frames API Gateway accepted
	MetricPushesRetried       = "PushesRetried"       // Count, retries after a 429 or 5xx
	MetricPushesGone          = "PushesGone"          // Count, 410: the client had left
	MetricPushesFailed        = "PushesFailed"        // Count, frames not delivered after retries
	MetricPushesDropped       = "PushesDropped"       // Count, frames dropped by a full queue
	MetricPushLatency         = "PushLatency"         // Milliseconds, queue to accepted
	MetricPacerWait           = "PacerWait"           // Milliseconds spent waiting on the pacer
	// MetricLimitRefusals counts what a per-connection limit refused (Count), with
	// DimensionLimit in a second dimension set (ServiceName, Limit).
	MetricLimitRefusals = "LimitRefusals"
	DimensionLimit      = "Limit"
)

// Values of DimensionLimit: which per-connection limit refused the client.
const (
	LimitVMIDBytes        = "VMIdBytes"        // EnvMaxVMIDBytes: the connection was closed
	LimitVMDepth          = "VMDepth"          // EnvMaxVMDepth: the request_vm got an exception
	LimitVMsPerConnection = "VMsPerConnection" // EnvMaxVMsPerConnection: the request_vm got an exception
	LimitPendingBytes     = "PendingBytes"     // EnvMaxPendingBytes: the connection was closed
	LimitFrameBytes       = "FrameBytes"       // a frame over 128 KiB became an exception
	LimitPushQueue        = "PushQueue"        // EnvMaxQueuedBytes or EnvMaxQueuedFrames: the connection was closed
)

// Values of DimensionRoute (API Gateway's route keys) and DimensionOutcome.
const (
	RouteConnect    = "$connect"
	RouteDefault    = "$default"
	RouteDisconnect = "$disconnect"

	OutcomeOK       = "ok"       // 2xx
	OutcomeRejected = "rejected" // 4xx: the request was refused
	OutcomeError    = "error"    // 5xx: the server failed
)

// The server's environment.
const (
	EnvCallbackURL       = "WSGATE_CALLBACK_URL"
	EnvListenAddr        = "WSGATE_LISTEN_ADDR"
	EnvRegion            = "WSGATE_REGION"
	EnvIntegrationSecret = "WSGATE_INTEGRATION_SECRET"
	EnvPushRate          = "WSGATE_PUSH_RATE"
	EnvPushBurst         = "WSGATE_PUSH_BURST"
	EnvPushConcurrency   = "WSGATE_PUSH_CONCURRENCY"
	EnvLogLevel          = "WSGATE_LOG_LEVEL"
	// EnvDrainWindow is how long /healthz answers 503 on SIGTERM before the listener closes.
	EnvDrainWindow = "WSGATE_DRAIN_WINDOW"
	// EnvServiceName is the value of the server metrics' ServiceName dimension.
	EnvServiceName = "WSGATE_SERVICE_NAME"
	// EnvMetricsInterval is how often the server writes its metrics as Embedded Metric
	// Format records to stdout (a duration; 0 turns them off).
	EnvMetricsInterval = "WSGATE_METRICS_INTERVAL"
	// EnvMetricsAddr is the address of the Prometheus endpoint (GET /metrics); empty: none.
	EnvMetricsAddr = "WSGATE_METRICS_ADDR"

	// Limits of the view-model runtime per connection (see server/vm's Default… values).
	EnvMaxVMIDBytes        = "WSGATE_MAX_VMID_BYTES"
	EnvMaxVMDepth          = "WSGATE_MAX_VM_DEPTH"
	EnvMaxVMsPerConnection = "WSGATE_MAX_VMS_PER_CONNECTION"
	EnvMaxPendingBytes     = "WSGATE_MAX_PENDING_BYTES"

	// Bounds of the push queue per connection (see server/push's Default… values).
	EnvMaxQueuedBytes  = "WSGATE_MAX_QUEUED_BYTES"
	EnvMaxQueuedFrames = "WSGATE_MAX_QUEUED_FRAMES"
)

// The local gateway's credentials for @connections callers: environment names and defaults.
const (
	EnvLocalAccessKeyID     = "WSGATE_LOCAL_ACCESS_KEY_ID"
	EnvLocalSecretAccessKey = "WSGATE_LOCAL_SECRET_ACCESS_KEY"
	EnvLocalRegion          = "WSGATE_LOCAL_REGION"

	DefaultLocalAccessKeyID     = "AKIAWSGATELOCAL00000"
	DefaultLocalSecretAccessKey = "wsgate-local-secret"
	DefaultLocalRegion          = "us-east-1"
)

// The local gateway's admin API (/_wsgate/…). Callers send HeaderAdmin: AdminHeaderValue and,
// with a body, Content-Type: application/json; a web page cannot send either cross-origin
// without a preflight, which the admin API never grants.
const (
	AdminPathPrefix  = "/_wsgate/"
	HeaderAdmin      = "X-Wsgate-Admin"
	AdminHeaderValue = "1"
)
