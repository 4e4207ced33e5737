package lambdaruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/wsgate/wsgate/localgateway/sigv4"
)

// invokePrefix is the Invoke API's path: /2015-03-31/functions/{name}/invocations.
const invokePrefix = "/2015-03-31/functions/"

// InvokeAPI serves the Lambda Invoke API for a set of functions: synchronous
// (RequestResponse) invocations, signed with SigV4 for service "lambda" when Verifier is
// set, as the local gateway signs them with the local credentials.
type InvokeAPI struct {
	// Functions by name: the name in the function's ARN, or its logical id for a function
	// of the template (what the local gateway calls).
	Functions map[string]*Function
	// Verifier, when set, checks each call's SigV4 signature.
	Verifier *sigv4.Verifier
	// Logger receives a line per failed invocation. Default: none.
	Logger *slog.Logger
}

// ServeHTTP implements http.Handler.
func (a *InvokeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.EscapedPath(), invokePrefix)
	name, ok2 := strings.CutSuffix(name, "/invocations")
	if !ok || !ok2 || r.Method != http.MethodPost {
		writeInvokeError(w, http.StatusNotFound, "ResourceNotFoundException", "not an Invoke API call: "+r.Method+" "+r.URL.Path)
		return
	}
	name, err := url.PathUnescape(name)
	fn := a.Functions[name]
	if err != nil || fn == nil {
		writeInvokeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		writeInvokeError(w, http.StatusBadRequest, "InvalidParameterValueException", fmt.Sprintf("invocation type %q: only RequestResponse is served locally", t))
		return
	}
	event, err := io.ReadAll(io.LimitReader(r.Body, int64(fn.cfg.MaxPayloadBytes)+1))
	if err != nil {
		writeInvokeError(w, http.StatusBadRequest, "InvalidRequestContentException", "reading the event: "+err.Error())
		return
	}
	if len(event) > fn.cfg.MaxPayloadBytes {
		writeInvokeError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", fn.cfg.MaxPayloadBytes))
		return
	}
	if a.Verifier != nil {
		if err := a.Verifier.Verify(r, event); err != nil {
			writeInvokeError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
			return
		}
	}
	if len(event) == 0 {
		event = []byte("{}")
	}
	if !json.Valid(event) {
		writeInvokeError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	res, err := fn.Invoke(r.Context(), event)
	switch {
	case errors.Is(err, ErrTooManyRequests):
		writeInvokeError(w, http.StatusTooManyRequests, "TooManyRequestsException", err.Error())
		return
	case err != nil:
		a.log("invocation failed", "function", name, "error", err)
		writeInvokeError(w, http.StatusBadGateway, "ServiceException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if res.FunctionError != "" {
		a.log("function error", "function", name, "error", string(res.Payload))
		w.Header().Set("X-Amz-Function-Error", res.FunctionError)
	}
	_, _ = w.Write(res.Payload)
}

func (a *InvokeAPI) log(msg string, args ...any) {
	if a.Logger != nil {
		a.Logger.Info(msg, args...)
	}
}

// writeInvokeError writes the Invoke API's error shape: X-Amzn-Errortype and
// {"Type", "message"}.
func writeInvokeError(w http.ResponseWriter, status int, errorType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", errorType)
	kind := "User"
	if status >= 500 {
		kind = "Service"
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": kind, "message": msg})
}
