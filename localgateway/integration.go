package localgateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/localgateway/selection"
	"github.com/wsgate/wsgate/localgateway/vtl"
)

// Event types of $context.eventType.
const (
	eventConnect    = "CONNECT"
	eventMessage    = "MESSAGE"
	eventDisconnect = "DISCONNECT"
)

// maxIntegrationResponse bounds what the gateway reads from a backend.
const maxIntegrationResponse = 10 << 20

// event is one call of a route's integration.
type event struct {
	eventType   string
	routeKey    string
	requestID   string
	messageID   string // MESSAGE only
	requestTime time.Time
	body        []byte
	connect     *http.Request // CONNECT only: the upgrade request
	discCode    int           // DISCONNECT only
	discReason  string
	domainName  string
}

// result is what an integration produced.
type result struct {
	status  int
	header  http.Header
	body    []byte
	latency time.Duration
}

// Integration failures the client sees as error frames.
var (
	errTimeout     = errors.New("Endpoint request timed out")
	errIntegration = errors.New("Internal server error")
	errNoTemplate  = errors.New("Unsupported Media Type")
)

// context returns the $context variables of an event.
func (g *Gateway) context(c *conn, ev *event) map[string]any {
	m := map[string]any{
		"connectionId":      c.id,
		"connectedAt":       c.connectedAt.UnixMilli(),
		"domainName":        ev.domainName,
		"eventType":         ev.eventType,
		"routeKey":          ev.routeKey,
		"requestId":         ev.requestID,
		"extendedRequestId": ev.requestID,
		"apiId":             g.api.ID,
		"stage":             g.stage.Name,
		"requestTime":       ev.requestTime.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		"requestTimeEpoch":  ev.requestTime.UnixMilli(),
		"messageDirection":  "IN",
		"identity":          map[string]any{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
	}
	if ev.messageID != "" {
		m["messageId"] = ev.messageID
	}
	if ev.eventType == eventDisconnect {
		m["disconnectStatusCode"] = ev.discCode
		m["disconnectReason"] = ev.discReason
	}
	if c.authorizer != nil {
		m["authorizer"] = authorizerContext(c.authorizer)
	}
	for k, v := range m {
		if n, ok := v.(int64); ok {
			m[k] = float64(n)
		}
		if n, ok := v.(int); ok {
			m[k] = float64(n)
		}
	}
	return m
}

// invoke runs a route's integration for one event.
func (g *Gateway) invoke(ctx context.Context, c *conn, route *cfn.Route, ev *event) (*result, error) {
	in := route.Integration
	if in == nil {
		return &result{status: http.StatusOK}, nil
	}
	timeout := in.Timeout
	if g.cfg.IntegrationTimeout > 0 && g.cfg.IntegrationTimeout < timeout {
		timeout = g.cfg.IntegrationTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	vars := g.templateVars(c, ev)
	var res *result
	var err error
	switch in.Type {
	case cfn.IntegrationMock:
		res, err = g.mock(in, ev, vars)
	case cfn.IntegrationAWSProxy:
		res, err = g.lambdaProxy(ctx, c, in, ev)
	case cfn.IntegrationAWS:
		res, err = g.lambdaCustom(ctx, in, ev, vars)
	default:
		res, err = g.httpCall(ctx, c, route, in, ev, vars)
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errTimeout
		}
		return nil, err
	}
	res.latency = time.Since(start)
	return res, nil
}

// templateVars are the variables of request and response templates.
func (g *Gateway) templateVars(c *conn, ev *event) map[string]any {
	input := &vtl.Input{Body: string(ev.body), Header: map[string]string{}, QueryString: map[string]string{}, Path: map[string]string{}}
	if r := ev.connect; r != nil {
		for k := range r.Header {
			input.Header[k] = r.Header.Get(k)
		}
		for k, v := range r.URL.Query() {
			input.QueryString[k] = v[0]
		}
	}
	stageVars := map[string]any{}
	for k, v := range g.stage.Variables {
		stageVars[k] = v
	}
	return map[string]any{"context": g.context(c, ev), "input": input, "util": vtl.Util{}, "stageVariables": stageVars}
}

// requestBody selects and renders the request template, or passes the body
// through as PassthroughBehavior allows.
func requestBody(in *cfn.Integration, ev *event, vars map[string]any) ([]byte, error) {
	tpl, found := selectTemplate(in.RequestTemplates, in.TemplateSelectionExpression, ev.body)
	if !found {
		switch {
		case in.PassthroughBehavior == "NEVER",
			in.PassthroughBehavior == "WHEN_NO_TEMPLATES" && len(in.RequestTemplates) > 0:
			return nil, errNoTemplate
		}
		return passthrough(in, ev.body)
	}
	return render(tpl, vars)
}

// passthrough is the body sent unchanged, except that CONVERT_TO_BINARY
// decodes the base64 text clients must send instead of binary frames.
func passthrough(in *cfn.Integration, body []byte) ([]byte, error) {
	if in.ContentHandlingStrategy != "CONVERT_TO_BINARY" || len(body) == 0 {
		return body, nil
	}
	out, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: CONVERT_TO_BINARY: the message is not base64: %v", errIntegration, err)
	}
	return out, nil
}

// parsed holds the templates render has parsed, by source: a route's templates are
// rendered for every message, and a parsed template is read-only. At most
// maxParsedTemplates are kept; any beyond are parsed on each use.
var (
	parsed      sync.Map // string → *vtl.Template
	parsedCount atomic.Int32
)

const maxParsedTemplates = 1024

func parseTemplate(src string) (*vtl.Template, error) {
	if t, ok := parsed.Load(src); ok {
		return t.(*vtl.Template), nil
	}
	t, err := vtl.Parse(src)
	if err != nil {
		return nil, err
	}
	if parsedCount.Load() < maxParsedTemplates {
		if _, loaded := parsed.LoadOrStore(src, t); !loaded {
			parsedCount.Add(1)
		}
	}
	return t, nil
}

func render(src string, vars map[string]any) ([]byte, error) {
	t, err := parseTemplate(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntegration, err)
	}
	out, err := t.Render(vars)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntegration, err)
	}
	return []byte(out), nil
}

// selectTemplate picks a template: with a selection expression, its value,
// then $default; without one, $default, application/json, then the only
// template there is.
func selectTemplate(templates map[string]string, expr string, body []byte) (string, bool) {
	if len(templates) == 0 {
		return "", false
	}
	if expr != "" {
		lookup, _ := selection.BodyLookup(body)
		if t, ok := templates[selection.Evaluate(expr, lookup)]; ok {
			return t, true
		}
		t, ok := templates["$default"]
		return t, ok
	}
	for _, k := range []string{"$default", "application/json"} {
		if t, ok := templates[k]; ok {
			return t, true
		}
	}
	if len(templates) == 1 {
		for _, t := range templates {
			return t, true
		}
	}
	return "", false
}

// mock answers from the request template's statusCode and the matching
// integration response.
func (g *Gateway) mock(in *cfn.Integration, ev *event, vars map[string]any) (*result, error) {
	body, err := requestBody(in, ev, vars)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	var req struct {
		StatusCode any `json:"statusCode"`
	}
	if json.Unmarshal(body, &req) == nil && req.StatusCode != nil {
		if n, err := strconv.Atoi(selection.Stringify(req.StatusCode)); err == nil {
			status = n
		}
	}
	return integrationResponse(in, &result{status: status, header: http.Header{}}, vars, nil)
}

// httpCall sends the integration request to the backend.
func (g *Gateway) httpCall(ctx context.Context, c *conn, route *cfn.Route, in *cfn.Integration, ev *event, vars map[string]any) (*result, error) {
	target, err := g.rewrite(in.URI)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntegration, err)
	}
	var body []byte
	if in.Type == cfn.IntegrationHTTPProxy {
		body, err = passthrough(in, ev.body) // $connect and $disconnect have none
	} else {
		body, err = requestBody(in, ev, vars)
	}
	if err != nil {
		return nil, err
	}
	method := in.Method
	if method == "ANY" || method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntegration, err)
	}
	g.requestHeaders(req, in, ev)
	if err := g.mapParameters(req, in, ev, vars); err != nil {
		return nil, err
	}
	if g.log.Enabled(ctx, slog.LevelInfo) {
		g.log.Info("Endpoint request", "connectionId", c.id, "routeKey", ev.routeKey, "method", method, "uri", target.String(), "body", string(body))
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntegration, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIntegrationResponse))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the response: %v", errIntegration, err)
	}
	res := &result{status: resp.StatusCode, header: resp.Header, body: data}
	if in.Type == cfn.IntegrationHTTPProxy {
		return res, nil
	}
	return integrationResponse(in, res, vars, data)
}

// requestHeaders sets the headers the service sends: for HTTP_PROXY on
// $connect the client's handshake headers, and always the API's identity.
func (g *Gateway) requestHeaders(req *http.Request, in *cfn.Integration, ev *event) {
	if in.Type == cfn.IntegrationHTTPProxy && ev.connect != nil {
		for k, v := range ev.connect.Header {
			switch http.CanonicalHeaderKey(k) {
			case "Connection", "Upgrade", "Host", "Content-Length":
				continue
			}
			req.Header[k] = v
		}
		req.Header.Set("X-Forwarded-For", remoteIP(ev.connect))
		req.Header.Set("X-Forwarded-Proto", "http")
	}
	if in.Type == cfn.IntegrationHTTP {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "AmazonAPIGateway_"+g.api.ID)
	req.Header.Set("X-Amzn-Apigateway-Api-Id", g.api.ID)
}

// mapParameters applies RequestParameters: integration.request.header.X and
// integration.request.querystring.X from context, stage variables, the
// $connect request, the message body or a 'static' value.
func (g *Gateway) mapParameters(req *http.Request, in *cfn.Integration, ev *event, vars map[string]any) error {
	q := req.URL.Query()
	for dest, src := range in.RequestParameters {
		v, err := parameterValue(src, ev, vars)
		if err != nil {
			return fmt.Errorf("%w: request parameter %s: %v", errIntegration, dest, err)
		}
		switch {
		case strings.HasPrefix(dest, "integration.request.header."):
			req.Header.Set(strings.TrimPrefix(dest, "integration.request.header."), v)
		case strings.HasPrefix(dest, "integration.request.querystring."):
			q.Set(strings.TrimPrefix(dest, "integration.request.querystring."), v)
		default:
			return fmt.Errorf("%w: request parameter %s: unsupported destination", errIntegration, dest)
		}
	}
	req.URL.RawQuery = q.Encode()
	return nil
}

func parameterValue(src string, ev *event, vars map[string]any) (string, error) {
	if len(src) >= 2 && src[0] == '\'' && src[len(src)-1] == '\'' {
		return src[1 : len(src)-1], nil
	}
	switch {
	case strings.HasPrefix(src, "context."):
		return dotted(vars["context"], strings.TrimPrefix(src, "context.")), nil
	case strings.HasPrefix(src, "stageVariables."):
		return dotted(vars["stageVariables"], strings.TrimPrefix(src, "stageVariables.")), nil
	case strings.HasPrefix(src, "route.request.body"):
		lookup, _ := selection.BodyLookup(ev.body)
		return lookup(strings.TrimPrefix(src, "route.")), nil
	case strings.HasPrefix(src, "route.request.header."):
		if ev.connect == nil {
			return "", nil
		}
		return ev.connect.Header.Get(strings.TrimPrefix(src, "route.request.header.")), nil
	case strings.HasPrefix(src, "route.request.querystring."):
		if ev.connect == nil {
			return "", nil
		}
		return ev.connect.URL.Query().Get(strings.TrimPrefix(src, "route.request.querystring.")), nil
	}
	return "", fmt.Errorf("unsupported source %q", src)
}

func dotted(v any, path string) string {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[part]
	}
	return selection.Stringify(v)
}

// integrationResponse picks the integration response whose key matches the
// status (a /regex/ first, then $default) and renders its template, or
// passes body through.
func integrationResponse(in *cfn.Integration, res *result, vars map[string]any, body []byte) (*result, error) {
	return integrationResponseBy(in, res, vars, body, strconv.Itoa(res.status))
}

// integrationResponseBy selects the integration response by key: the
// status for HTTP and MOCK, the function's errorMessage for Lambda.
func integrationResponseBy(in *cfn.Integration, res *result, vars map[string]any, body []byte, key string) (*result, error) {
	status := strconv.Itoa(res.status)
	var chosen *cfn.IntegrationResponse
	for _, ir := range in.Responses {
		if ir.Key == "$default" {
			if chosen == nil {
				chosen = ir
			}
			continue
		}
		re, err := regexp.Compile("^(?:" + ir.Key[1:len(ir.Key)-1] + ")$")
		if err == nil && re.MatchString(key) {
			chosen = ir
			break
		}
	}
	res.body = body
	if chosen == nil || len(chosen.ResponseTemplates) == 0 {
		return res, nil
	}
	lookup := func(name string) string {
		switch {
		case name == "integration.response.statuscode":
			return status
		case strings.HasPrefix(name, "integration.response.header."):
			return res.header.Get(strings.TrimPrefix(name, "integration.response.header."))
		}
		l, _ := selection.BodyLookup(body)
		return l(strings.Replace(name, "integration.response.body", "request.body", 1))
	}
	tplKey := "$default"
	if chosen.TemplateSelectionExpression != "" {
		tplKey = selection.Evaluate(chosen.TemplateSelectionExpression, lookup)
	}
	tpl, ok := chosen.ResponseTemplates[tplKey]
	if !ok {
		if tpl, ok = chosen.ResponseTemplates["$default"]; !ok {
			return res, nil
		}
	}
	respVars := map[string]any{}
	for k, v := range vars {
		respVars[k] = v
	}
	respVars["input"] = &vtl.Input{Body: string(body)}
	out, err := render(tpl, respVars)
	if err != nil {
		return nil, err
	}
	res.body = out
	return res, nil
}

// uriPattern splits an integration URI into scheme://host and the rest.
var uriPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(.*)$`)

// rewrite points an integration URI at the backend, keeping its path and
// query; stage variables in it are filled in first.
func (g *Gateway) rewrite(uri string) (*url.URL, error) {
	for k, v := range g.stage.Variables {
		uri = strings.ReplaceAll(uri, "${stageVariables."+k+"}", v)
	}
	m := uriPattern.FindStringSubmatch(uri)
	if m == nil {
		return nil, fmt.Errorf("integration URI %q is not an absolute URL", uri)
	}
	rest, err := url.Parse(m[1])
	if err != nil {
		return nil, fmt.Errorf("integration URI %q: %v", uri, err)
	}
	target := *g.cfg.Backend
	target.Path = strings.TrimSuffix(target.Path, "/") + rest.Path
	target.RawPath = ""
	target.RawQuery = rest.RawQuery
	return &target, nil
}
