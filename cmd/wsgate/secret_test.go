package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/stacktemplate"
	"github.com/wsgate/wsgate/localgateway/cfn"
)

// stackFile writes the stack's synthesized template to a temporary
// directory and returns its path.
func stackFile(t *testing.T) string {
	t.Helper()
	path, err := stacktemplate.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// stackSecretID is the logical id of the stack's integration secret: the
// synthesized template's integrations send it as a dynamic reference.
func stackSecretID(t *testing.T) string {
	t.Helper()
	ids, err := cfn.SecretReferences(stacktemplate.JSON, cfn.Options{})
	if err != nil || len(ids) != 1 {
		t.Fatalf("secret references = %v, %v; want one", ids, err)
	}
	return ids[0]
}

func TestGatewaySecretFlagFillsTheSecretHeader(t *testing.T) {
	got := make(chan string, 4)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path + " " + r.Header.Get(contract.HeaderSecret)
	}))
	defer backend.Close()
	id := stackSecretID(t)
	lines, stderr, exit, cancel := runAsync(t, "gateway", "--template", stackFile(t), "--backend", backend.URL,
		"--addr", "127.0.0.1:0", "--access-log", "", "--secret", id+"=s3cret")
	ws := strings.TrimPrefix(nextLine(t, lines, stderr), "websocket: ")
	nextLine(t, lines, stderr)
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "/api/dotnetify/vm s3cret" {
		t.Fatalf("backend got %q, want the secret in %s", g, contract.HeaderSecret)
	}
	cancel()
	if g := <-got; g != "/api/dotnetify/vm/disconnect s3cret" {
		t.Fatalf("backend got %q", g)
	}
	c.Close()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestGatewayWithoutTheSecretFailsInOneLine(t *testing.T) {
	id := stackSecretID(t)
	stackCopy := stackFile(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"gateway", "--template", stackCopy, "--backend", "http://127.0.0.1:9", "--addr", "127.0.0.1:0"}, &stdout, &stderr)
	want := regexp.MustCompile(`^wsgate gateway: template ` + regexp.QuoteMeta(stackCopy) + `: resource RealtimeApi\w+Integration\w+: dynamic reference \{\{resolve:secretsmanager:` + id +
		`:SecretString:::\}\}: no value for secret ` + id + `; give the gateway one \(wsgate gateway --secret ` + id + `=VALUE\)\n$`)
	if code != 1 || !want.MatchString(stderr.String()) {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestGatewaySecretFlagWantsIDAndValue(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"gateway", "--template", stackFile(t), "--backend", "http://127.0.0.1:9", "--secret", "s3cret"}, &stdout, &stderr)
	if code != 1 || !strings.HasSuffix(stderr.String(), "wsgate gateway: invalid value \"s3cret\" for flag -secret: want ID=VALUE, such as RealtimeIntegrationSecretC6E8562D=s3cret\n") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestDevGeneratesTheIntegrationSecret(t *testing.T) {
	id := stackSecretID(t)
	stackCopy := stackFile(t)
	var a, b devOptions
	a.template, b.template = stackCopy, stackCopy
	sa, err := a.localSecret()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.localSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{48}$`).MatchString(sa) || sa == sb {
		t.Fatalf("secrets of two runs: %q and %q, want 48 random hex digits each", sa, sb)
	}
	if a.secrets[id] != sa {
		t.Errorf("the gateway gets %q for %s, the server %q", a.secrets[id], id, sa)
	}
	given := devOptions{}
	given.template = stackCopy
	given.secrets = secretFlag{id: "mine"}
	if s, err := given.localSecret(); err != nil || s != "mine" {
		t.Errorf("with --secret: %q, %v; want the given value for the server too", s, err)
	}
	none := devOptions{}
	none.template = fixture
	if s, err := none.localSecret(); err != nil || s != "" || len(none.secrets) != 0 {
		t.Errorf("dotNetify's template sends no secret, so the server must require none: %q, %v, %v", s, err, none.secrets)
	}
}
