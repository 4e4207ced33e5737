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

	"github.com/wsgate/wsgate/contract"
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
	// Args are what the runtime applies, in the client's order: for a request_vm the keys of
	// vmArgs' $vmArg object (without $vmArg, vmArgs' other keys, as in dotNetify), for an
	// update_vm the keys of value. $headers is never among them.
	Args []Arg
	// Headers are the $headers object of a request_vm's vmArgs or of an update_vm's value,
	// each value as text; nil when the message carries none.
	Headers map[string]string
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

// Identity is what the gateway states about a connection outside the body: the request
// parameters an integration maps from API Gateway's $context into the headers named in
// package contract, where a client cannot write. A nil field is not stated.
type Identity struct {
	ConnectionID *string
	SourceIP     *string
	UserAgent    *string
}

// Error is a decoding error: the request is rejected as a whole and nothing changes.
type Error struct {
	// TooLarge marks a body over the size limit (HTTP 413 rather than 400).
	TooLarge bool
	syntax   bool // malformed JSON, as opposed to well-formed JSON with a bad field
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

// The keys of an integration body (dotNetify's {connectionId, payload} with the context
// fields wsgate's templates add) and of a client frame, by position in envelopeKeys and
// messageKeys.
const (
	keyConnectionID = iota
	keySourceIP
	keyUserAgent
	keyPayload
)

const (
	keyCallType = iota
	keyVMID
	keyVMArgs
	keyValue
)

var (
	envelopeKeys = []string{"connectionId", "sourceIp", "userAgent", "payload"}
	messageKeys  = []string{"callType", "vmId", "vmArgs", "value"}
	// identityKeys may not appear in a client frame: only the gateway states identity.
	identityKeys = envelopeKeys[:keyPayload]
)

// DecodeIntegration decodes and validates an integration request body. limit is the maximum
// body size in bytes (0 means MaxBodyBytes). A body whose payload carries no callType (or no
// payload at all) is a connect or disconnect notice and has a nil Payload.
//
// The body is refused when any object in it has a duplicate key (names compared after JSON
// unescaping), when it or its payload has a key that differs from a field name only in case,
// and when the payload carries an identity field. Request templates paste the client's text
// into the body ("payload": $input.body), so without these rules a frame such as
// `{…}, "connectionId": "VICTIM"` would let one client speak for another connection.
func DecodeIntegration(body []byte, limit int) (IntegrationRequest, error) {
	return DecodeIntegrationFrom(body, limit, Identity{})
}

// DecodeIntegrationFrom is DecodeIntegration with the identity the gateway stated outside
// the body. A stated field is the truth: the body may omit it, and a body whose field
// disagrees is refused. A stated connection id must not be empty.
func DecodeIntegrationFrom(body []byte, limit int, id Identity) (IntegrationRequest, error) {
	if limit <= 0 {
		limit = MaxBodyBytes
	}
	if len(body) > limit {
		return IntegrationRequest{}, &Error{TooLarge: true, msg: fmt.Sprintf("body is %d bytes, over the limit of %d", len(body), limit)}
	}
	msg := level{names: messageKeys, refused: identityKeys}
	env := level{names: envelopeKeys, sub: &msg, subIndex: keyPayload}
	if err := scanObject(body, "body", &env); err != nil {
		return IntegrationRequest{}, err
	}
	req, err := envelope(&env, id)
	if err != nil {
		return IntegrationRequest{}, err
	}
	payload := env.raw[keyPayload]
	if isAbsent(payload) {
		return req, nil
	}
	if payload[0] != '{' {
		return IntegrationRequest{}, errorf("payload is not a JSON object: not an object")
	}
	if req.Payload, err = message(&msg); err != nil {
		return IntegrationRequest{}, err
	}
	return req, nil
}

// envelope reads the identity fields of a scanned body and reconciles them with what the
// gateway stated.
func envelope(env *level, id Identity) (IntegrationRequest, error) {
	var req IntegrationRequest
	var err error
	if id.ConnectionID != nil && strings.TrimSpace(*id.ConnectionID) == "" {
		return req, errorf("the %s header is empty", contract.HeaderConnectionID)
	}
	if id.ConnectionID == nil || !isAbsent(env.raw[keyConnectionID]) {
		if req.ConnectionID, err = stringField("connectionId", env.raw[keyConnectionID]); err != nil {
			return req, err
		}
		if strings.TrimSpace(req.ConnectionID) == "" {
			return req, errorf("connectionId is missing or empty")
		}
	}
	if req.SourceIP, err = optionalString("sourceIp", env.raw[keySourceIP]); err != nil {
		return req, err
	}
	if req.UserAgent, err = optionalString("userAgent", env.raw[keyUserAgent]); err != nil {
		return req, err
	}
	for _, f := range []struct {
		field  *string
		name   string
		value  *string
		header string
		raw    json.RawMessage
	}{
		{&req.ConnectionID, "connectionId", id.ConnectionID, contract.HeaderConnectionID, env.raw[keyConnectionID]},
		{&req.SourceIP, "sourceIp", id.SourceIP, contract.HeaderSourceIP, env.raw[keySourceIP]},
		{&req.UserAgent, "userAgent", id.UserAgent, contract.HeaderUserAgent, env.raw[keyUserAgent]},
	} {
		if f.value == nil {
			continue
		}
		if !isAbsent(f.raw) && *f.field != *f.value {
			return req, errorf("body %s %s disagrees with the %s header %s", f.name, quoteShort(*f.field), f.header, quoteShort(*f.value))
		}
		*f.field = *f.value
	}
	return req, nil
}

// DecodeMessage decodes one client frame as sent on a WebSocket (text frame content).
func DecodeMessage(frame []byte) (*Message, error) {
	msg := level{names: messageKeys, refused: identityKeys}
	if err := scanObject(frame, "payload", &msg); err != nil {
		return nil, err
	}
	m, err := message(&msg)
	if err == nil && m == nil {
		return nil, errorf("payload.callType is missing")
	}
	return m, err
}

// message reads the fields of a scanned client frame; nil when it has no callType.
func message(msg *level) (*Message, error) {
	if isAbsent(msg.raw[keyCallType]) {
		// dotNetify treats a payload without callType like $connect: nothing to do.
		return nil, nil
	}
	callType, err := stringField("payload.callType", msg.raw[keyCallType])
	if err != nil {
		return nil, err
	}
	m := &Message{CallType: strings.ToLower(callType)}
	switch m.CallType {
	case CallRequestVM, CallUpdateVM, CallDisposeVM:
	default:
		return nil, errorf("payload.callType %s is not one of request_vm, update_vm, dispose_vm", quoteShort(callType))
	}
	if m.VMID, err = stringField("payload.vmId", msg.raw[keyVMID]); err != nil {
		return nil, err
	}
	if m.VMID == "" {
		return nil, errorf("payload.vmId is empty")
	}
	switch m.CallType {
	case CallRequestVM:
		if m.VMArgs, err = embeddedObject("payload.vmArgs", msg.raw[keyVMArgs], true); err == nil {
			m.Args, m.Headers, err = requestArgs(m.VMArgs)
		}
	case CallUpdateVM:
		if m.Value, err = embeddedObject("payload.value", msg.raw[keyValue], false); err == nil {
			m.Args, m.Headers = takeHeaders(members(m.Value))
		}
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
	// The scanner checks the syntax and refuses duplicate keys, which the runtime's decoder
	// would silently resolve to the last one.
	var pe *Error
	if err := scanObject(inner, name, nil); errors.As(err, &pe) && pe.syntax {
		return nil, errorf("%s must be a string holding a JSON object, got %s", name, quoteShort(s))
	} else if err != nil {
		return nil, err
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
	case '"':
		return "a string"
	case 'n':
		return "null"
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

// quoteShort quotes client-controlled text for a message, cut to its first 40 bytes (at a
// character boundary) so that an error, and the log line that carries it, stays short.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}
