package cfn

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// dynamicRef matches a CloudFormation dynamic reference,
// {{resolve:service:reference-key}}, anywhere in a string: CloudFormation
// resolves one inside a longer string too, such as the quoted static value
// of a request parameter ('{{resolve:secretsmanager:…}}').
var dynamicRef = regexp.MustCompile(`\{\{resolve:([a-z-]+):([^{}]*)\}\}`)

// secretRef is a parsed secretsmanager dynamic reference:
// secret-id:SecretString:json-key:version-stage:version-id, with every
// part after the id optional.
type secretRef struct {
	text    string // the reference as written
	id      string // logical id (what Ref gives locally), name or ARN
	jsonKey string
}

// parseSecretRef reads the reference key of a secretsmanager reference.
// A secret ARN holds colons itself (arn:aws:secretsmanager:…:secret:name),
// so the id runs up to ":SecretString" when that is present.
func parseSecretRef(text, key string) (secretRef, error) {
	r := secretRef{text: text, id: key}
	if i := strings.Index(key, ":SecretString"); i >= 0 {
		r.id = key[:i]
		rest := strings.Split(strings.TrimPrefix(key[i+len(":SecretString"):], ":"), ":")
		r.jsonKey = rest[0]
		if len(rest) > 1 && rest[1] != "" || len(rest) > 2 && rest[2] != "" {
			return r, fmt.Errorf("dynamic reference %s: a version stage or id cannot be served locally; refer to the current version", text)
		}
	}
	if r.id == "" {
		return r, fmt.Errorf("dynamic reference %s: no secret id", text)
	}
	return r, nil
}

// substituteSecrets replaces the dynamic references in the strings of v
// with what value returns for each.
func substituteSecrets(v any, value func(secretRef) (string, error)) (any, error) {
	switch t := v.(type) {
	case string:
		var firstErr error
		out := dynamicRef.ReplaceAllStringFunc(t, func(m string) string {
			sub := dynamicRef.FindStringSubmatch(m)
			if sub[1] != "secretsmanager" {
				if firstErr == nil {
					firstErr = fmt.Errorf("dynamic reference %s: only secretsmanager references can be resolved locally", m)
				}
				return m
			}
			ref, err := parseSecretRef(m, sub[2])
			if err == nil {
				var s string
				if s, err = value(ref); err == nil {
					return s
				}
			}
			if firstErr == nil {
				firstErr = err
			}
			return m
		})
		return out, firstErr
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			x, err := substituteSecrets(e, value)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			x, err := substituteSecrets(e, value)
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	}
	return v, nil
}

// secretValue answers a reference from Options.Secrets, taking one key of
// a JSON secret when the reference names one.
func (o Options) secretValue(ref secretRef) (string, error) {
	s, ok := o.Secrets[ref.id]
	if !ok {
		return "", fmt.Errorf("dynamic reference %s: no value for secret %s; give the gateway one (wsgate gateway --secret %s=VALUE)", ref.text, ref.id, ref.id)
	}
	if ref.jsonKey == "" {
		return s, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(s), &fields); err != nil {
		return "", fmt.Errorf("dynamic reference %s: the value of secret %s is not a JSON object, so it has no key %q", ref.text, ref.id, ref.jsonKey)
	}
	f, ok := fields[ref.jsonKey]
	if !ok {
		return "", fmt.Errorf("dynamic reference %s: the value of secret %s has no key %q", ref.text, ref.id, ref.jsonKey)
	}
	return str(f), nil
}

// SecretReferences lists the ids of the secrets the template's API Gateway
// resources refer to with secretsmanager dynamic references, as the
// gateway looks them up in Options.Secrets (a secret in the same template
// is referred to by its logical id, which Ref gives locally).
func SecretReferences(data []byte, opts Options) ([]string, error) {
	b, err := newBuilder(data, opts)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	collect := func(ref secretRef) (string, error) {
		seen[ref.id] = true
		return "", nil
	}
	ids := b.apiResourceIDs()
	for _, id := range ids {
		v, err := b.r.resolve(map[string]any(b.r.doc.Resources[id].Properties))
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		if _, err := substituteSecrets(v, collect); err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// SameSecret gives every secret the template refers to the value value:
// how wsgate dev and the local test stacks stand in for the secrets
// CloudFormation would resolve, with one value they also give the server.
func SameSecret(data []byte, opts Options, value string) (map[string]string, error) {
	ids, err := SecretReferences(data, opts)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		out[id] = value
	}
	return out, nil
}
