package constructs

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
)

// PropsError reports every problem found in one construct's props. The
// constructors panic with a *PropsError, which fails `cdk synth` with the
// whole list at once.
type PropsError struct {
	// Construct is the construct type, for example "RealtimeService".
	Construct string
	// Path is the construct path, for example "WsgateStack/Realtime".
	Path string
	// Problems holds one line per bad prop: the prop, the bad value, the
	// allowed values and the fix.
	Problems []string
}

// Error lists the problems one per line under a header naming the construct.
func (e *PropsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wsgate: invalid %s props at %s (%d problem%s):", e.Construct, e.Path, len(e.Problems), plural(len(e.Problems)))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// problems collects validation failures for one set of props.
type problems struct {
	items []string
}

// add records one bad prop with its value, what is allowed and how to fix it.
func (p *problems) add(field, got, allowed, fix string) {
	p.items = append(p.items, fmt.Sprintf("%s: got %s; allowed: %s; fix: %s", field, got, allowed, fix))
}

// addf records a problem that is not about a single value (such as two
// props that exclude each other).
func (p *problems) addf(format string, args ...any) {
	p.items = append(p.items, fmt.Sprintf(format, args...))
}

// check panics with a *PropsError when problems were found.
func (p *problems) check(kind string, scope constructs.Construct, id *string) {
	if len(p.items) == 0 {
		return
	}
	panic(&PropsError{Construct: kind, Path: childPath(scope, *id), Problems: p.items})
}

// childPath is the path the construct will get; it does not exist yet while
// its props are validated.
func childPath(scope constructs.Construct, id string) string {
	parent := *scope.Node().Path()
	if parent == "" {
		return id
	}
	return parent + "/" + id
}

// stageNamePattern is API Gateway's stage name rule.
var stageNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// unresolvedString reports whether s is a CDK token known only at deploy
// time; such values cannot be checked at synth.
func unresolvedString(s *string) bool {
	return s != nil && *awscdk.Token_IsUnresolved(s)
}

// unresolvedNumber reports whether n is a CDK number token.
func unresolvedNumber(n *float64) bool {
	return n != nil && *awscdk.Token_IsUnresolved(n)
}

// quote renders a string value for a problem line.
func quote(s *string) string {
	if s == nil {
		return "nothing"
	}
	return fmt.Sprintf("%q", *s)
}

// num renders a number value for a problem line.
func num(n *float64) string {
	if n == nil {
		return "nothing"
	}
	return fmt.Sprintf("%g", *n)
}

// isInt reports whether v is a whole number.
func isInt(v float64) bool {
	return v == math.Trunc(v) && !math.IsInf(v, 0)
}

// checkPort validates a TCP port prop.
func (p *problems) checkPort(field string, v *float64, def string) {
	if unresolvedNumber(v) {
		return
	}
	if !isInt(*v) || *v < 1 || *v > 65535 {
		p.add(field, num(v), "a whole number from 1 to 65535", "set "+field+" to a valid TCP port or leave it unset for "+def)
	}
}
