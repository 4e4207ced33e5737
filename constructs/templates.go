package constructs

import "github.com/wsgate/wsgate/contract"

// Integration paths of dotNetify's Web API integration, relative to the
// backend's base URL.
const (
	// VMPath receives the $connect and $default routes.
	VMPath = contract.PathMessage
	// DisconnectPath receives the $disconnect route.
	DisconnectPath = contract.PathDisconnect
)

// TemplateSelectionExpression selects the "$default" request template for
// every message. The backslash is part of the value: API Gateway reads
// "\$default" as the literal key "$default", as dotNetify's template does.
const TemplateSelectionExpression = `\$default`

// userAgentExpr escapes the user agent for a JSON string. escapeJavaScript
// turns ' into \', which is not valid JSON, so the documented replaceAll
// undoes that one escape.
const userAgentExpr = `$util.escapeJavaScript($context.identity.userAgent).replaceAll("\\'","'")`

// ConnectRequestTemplate is the $connect request template. It produces
// dotNetify's body plus the client's source IP and user agent, which a .NET
// dotNetify server ignores:
//
//	{"connectionId":"…","sourceIp":"…","userAgent":"…"}
const ConnectRequestTemplate = `{
  "connectionId": "$context.connectionId",
  "sourceIp": "$context.identity.sourceIp",
  "userAgent": "` + userAgentExpr + `"
}`

// DefaultRequestTemplate is the $default request template: the connection
// context and the client's frame embedded as raw JSON:
//
//	{"connectionId":"…","sourceIp":"…","userAgent":"…","payload":<frame>}
const DefaultRequestTemplate = `{
  "connectionId": "$context.connectionId",
  "sourceIp": "$context.identity.sourceIp",
  "userAgent": "` + userAgentExpr + `",
  "payload": $input.body
}`

// DisconnectRequestTemplate is the $disconnect request template, exactly
// dotNetify's: {"connectionId":"…"}.
const DisconnectRequestTemplate = `{
  "connectionId": "$context.connectionId"
}`

// routeSpec describes one of the three routes: its key, the construct-id
// prefix of its resources, the backend path and the request template.
type routeSpec struct {
	key      string
	idPrefix string
	path     string
	template string
}

// routeSpecs lists the routes in the order they are created.
var routeSpecs = []routeSpec{
	{key: "$connect", idPrefix: "Connect", path: VMPath, template: ConnectRequestTemplate},
	{key: "$default", idPrefix: "Default", path: VMPath, template: DefaultRequestTemplate},
	{key: "$disconnect", idPrefix: "Disconnect", path: DisconnectPath, template: DisconnectRequestTemplate},
}
