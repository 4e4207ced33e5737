// Package cfn reads the API Gateway WebSocket APIs out of a CloudFormation
// template: CDK's synthesized JSON or hand-written YAML with short-form
// intrinsics (!Ref, !Sub, !GetAtt …). It resolves intrinsic functions, links
// routes to integrations, responses and authorizers, and reports a template
// it cannot serve with the resource and property at fault.
package cfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Resource types the gateway reads.
const (
	typeAPI                 = "AWS::ApiGatewayV2::Api"
	typeRoute               = "AWS::ApiGatewayV2::Route"
	typeIntegration         = "AWS::ApiGatewayV2::Integration"
	typeIntegrationResponse = "AWS::ApiGatewayV2::IntegrationResponse"
	typeRouteResponse       = "AWS::ApiGatewayV2::RouteResponse"
	typeStage               = "AWS::ApiGatewayV2::Stage"
	typeAuthorizer          = "AWS::ApiGatewayV2::Authorizer"
	typeAPIKey              = "AWS::ApiGateway::ApiKey"
)

// Integration types the gateway can run locally.
const (
	IntegrationHTTP      = "HTTP"
	IntegrationHTTPProxy = "HTTP_PROXY"
	IntegrationMock      = "MOCK"
	IntegrationAWSProxy  = "AWS_PROXY" // Lambda proxy
	IntegrationAWS       = "AWS"       // Lambda custom integration
)

// FunctionName returns the Lambda function a Lambda invocation URI
// (…:lambda:path/2015-03-31/functions/ARN/invocations) calls: the name in
// the function ARN, or the logical id when the ARN is the placeholder of a
// Fn::GetAtt (SAM's local Lambda runs functions under their logical ids).
func FunctionName(uri string) (string, bool) {
	_, rest, ok := strings.Cut(uri, ":lambda:path/2015-03-31/functions/")
	if !ok {
		return "", false
	}
	fn, ok := strings.CutSuffix(rest, "/invocations")
	if !ok || fn == "" {
		return "", false
	}
	if strings.HasPrefix(fn, "<") && strings.HasSuffix(fn, ">") {
		logical, _, _ := strings.Cut(fn[1:len(fn)-1], ".")
		return logical, true
	}
	if _, name, ok := strings.Cut(fn, ":function:"); ok {
		name, _, _ = strings.Cut(name, ":")
		return name, name != ""
	}
	return fn, true
}

// DefaultTimeout is the integration timeout when TimeoutInMillis is unset.
const DefaultTimeout = 29 * time.Second

// Options fill in what a real deployment would know.
type Options struct {
	Region    string // AWS::Region; default us-east-1
	AccountID string // AWS::AccountId; default 000000000000
	StackName string // AWS::StackName; default "local"
	// Secrets answers secretsmanager dynamic references
	// ({{resolve:secretsmanager:ID:SecretString:::}}) by secret id: the
	// logical id of a secret in the template (what Ref gives locally), or
	// the name or ARN written in the reference. A reference to a secret not
	// listed here fails the load.
	Secrets map[string]string
}

// API is one WebSocket API with everything a stage serves.
type API struct {
	ID                        string // logical id, used as the API id
	Name                      string
	RouteSelectionExpression  string
	ApiKeySelectionExpression string
	Routes                    map[string]*Route // by route key
	Stages                    []*Stage
	APIKeys                   []string // values of AWS::ApiGateway::ApiKey resources with a Value
}

// Route is an AWS::ApiGatewayV2::Route.
type Route struct {
	ID                               string
	Key                              string
	Integration                      *Integration // nil: no target
	AuthorizationType                string       // NONE, AWS_IAM or CUSTOM
	Authorizer                       *Authorizer
	ApiKeyRequired                   bool
	RouteResponseSelectionExpression string
	Responses                        map[string]bool // RouteResponseKey present
	RequestParameters                map[string]bool // route.request.… → required
}

// TwoWay reports whether the integration's answer goes back to the client:
// RouteResponseSelectionExpression $default plus a $default route response.
func (r *Route) TwoWay() bool {
	return r.RouteResponseSelectionExpression == "$default" && r.Responses["$default"]
}

// Integration is an AWS::ApiGatewayV2::Integration.
type Integration struct {
	ID                          string
	Type                        string
	URI                         string
	Method                      string
	ConnectionType              string
	PassthroughBehavior         string
	ContentHandlingStrategy     string
	RequestTemplates            map[string]string
	TemplateSelectionExpression string
	RequestParameters           map[string]string // integration.request.… → source
	Timeout                     time.Duration
	Responses                   []*IntegrationResponse
	Function                    string // Lambda function name (AWS_PROXY, AWS)
}

// IntegrationResponse is an AWS::ApiGatewayV2::IntegrationResponse.
type IntegrationResponse struct {
	ID                          string
	Key                         string // $default or /regex/
	ResponseTemplates           map[string]string
	TemplateSelectionExpression string
}

// Authorizer is an AWS::ApiGatewayV2::Authorizer.
type Authorizer struct {
	ID             string
	Type           string
	URI            string
	Function       string // Lambda function name
	IdentitySource []string
}

// Stage is an AWS::ApiGatewayV2::Stage.
type Stage struct {
	ID              string
	Name            string
	Variables       map[string]string
	DefaultSettings RouteSettings
	RouteSettings   map[string]RouteSettings
	AccessLogFormat string
}

// RouteSettings holds the throttling limits of a stage or route.
type RouteSettings struct {
	BurstLimit int     // 0: not set
	RateLimit  float64 // requests per second; 0: not set
}

// document is the raw template.
type document struct {
	Parameters map[string]map[string]any `json:"Parameters"`
	Mappings   map[string]any            `json:"Mappings"`
	Conditions map[string]any            `json:"Conditions"`
	Resources  map[string]*resource      `json:"Resources"`
}

type resource struct {
	Type       string         `json:"Type"`
	Condition  string         `json:"Condition"`
	Properties map[string]any `json:"Properties"`
}

// Load reads a template file.
func Load(path string, opts Options) ([]*API, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	apis, err := Parse(data, opts)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return apis, nil
}

// Parse reads the WebSocket APIs of a JSON or YAML template.
func Parse(data []byte, opts Options) ([]*API, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.StackName == "" {
		opts.StackName = "local"
	}
	b, err := newBuilder(data, opts)
	if err != nil {
		return nil, err
	}
	if err := b.build(); err != nil {
		return nil, err
	}
	if len(b.apis) == 0 {
		return nil, fmt.Errorf("no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET")
	}
	out := make([]*API, 0, len(b.apis))
	for _, a := range b.apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// newBuilder decodes a template and evaluates its conditions.
func newBuilder(data []byte, opts Options) (*builder, error) {
	doc, err := decode(data)
	if err != nil {
		return nil, err
	}
	if len(doc.Resources) == 0 {
		return nil, fmt.Errorf("no Resources")
	}
	r := &resolver{doc: doc, opts: opts}
	if err := r.evalConditions(); err != nil {
		return nil, err
	}
	return &builder{r: r, apis: map[string]*API{}, integrations: map[string]*Integration{}, routes: map[string]*Route{}, authorizers: map[string]*Authorizer{}}, nil
}

// decode parses JSON, or YAML with short-form intrinsics turned into their
// long form.
func decode(data []byte) (*document, error) {
	trimmed := bytes.TrimSpace(data)
	var raw any
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
	} else {
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
		v, err := fromYAML(&n)
		if err != nil {
			return nil, err
		}
		raw = v
	}
	if _, ok := raw.(map[string]any); !ok {
		return nil, fmt.Errorf("a template must be a map with Resources")
	}
	// Round-trip through JSON to fill the typed document.
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	var doc document
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("template structure: %w", err)
	}
	return &doc, nil
}

// fromYAML converts a YAML node to plain values, rewriting tags such as !Sub
// to {"Fn::Sub": …} and !GetAtt a.b to {"Fn::GetAtt": ["a", "b"]}.
func fromYAML(n *yaml.Node) (any, error) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromYAML(n.Content[0])
	}
	if n.Kind == yaml.AliasNode {
		return fromYAML(n.Alias)
	}
	tag := n.Tag
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	}
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return v, nil
	}
	name := tag[1:]
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// builder turns resolved resources into the API model.
type builder struct {
	r            *resolver
	apis         map[string]*API
	integrations map[string]*Integration
	routes       map[string]*Route
	authorizers  map[string]*Authorizer
	props        map[string]map[string]any // resolved properties by logical id
}

// propError names the resource and property a template problem is in.
func propError(id, prop, format string, args ...any) error {
	return fmt.Errorf("resource %s, property %s: %s", id, prop, fmt.Sprintf(format, args...))
}

// apiResourceIDs lists the API Gateway resources the template creates, in
// order.
func (b *builder) apiResourceIDs() []string {
	ids := make([]string, 0, len(b.r.doc.Resources))
	for id, res := range b.r.doc.Resources {
		if res == nil || !strings.HasPrefix(res.Type, "AWS::ApiGateway") {
			continue
		}
		if res.Condition != "" && !b.r.conditions[res.Condition] {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (b *builder) build() error {
	b.props = map[string]map[string]any{}
	ids := b.apiResourceIDs()
	for _, id := range ids {
		v, err := b.r.resolve(map[string]any(b.r.doc.Resources[id].Properties))
		if err != nil {
			return fmt.Errorf("resource %s: %w", id, err)
		}
		// CloudFormation resolves dynamic references after the intrinsic
		// functions, so a reference assembled by Fn::Join resolves too.
		if v, err = substituteSecrets(v, b.r.opts.secretValue); err != nil {
			return fmt.Errorf("resource %s: %w", id, err)
		}
		p, _ := v.(map[string]any)
		if p == nil {
			p = map[string]any{}
		}
		b.props[id] = p
	}
	// Order matters: APIs, then what routes refer to, then routes, then what
	// refers to routes.
	steps := []struct {
		typ string
		fn  func(id string, p map[string]any) error
	}{
		{typeAPI, b.api},
		{typeAPIKey, b.apiKey},
		{typeIntegration, b.integration},
		{typeAuthorizer, b.authorizer},
		{typeIntegrationResponse, b.integrationResponse},
		{typeRoute, b.route},
		{typeRouteResponse, b.routeResponse},
		{typeStage, b.stage},
	}
	for _, s := range steps {
		for _, id := range ids {
			if b.r.doc.Resources[id].Type != s.typ {
				continue
			}
			if err := s.fn(id, b.props[id]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *builder) api(id string, p map[string]any) error {
	if str(p["ProtocolType"]) != "WEBSOCKET" {
		return nil
	}
	rse := str(p["RouteSelectionExpression"])
	if rse == "" {
		return propError(id, "RouteSelectionExpression", "required for a WEBSOCKET API")
	}
	b.apis[id] = &API{
		ID: id, Name: str(p["Name"]), RouteSelectionExpression: rse,
		ApiKeySelectionExpression: orDefault(str(p["ApiKeySelectionExpression"]), "$request.header.x-api-key"),
		Routes:                    map[string]*Route{},
	}
	return nil
}

func (b *builder) apiKey(id string, p map[string]any) error {
	if v := str(p["Value"]); v != "" {
		for _, a := range b.apis {
			a.APIKeys = append(a.APIKeys, v)
		}
	}
	return nil
}

// owner returns the WebSocket API a child resource belongs to, or nil for
// children of other (HTTP) APIs.
func (b *builder) owner(id string, p map[string]any) (*API, error) {
	apiID := str(p["ApiId"])
	if apiID == "" {
		return nil, propError(id, "ApiId", "required")
	}
	if a, ok := b.apis[apiID]; ok {
		return a, nil
	}
	if res, ok := b.r.doc.Resources[apiID]; ok && res.Type == typeAPI {
		return nil, nil
	}
	return nil, propError(id, "ApiId", "%q is not an AWS::ApiGatewayV2::Api of this template", apiID)
}

func (b *builder) integration(id string, p map[string]any) error {
	a, err := b.owner(id, p)
	if a == nil {
		return err
	}
	in := &Integration{
		ID: id, Type: str(p["IntegrationType"]), URI: str(p["IntegrationUri"]),
		Method:                      orDefault(str(p["IntegrationMethod"]), "POST"),
		ConnectionType:              orDefault(str(p["ConnectionType"]), "INTERNET"),
		PassthroughBehavior:         orDefault(str(p["PassthroughBehavior"]), "WHEN_NO_MATCH"),
		ContentHandlingStrategy:     str(p["ContentHandlingStrategy"]),
		TemplateSelectionExpression: str(p["TemplateSelectionExpression"]),
		Timeout:                     DefaultTimeout,
	}
	switch in.Type {
	case IntegrationHTTP, IntegrationHTTPProxy:
		if in.URI == "" {
			return propError(id, "IntegrationUri", "required for %s integrations", in.Type)
		}
	case IntegrationMock:
	case IntegrationAWSProxy, IntegrationAWS:
		fn, ok := FunctionName(in.URI)
		if !ok {
			return propError(id, "IntegrationUri", "%q: of AWS services only Lambda functions (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations) run locally", in.URI)
		}
		in.Function = fn
	case "":
		return propError(id, "IntegrationType", "required")
	default:
		return propError(id, "IntegrationType", "%s is not supported by the local gateway (supported: HTTP, HTTP_PROXY, MOCK, AWS_PROXY and AWS with Lambda)", in.Type)
	}
	switch in.PassthroughBehavior {
	case "WHEN_NO_MATCH", "NEVER", "WHEN_NO_TEMPLATES":
	default:
		return propError(id, "PassthroughBehavior", "%q is not one of WHEN_NO_MATCH, NEVER, WHEN_NO_TEMPLATES", in.PassthroughBehavior)
	}
	if t, ok := p["TimeoutInMillis"]; ok {
		ms, err := number(t)
		if err != nil || ms < 50 || ms > 29000 {
			return propError(id, "TimeoutInMillis", "%v is outside 50–29000", t)
		}
		in.Timeout = time.Duration(ms) * time.Millisecond
	}
	var err2 error
	if in.RequestTemplates, err2 = stringMap(p["RequestTemplates"]); err2 != nil {
		return propError(id, "RequestTemplates", "%v", err2)
	}
	if in.RequestParameters, err2 = stringMap(p["RequestParameters"]); err2 != nil {
		return propError(id, "RequestParameters", "%v", err2)
	}
	b.integrations[id] = in
	return nil
}

func (b *builder) authorizer(id string, p map[string]any) error {
	a, err := b.owner(id, p)
	if a == nil {
		return err
	}
	au := &Authorizer{ID: id, Type: str(p["AuthorizerType"]), URI: str(p["AuthorizerUri"])}
	if au.Type != "REQUEST" {
		return propError(id, "AuthorizerType", "%q: WebSocket APIs support REQUEST authorizers only", au.Type)
	}
	fn, ok := FunctionName(au.URI)
	if !ok {
		return propError(id, "AuthorizerUri", "%q is not a Lambda invocation URI", au.URI)
	}
	au.Function = fn
	if l, ok := p["IdentitySource"].([]any); ok {
		for _, s := range l {
			au.IdentitySource = append(au.IdentitySource, str(s))
		}
	}
	b.authorizers[id] = au
	return nil
}

func (b *builder) integrationResponse(id string, p map[string]any) error {
	a, err := b.owner(id, p)
	if a == nil {
		return err
	}
	in, ok := b.integrations[str(p["IntegrationId"])]
	if !ok {
		return propError(id, "IntegrationId", "%q is not an integration of this template", str(p["IntegrationId"]))
	}
	key := str(p["IntegrationResponseKey"])
	if key != "$default" && !(len(key) >= 2 && key[0] == '/' && key[len(key)-1] == '/') {
		return propError(id, "IntegrationResponseKey", "%q is neither $default nor a /regex/", key)
	}
	templates, err := stringMap(p["ResponseTemplates"])
	if err != nil {
		return propError(id, "ResponseTemplates", "%v", err)
	}
	in.Responses = append(in.Responses, &IntegrationResponse{
		ID: id, Key: key, ResponseTemplates: templates,
		TemplateSelectionExpression: str(p["TemplateSelectionExpression"]),
	})
	return nil
}

func (b *builder) route(id string, p map[string]any) error {
	a, err := b.owner(id, p)
	if a == nil {
		return err
	}
	key := str(p["RouteKey"])
	if key == "" {
		return propError(id, "RouteKey", "required")
	}
	if _, dup := a.Routes[key]; dup {
		return propError(id, "RouteKey", "%q is defined twice in API %s", key, a.ID)
	}
	rt := &Route{
		ID: id, Key: key, AuthorizationType: orDefault(str(p["AuthorizationType"]), "NONE"),
		ApiKeyRequired:                   p["ApiKeyRequired"] == true || str(p["ApiKeyRequired"]) == "true",
		RouteResponseSelectionExpression: str(p["RouteResponseSelectionExpression"]),
		Responses:                        map[string]bool{},
		RequestParameters:                map[string]bool{},
	}
	if t := str(p["Target"]); t != "" {
		integID, ok := strings.CutPrefix(t, "integrations/")
		if !ok {
			return propError(id, "Target", "%q must be integrations/<IntegrationId>", t)
		}
		in, ok := b.integrations[integID]
		if !ok {
			return propError(id, "Target", "%q does not name an integration of this template", t)
		}
		rt.Integration = in
	}
	switch rt.AuthorizationType {
	case "NONE", "AWS_IAM":
	case "CUSTOM":
		au, ok := b.authorizers[str(p["AuthorizerId"])]
		if !ok {
			return propError(id, "AuthorizerId", "%q is not an authorizer of this template", str(p["AuthorizerId"]))
		}
		rt.Authorizer = au
	default:
		return propError(id, "AuthorizationType", "%q is not one of NONE, AWS_IAM, CUSTOM", rt.AuthorizationType)
	}
	if rt.AuthorizationType != "NONE" && key != "$connect" {
		return propError(id, "AuthorizationType", "authorization is only allowed on the $connect route, not %q", key)
	}
	if m, ok := p["RequestParameters"].(map[string]any); ok {
		for k, v := range m {
			req, _ := v.(map[string]any)
			rt.RequestParameters[k] = req["Required"] == true || str(req["Required"]) == "true"
		}
	}
	a.Routes[key] = rt
	b.routes[id] = rt
	return nil
}

func (b *builder) routeResponse(id string, p map[string]any) error {
	a, err := b.owner(id, p)
	if a == nil {
		return err
	}
	rt, ok := b.routes[str(p["RouteId"])]
	if !ok {
		return propError(id, "RouteId", "%q is not a route of this template", str(p["RouteId"]))
	}
	key := str(p["RouteResponseKey"])
	if key != "$default" {
		return propError(id, "RouteResponseKey", "%q: only $default is supported", key)
	}
	rt.Responses[key] = true
	return nil
}

func (b *builder) stage(id string, p map[string]any) error {
	a, err := b.owner(id, p)
	if a == nil {
		return err
	}
	name := str(p["StageName"])
	if name == "" || len(name) > 128 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return propError(id, "StageName", "%q must be 1–128 characters of [A-Za-z0-9_-]", name)
	}
	st := &Stage{ID: id, Name: name, RouteSettings: map[string]RouteSettings{}}
	if st.Variables, err = stringMap(p["StageVariables"]); err != nil {
		return propError(id, "StageVariables", "%v", err)
	}
	if st.DefaultSettings, err = routeSettings(p["DefaultRouteSettings"]); err != nil {
		return propError(id, "DefaultRouteSettings", "%v", err)
	}
	if m, ok := p["RouteSettings"].(map[string]any); ok {
		for k, v := range m {
			if st.RouteSettings[k], err = routeSettings(v); err != nil {
				return propError(id, "RouteSettings."+k, "%v", err)
			}
		}
	}
	if als, ok := p["AccessLogSettings"].(map[string]any); ok {
		st.AccessLogFormat = str(als["Format"])
		if st.AccessLogFormat != "" && !strings.Contains(st.AccessLogFormat, "$context.requestId") {
			return propError(id, "AccessLogSettings.Format", "must contain $context.requestId")
		}
	}
	a.Stages = append(a.Stages, st)
	return nil
}

func routeSettings(v any) (RouteSettings, error) {
	m, _ := v.(map[string]any)
	var rs RouteSettings
	if x, ok := m["ThrottlingBurstLimit"]; ok {
		n, err := number(x)
		if err != nil || n < 0 {
			return rs, fmt.Errorf("ThrottlingBurstLimit %v is not a non-negative number", x)
		}
		rs.BurstLimit = int(n)
	}
	if x, ok := m["ThrottlingRateLimit"]; ok {
		n, err := number(x)
		if err != nil || n < 0 {
			return rs, fmt.Errorf("ThrottlingRateLimit %v is not a non-negative number", x)
		}
		rs.RateLimit = n
	}
	return rs, nil
}

func stringMap(v any) (map[string]string, error) {
	out := map[string]string{}
	if v == nil {
		return out, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a map of strings")
	}
	for k, e := range m {
		switch e.(type) {
		case map[string]any, []any:
			return nil, fmt.Errorf("value of %q must be a string", k)
		}
		out[k] = str(e)
	}
	return out, nil
}

func number(v any) (float64, error) {
	switch t := v.(type) {
	case float64:
		return t, nil
	case string:
		var f float64
		_, err := fmt.Sscanf(t, "%g", &f)
		return f, err
	}
	return 0, fmt.Errorf("not a number")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
