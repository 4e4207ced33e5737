// Package protocol holds the wire types of dotNetify's WebSocket-hub protocol as they reach
// the server through API Gateway HTTP integrations, with strict decoding and the
// response_vm encoding the dotnetify client expects.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is the default limit for an integration request body. API Gateway caps a
// client message at 128 KB; the envelope adds the connection id and context fields.
const MaxBodyBytes = 160 << 10

// Call types the dotnetify client sends (lower case on the wire).
const (
	CallRequestVM  = "request_vm"
	CallUpdateVM   = "update_vm"
	CallDisposeVM  = "dispose_vm"
	CallResponseVM = "response_vm"
)

// Message is one client frame: request_vm, update_vm or dispose_vm.
type Message struct {
	// CallType is one of CallRequestVM, CallUpdateVM, CallDisposeVM, normalised to lower case.
	CallType string
	// VMID is the view-model id, possibly with a ".Child" scope or "$instance" suffix.
	VMID string
	// VMArgs is the decoded content of the vmArgs string of a request_vm (raw JSON object);
	// nil when absent.
	VMArgs json.RawMessage
	// Value is the decoded content of the value string of an update_vm (raw JSON object).
	Value json.RawMessage
}

// IntegrationRequest is the body API Gateway posts to the integration endpoints.
type IntegrationRequest struct {
	// ConnectionID is API Gateway's id of the client connection.
	ConnectionID string
	// SourceIP is the client's address as seen by the gateway; optional.
	SourceIP string
	// UserAgent is the client's User-Agent header; optional.
	UserAgent string
	// Payload is the client frame; nil for $connect and $disconnect bodies.
	Payload *Message
}

// Error is a decoding error: the request is rejected as a whole and nothing changes.
type Error struct {
	// TooLarge marks a body over the size limit (HTTP 413 rather than 400).
	TooLarge bool
	msg      string
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

func errorf(format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}

// IsTooLarge reports whether err is a decoding error for an oversize body.
func IsTooLarge(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.TooLarge
}

// wireRequest mirrors the JSON shape; json.RawMessage keeps fields whose type we check by hand.
type wireRequest struct {
	ConnectionID json.RawMessage `json:"connectionId"`
	SourceIP     json.RawMessage `json:"sourceIp"`
	UserAgent    json.RawMessage `json:"userAgent"`
	Payload      json.RawMessage `json:"payload"`
}

type wireMessage struct {
	CallType json.RawMessage `json:"callType"`
	VMID     json.RawMessage `json:"vmId"`
	VMArgs   json.RawMessage `json:"vmArgs"`
	Value    json.RawMessage `json:"value"`
}

// DecodeIntegration decodes and validates an integration request body. limit is the maximum
// body size in bytes (0 means MaxBodyBytes). A body whose payload carries no callType (or no
// payload at all) is a connect or disconnect notice and has a nil Payload.
func DecodeIntegration(body []byte, limit int) (IntegrationRequest, error) {
	if limit <= 0 {
		limit = MaxBodyBytes
	}
	if len(body) > limit {
		return IntegrationRequest{}, &Error{TooLarge: true, msg: fmt.Sprintf("body is %d bytes, over the limit of %d", len(body), limit)}
	}
	var w wireRequest
	if err := strictUnmarshal(body, &w); err != nil {
		return IntegrationRequest{}, errorf("body is not a JSON object: %v", err)
	}
	var req IntegrationRequest
	var err error
	if req.ConnectionID, err = stringField("connectionId", w.ConnectionID); err != nil {
		return IntegrationRequest{}, err
	}
	if strings.TrimSpace(req.ConnectionID) == "" {
		return IntegrationRequest{}, errorf("connectionId is missing or empty")
	}
	if req.SourceIP, err = optionalString("sourceIp", w.SourceIP); err != nil {
		return IntegrationRequest{}, err
	}
	if req.UserAgent, err = optionalString("userAgent", w.UserAgent); err != nil {
		return IntegrationRequest{}, err
	}
	if isAbsent(w.Payload) {
		return req, nil
	}
	msg, err := decodeMessage(w.Payload)
	if err != nil {
		return IntegrationRequest{}, err
	}
	req.Payload = msg
	return req, nil
}

// DecodeMessage decodes one client frame as sent on a WebSocket (text frame content).
func DecodeMessage(frame []byte) (*Message, error) {
	m, err := decodeMessage(frame)
	if err == nil && m == nil {
		return nil, errorf("payload.callType is missing")
	}
	return m, err
}

func decodeMessage(raw json.RawMessage) (*Message, error) {
	var w wireMessage
	if err := strictUnmarshal(raw, &w); err != nil {
		return nil, errorf("payload is not a JSON object: %v", err)
	}
	if isAbsent(w.CallType) {
		// dotNetify treats a payload without callType like $connect: nothing to do.
		return nil, nil
	}
	callType, err := stringField("payload.callType", w.CallType)
	if err != nil {
		return nil, err
	}
	m := &Message{CallType: strings.ToLower(callType)}
	switch m.CallType {
	case CallRequestVM, CallUpdateVM, CallDisposeVM:
	default:
		return nil, errorf("payload.callType %q is not one of request_vm, update_vm, dispose_vm", callType)
	}
	if m.VMID, err = stringField("payload.vmId", w.VMID); err != nil {
		return nil, err
	}
	if m.VMID == "" {
		return nil, errorf("payload.vmId is empty")
	}
	switch m.CallType {
	case CallRequestVM:
		m.VMArgs, err = embeddedObject("payload.vmArgs", w.VMArgs, true)
	case CallUpdateVM:
		m.Value, err = embeddedObject("payload.value", w.Value, false)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// embeddedObject decodes a field that carries a JSON object serialised into a string.
func embeddedObject(name string, raw json.RawMessage, optional bool) (json.RawMessage, error) {
	if isAbsent(raw) {
		if optional {
			return nil, nil
		}
		return nil, errorf("%s is missing", name)
	}
	s, err := stringField(name, raw)
	if err != nil {
		return nil, err
	}
	inner := []byte(strings.TrimSpace(s))
	if len(inner) == 0 || inner[0] != '{' || !json.Valid(inner) {
		return nil, errorf("%s must be a string holding a JSON object, got %s", name, quoteShort(s))
	}
	return inner, nil
}

func stringField(name string, raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", errorf("%s is missing", name)
	}
	if raw[0] != '"' {
		return "", errorf("%s must be a string, got %s", name, kind(raw))
	}
	if n := len(raw); n >= 2 && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 && utf8.Valid(raw[1:n-1]) {
		return string(raw[1 : n-1]), nil // no escapes: the content is the string
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errorf("%s is not a valid JSON string: %v", name, err)
	}
	return s, nil
}

func optionalString(name string, raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", nil
	}
	return stringField(name, raw)
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func kind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// strictUnmarshal decodes exactly one JSON object and rejects trailing data.
func strictUnmarshal(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return errors.New("empty")
	}
	if trimmed[0] != '{' {
		return errors.New("not an object")
	}
	err := json.Unmarshal(trimmed, v)
	var se *json.SyntaxError
	if errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value") {
		return errors.New("trailing data after the object")
	}
	if errors.As(err, &se) && se.Offset >= int64(len(trimmed)) {
		return errors.New("unexpected EOF")
	}
	return err
}
