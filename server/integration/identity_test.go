package integration_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/clientlog"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// whoAmI shows the identity the runtime was handed for the requesting connection.
type whoAmI struct {
	vm.Base
	ConnectionID string
	SourceIP     string
	UserAgent    string
}

func registerWhoAmI(reg *vm.Registry) error {
	return vm.Register(reg, "WhoAmIVM", func(r *vm.Request) (*whoAmI, error) {
		return &whoAmI{ConnectionID: r.Caller.ConnectionID, SourceIP: r.Caller.SourceIP, UserAgent: r.Caller.UserAgent}, nil
	})
}

func whoAmIFrame(id, ip, ua string) string {
	data, _ := json.Marshal(map[string]string{"ConnectionID": id, "SourceIP": ip, "UserAgent": ua})
	return string(protocol.Response("WhoAmIVM", data))
}

const requestWhoAmI = `{"callType":"request_vm","vmId":"WhoAmIVM","vmArgs":"{}"}`

// identityHeaders are the request parameters wsgate's integrations map from $context.
func identityHeaders(id, ip, ua string) []string {
	return []string{contract.HeaderConnectionID, id, contract.HeaderSourceIP, ip, contract.HeaderUserAgent, ua}
}

// With the identity headers present, they are what the runtime sees: a body that carries
// only dotNetify's connectionId (its published template) gets source IP and user agent from
// them, and a body may leave out the connection id altogether.
func TestIdentityHeadersAreTrusted(t *testing.T) {
	s := newStack(t, stackOptions{register: registerWhoAmI})
	body := `{"connectionId":"` + conn + `","payload":` + requestWhoAmI + `}`
	if status, resp := s.post(integration.PathMessage, body, identityHeaders(conn, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)")...); status != http.StatusOK {
		t.Fatalf("%d %s", status, resp)
	}
	s.expect(conn, whoAmIFrame(conn, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)"))

	body = `{"payload":` + requestWhoAmI + `}`
	if status, resp := s.post(integration.PathMessage, body, identityHeaders("B1=", "203.0.113.8", "")...); status != http.StatusOK {
		t.Fatalf("%d %s", status, resp)
	}
	s.expect("B1=", whoAmIFrame("B1=", "203.0.113.8", ""))

	// wsgate's template also writes them into the body; agreeing values are fine.
	body = `{"connectionId":"C1=","sourceIp":"203.0.113.9","userAgent":"curl/8.5.0","payload":` + requestWhoAmI + `}`
	if status, resp := s.post(integration.PathMessage, body, identityHeaders("C1=", "203.0.113.9", "curl/8.5.0")...); status != http.StatusOK {
		t.Fatalf("%d %s", status, resp)
	}
	s.expect("C1=", whoAmIFrame("C1=", "203.0.113.9", "curl/8.5.0"))
	s.quiet(conn, "B1=", "C1=")
}

// A body that disagrees with a header the gateway set is refused with 400, logged at WARN,
// and nothing runs for either connection.
func TestBodyDisagreeingWithIdentityHeadersIsRefused(t *testing.T) {
	logs := &syncBuffer{}
	s := newStack(t, stackOptions{register: registerWhoAmI, logger: slog.New(slog.NewJSONHandler(logs, nil))})
	const victim = "VICTIM00000000A="
	frame := requestWhoAmI
	tests := []struct {
		name, body string
		header     []string
		want       string
		path       string // default: PathMessage
	}{
		{"connection id", `{"connectionId":"` + victim + `","payload":` + frame + `}`, identityHeaders(conn, "203.0.113.7", "UA"),
			`body connectionId "VICTIM00000000A=" disagrees with the X-Wsgate-Connection-Id header "Wm1nYcO3IAMCJ2w="`, ""},
		{"source IP", `{"connectionId":"` + conn + `","sourceIp":"10.9.9.9","payload":` + frame + `}`, identityHeaders(conn, "203.0.113.7", "UA"),
			`body sourceIp "10.9.9.9" disagrees with the X-Wsgate-Source-Ip header "203.0.113.7"`, ""},
		{"user agent", `{"connectionId":"` + conn + `","userAgent":"Admin","payload":` + frame + `}`, identityHeaders(conn, "203.0.113.7", "UA"),
			`body userAgent "Admin" disagrees with the X-Wsgate-User-Agent header "UA"`, ""},
		{"empty connection id header", `{"connectionId":"` + conn + `","payload":` + frame + `}`, []string{contract.HeaderConnectionID, ""},
			`the X-Wsgate-Connection-Id header is empty`, ""},
		{"repeated connection id header", `{"connectionId":"` + conn + `","payload":` + frame + `}`, []string{contract.HeaderConnectionID, conn, contract.HeaderConnectionID, victim},
			`the X-Wsgate-Connection-Id header appears 2 times`, ""},
		{"disconnect for another connection", `{"connectionId":"` + victim + `"}`, identityHeaders(conn, "203.0.113.7", "UA"),
			`body connectionId "VICTIM00000000A=" disagrees with the X-Wsgate-Connection-Id header "Wm1nYcO3IAMCJ2w="`, integration.PathDisconnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = integration.PathMessage
			}
			status, resp := s.postHeaders(path, tt.body, tt.header)
			want, _ := json.Marshal(map[string]string{"error": tt.want})
			if status != http.StatusBadRequest || strings.TrimSpace(resp) != string(want) {
				t.Errorf("got %d %s, want 400 %s", status, resp, want)
			}
		})
	}
	s.quiet(conn, victim)
	lines := logs.lines()
	if len(lines) != len(tests) {
		t.Fatalf("%d log lines, want %d: %q", len(lines), len(tests), lines)
	}
	for i, line := range lines {
		var rec struct{ Level, Msg, Error string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Level != "WARN" || rec.Msg != "rejected integration request" || rec.Error != tests[i].want {
			t.Errorf("log line %d: %+v", i, rec)
		}
	}
}

// A refused request's log line stays short whatever the client sent.
func TestRefusalLogLineIsShort(t *testing.T) {
	logs := &syncBuffer{}
	s := newStack(t, stackOptions{logger: slog.New(slog.NewJSONHandler(logs, nil))})
	junk := strings.Repeat("A", 100<<10)
	bodies := []string{
		`{"connectionId":"` + conn + `","payload":{"callType":"` + junk + `","vmId":"X"}}`,
		`{"connectionId":"` + conn + `","payload":{"callType":"update_vm","vmId":"X","value":"{}"}, "` + junk + `": 1}`,
		`{"connectionId":"` + conn + `","payload":{"callType":"update_vm","vmId":"X","value":"{}"}, "connectionId": "` + junk + `"}`,
	}
	for _, body := range bodies {
		if status, resp := s.post(integration.PathMessage, body); status != http.StatusBadRequest || len(resp) > 300 {
			t.Errorf("got %d with %d bytes: %.100s", status, len(resp), resp)
		}
	}
	lines := logs.lines()
	if len(lines) != len(bodies) {
		t.Fatalf("%d log lines, want %d", len(lines), len(bodies))
	}
	for _, line := range lines {
		if len(line) > 600 || !strings.Contains(line, `"level":"WARN"`) {
			t.Errorf("log line of %d bytes: %.200s", len(line), line)
		}
	}
}

// postHeaders is post with a header list that may repeat a name.
func (s *stack) postHeaders(path, body string, header []string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.server.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// syncBuffer collects log output written by the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// A client repeating a refused request in a loop gets one log line per interval, and the next
// line says how many were held back.
func TestRepeatedRefusalsAreRateLimited(t *testing.T) {
	logs := &syncBuffer{}
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s := newStack(t, stackOptions{logger: slog.New(slog.NewJSONHandler(logs, nil)), now: now})
	body := `{"connectionId":"` + conn + `","payload":{"callType":"nope","vmId":"X"}}`
	for range 500 {
		if status, _ := s.post(integration.PathMessage, body); status != http.StatusBadRequest {
			t.Fatalf("status %d", status)
		}
	}
	if n := len(logs.lines()); n != 1 {
		t.Fatalf("%d log lines for 500 refusals in one interval, want 1", n)
	}
	mu.Lock()
	clock = clock.Add(clientlog.Interval)
	mu.Unlock()
	s.post(integration.PathMessage, body)
	lines := logs.lines()
	if len(lines) != 2 || !strings.Contains(lines[1], `"suppressed":499`) {
		t.Fatalf("log lines %q, want a second one with suppressed 499", lines)
	}
}
