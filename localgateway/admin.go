package localgateway

import (
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/wsgate/wsgate/contract"
)

// adminPrefix is the path of the local-only admin API.
const adminPrefix = contract.AdminPathPrefix

// adminRefusal is why an admin request is refused: the status and the
// message of the JSON error.
type adminRefusal struct {
	status  int
	errType string
	message string
}

// checkAdmin admits only what a local tool sends and a web page cannot.
// A page open in the developer's browser can send "simple" cross-origin
// requests (GET, or POST with a text/plain, form or multipart body) to
// 127.0.0.1 without a preflight. A custom header or a JSON body makes the
// browser ask first, and the admin API never grants a preflight; a
// browser's Origin that is not the gateway's own is refused outright; and
// a Host that is not a loopback name stops a page that re-pointed its own
// DNS name at 127.0.0.1 (for the browser that page is same-origin).
func checkAdmin(r *http.Request) *adminRefusal {
	forbidden := func(format string, args ...any) *adminRefusal {
		return &adminRefusal{http.StatusForbidden, "ForbiddenException", fmt.Sprintf(format, args...)}
	}
	if ip := net.ParseIP(remoteIP(r)); ip == nil || !ip.IsLoopback() {
		return forbidden("the admin API answers loopback clients only")
	}
	if !isLoopbackHost(r.Host) {
		return forbidden("the admin API answers requests addressed to a loopback host only (Host %q)", r.Host)
	}
	if origin, own := r.Header.Get("Origin"), "http://"+r.Host; origin != "" && !strings.EqualFold(origin, own) {
		return forbidden("the admin API refuses requests from another origin: Origin %q is not %q", origin, own)
	}
	if r.Header.Get(contract.HeaderAdmin) != contract.AdminHeaderValue {
		return forbidden("the admin API requires the header %s: %s", contract.HeaderAdmin, contract.AdminHeaderValue)
	}
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &adminRefusal{http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException",
				fmt.Sprintf("the admin API accepts Content-Type application/json only (got %q)", ct)}
		}
	}
	return nil
}

// isLoopbackHost reports whether a Host header names this machine:
// localhost or a loopback address, with or without a port.
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveAdmin is the local-only admin API:
//
//	GET    /_wsgate/faults   the active fault (null when none)
//	POST   /_wsgate/faults   set a fault: a Fault as JSON
//	DELETE /_wsgate/faults   clear it
//	POST   /_wsgate/drop     close every client socket with 1001, as a deployment does
//
// Every call needs the X-Wsgate-Admin: 1 header, and every POST
// Content-Type: application/json (see checkAdmin).
func (g *Gateway) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if refusal := checkAdmin(r); refusal != nil {
		writeError(w, refusal.status, refusal.errType, refusal.message)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case adminPrefix + "faults":
		g.serveFaults(w, r)
	case adminPrefix + "drop":
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "BadRequestException", "use POST")
			return
		}
		n := g.DropAll()
		fmt.Fprintf(w, `{"dropped":%d}`, n)
	default:
		writeError(w, http.StatusNotFound, "NotFoundException", "no such admin endpoint: "+r.URL.Path)
	}
}

func (g *Gateway) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodDelete:
		g.faults.clear()
	case http.MethodPost:
		var f Fault
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequestException", "fault: "+err.Error())
			return
		}
		if err := f.validate(); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
			return
		}
		g.faults.set(f)
	default:
		writeError(w, http.StatusMethodNotAllowed, "BadRequestException", "use GET, POST or DELETE")
		return
	}
	g.faults.mu.Lock()
	out, _ := json.Marshal(g.faults.active)
	g.faults.mu.Unlock()
	_, _ = w.Write(out)
}
