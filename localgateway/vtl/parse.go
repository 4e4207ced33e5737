// Package vtl renders API Gateway mapping templates: the subset of the
// Velocity Template Language that request and response templates use in
// practice. It supports references ($x, ${x}, $!x) with property access,
// method calls and [index]; #set, #if/#elseif/#else, #foreach (with
// $foreach.hasNext, $foreach.index, $foreach.count and $velocityCount), ##
// and #* *# comments; and expressions with string, number, boolean, list and
// map literals, arithmetic, comparison and logical operators.
package vtl

import (
	"fmt"
	"strconv"
	"strings"
)

// Template is a parsed mapping template.
type Template struct {
	nodes []node
}

// node is one element of a parsed template.
type node interface{}

type textNode string

type refNode struct {
	ref   *reference
	quiet bool
}

type setNode struct {
	target *reference
	value  expr
}

type ifNode struct {
	conds  []expr
	bodies [][]node // len(bodies) == len(conds) or len(conds)+1 with an #else
}

type foreachNode struct {
	variable string
	list     expr
	body     []node
}

// reference is $root followed by accessors.
type reference struct {
	root  string
	steps []accessor
	src   string
}

// accessor is .name, .name(args) or [index].
type accessor struct {
	name    string
	call    bool
	args    []expr
	index   expr
	bracket bool
}

// expr is an expression inside a directive or an argument list.
type expr interface{}

type literal struct{ v any }

type interpolated struct{ t *Template }

type listExpr struct{ items []expr }

type rangeExpr struct{ from, to expr }

type mapExpr struct{ keys, values []expr }

type refExpr struct{ ref *reference }

type unary struct {
	op string
	x  expr
}

type binary struct {
	op   string
	l, r expr
}

// Parse parses a mapping template.
func Parse(src string) (*Template, error) {
	p := &parser{src: src}
	nodes, end, err := p.nodes()
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, p.errorf("#%s without a matching #if or #foreach", end)
	}
	return &Template{nodes: nodes}, nil
}

type parser struct {
	src string
	pos int
}

func (p *parser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.src[:min(p.pos, len(p.src))], "\n")
	return fmt.Errorf("template line %d: %s", line, fmt.Sprintf(format, args...))
}

// nodes parses until the end of input or a block keyword (#end, #else,
// #elseif), which it returns without consuming its argument.
func (p *parser) nodes() ([]node, string, error) {
	var out []node
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			out = append(out, textNode(text.String()))
			text.Reset()
		}
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\\' && p.peekAt(1) == '$':
			text.WriteByte('$')
			p.pos += 2
		case c == '$':
			ref, quiet, ok, err := p.reference()
			if err != nil {
				return nil, "", err
			}
			if !ok {
				text.WriteByte('$')
				p.pos++
				continue
			}
			flush()
			out = append(out, refNode{ref: ref, quiet: quiet})
		case c == '#':
			n, keyword, handled, err := p.directive()
			if err != nil {
				return nil, "", err
			}
			if keyword != "" {
				flush()
				return out, keyword, nil
			}
			if !handled {
				text.WriteByte('#')
				p.pos++
				continue
			}
			flush()
			if n != nil {
				out = append(out, n)
			}
		default:
			text.WriteByte(c)
			p.pos++
		}
	}
	flush()
	return out, "", nil
}

func (p *parser) peekAt(off int) byte {
	if p.pos+off < len(p.src) {
		return p.src[p.pos+off]
	}
	return 0
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isIdent(c byte) bool {
	return isIdentStart(c) || '0' <= c && c <= '9' || c == '-'
}

// ident reads an identifier at pos.
func (p *parser) ident() string {
	start := p.pos
	if p.pos < len(p.src) && isIdentStart(p.src[p.pos]) {
		p.pos++
		for p.pos < len(p.src) && isIdent(p.src[p.pos]) {
			p.pos++
		}
	}
	return p.src[start:p.pos]
}

// reference parses $x.y(z)[0] in any of its forms. ok is false (and pos
// unchanged) when the '$' does not start a reference.
func (p *parser) reference() (*reference, bool, bool, error) {
	start := p.pos
	p.pos++
	quiet := false
	if p.peekAt(0) == '!' {
		quiet = true
		p.pos++
	}
	braced := false
	if p.peekAt(0) == '{' {
		braced = true
		p.pos++
	}
	root := p.ident()
	if root == "" {
		p.pos = start
		return nil, false, false, nil
	}
	ref := &reference{root: root}
	for {
		save := p.pos
		c := p.peekAt(0)
		if c == '.' && isIdentStart(p.peekAt(1)) {
			p.pos++
			a := accessor{name: p.ident()}
			if p.peekAt(0) == '(' {
				p.pos++
				args, err := p.exprList(')')
				if err != nil {
					return nil, false, false, err
				}
				a.call, a.args = true, args
			}
			ref.steps = append(ref.steps, a)
			continue
		}
		if c == '[' {
			p.pos++
			p.skipSpace()
			idx, err := p.expr()
			if err != nil {
				return nil, false, false, err
			}
			p.skipSpace()
			if p.peekAt(0) != ']' {
				return nil, false, false, p.errorf("missing ']' in reference $%s", root)
			}
			p.pos++
			ref.steps = append(ref.steps, accessor{bracket: true, index: idx})
			continue
		}
		p.pos = save
		break
	}
	if braced {
		if p.peekAt(0) != '}' {
			return nil, false, false, p.errorf("missing '}' in reference ${%s", root)
		}
		p.pos++
	}
	ref.src = p.src[start:p.pos]
	return ref, quiet, true, nil
}

// directive parses a #-directive or comment at pos. keyword is set for
// #end/#else/#elseif, which end the enclosing block. handled is false for a
// '#' that is plain text.
func (p *parser) directive() (node, string, bool, error) {
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "##"):
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			p.pos += nl + 1
		} else {
			p.pos = len(p.src)
		}
		return nil, "", true, nil
	case strings.HasPrefix(rest, "#*"):
		end := strings.Index(rest[2:], "*#")
		if end < 0 {
			return nil, "", false, p.errorf("unclosed #* comment")
		}
		p.pos += end + 4
		return nil, "", true, nil
	}
	p.pos++
	braced := p.peekAt(0) == '{'
	if braced {
		p.pos++
	}
	name := p.ident()
	if braced {
		if p.peekAt(0) != '}' {
			p.pos -= len(name) + 2
			return nil, "", false, nil
		}
		p.pos++
	}
	switch name {
	case "end", "else":
		return nil, name, true, nil
	case "elseif":
		return nil, name, true, nil
	case "set":
		n, err := p.set()
		return n, "", true, err
	case "if":
		n, err := p.ifBlock()
		return n, "", true, err
	case "foreach":
		n, err := p.foreach()
		return n, "", true, err
	}
	p.pos -= len(name) + 1
	if braced {
		p.pos -= 2
	}
	return nil, "", false, nil
}

// open consumes optional spaces and '(' of a directive.
func (p *parser) open(directive string) error {
	p.skipSpace()
	if p.peekAt(0) != '(' {
		return p.errorf("#%s needs '('", directive)
	}
	p.pos++
	return nil
}

func (p *parser) close(directive string) error {
	p.skipSpace()
	if p.peekAt(0) != ')' {
		return p.errorf("#%s: missing ')'", directive)
	}
	p.pos++
	return nil
}

func (p *parser) set() (node, error) {
	if err := p.open("set"); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.peekAt(0) != '$' {
		return nil, p.errorf("#set needs a $variable")
	}
	ref, _, ok, err := p.reference()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.errorf("#set needs a $variable")
	}
	p.skipSpace()
	if p.peekAt(0) != '=' {
		return nil, p.errorf("#set needs '='")
	}
	p.pos++
	p.skipSpace()
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.close("set"); err != nil {
		return nil, err
	}
	p.eatLineEnd()
	return setNode{target: ref, value: v}, nil
}

func (p *parser) condition(directive string) (expr, error) {
	if err := p.open(directive); err != nil {
		return nil, err
	}
	p.skipSpace()
	cond, err := p.expr()
	if err != nil {
		return nil, err
	}
	return cond, p.close(directive)
}

func (p *parser) ifBlock() (node, error) {
	cond, err := p.condition("if")
	if err != nil {
		return nil, err
	}
	n := ifNode{conds: []expr{cond}}
	for {
		body, kw, err := p.nodes()
		if err != nil {
			return nil, err
		}
		n.bodies = append(n.bodies, body)
		switch kw {
		case "end":
			return n, nil
		case "elseif":
			if len(n.bodies) > len(n.conds) {
				return nil, p.errorf("#elseif after #else")
			}
			c, err := p.condition("elseif")
			if err != nil {
				return nil, err
			}
			n.conds = append(n.conds, c)
		case "else":
			if len(n.bodies) > len(n.conds) {
				return nil, p.errorf("second #else")
			}
		default:
			return nil, p.errorf("#if without #end")
		}
	}
}

func (p *parser) foreach() (node, error) {
	if err := p.open("foreach"); err != nil {
		return nil, err
	}
	p.skipSpace()
	ref, _, ok, err := p.reference()
	if err != nil {
		return nil, err
	}
	if !ok || len(ref.steps) > 0 {
		return nil, p.errorf("#foreach needs a $variable")
	}
	p.skipSpace()
	if !strings.HasPrefix(p.src[p.pos:], "in") {
		return nil, p.errorf("#foreach needs 'in'")
	}
	p.pos += 2
	p.skipSpace()
	list, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.close("foreach"); err != nil {
		return nil, err
	}
	body, kw, err := p.nodes()
	if err != nil {
		return nil, err
	}
	if kw != "end" {
		return nil, p.errorf("#foreach without #end")
	}
	return foreachNode{variable: ref.root, list: list, body: body}, nil
}

// eatLineEnd drops spaces and one newline after #set, as Velocity does, so
// a line of #set directives leaves no blank line behind.
func (p *parser) eatLineEnd() {
	i := p.pos
	for i < len(p.src) && (p.src[i] == ' ' || p.src[i] == '\t' || p.src[i] == '\r') {
		i++
	}
	if i < len(p.src) && p.src[i] == '\n' {
		p.pos = i + 1
	}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

// exprList parses comma-separated expressions up to the closing byte.
func (p *parser) exprList(closing byte) ([]expr, error) {
	var out []expr
	p.skipSpace()
	if p.peekAt(0) == closing {
		p.pos++
		return out, nil
	}
	for {
		p.skipSpace()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		p.skipSpace()
		switch p.peekAt(0) {
		case ',':
			p.pos++
		case closing:
			p.pos++
			return out, nil
		default:
			return nil, p.errorf("expected ',' or %q", closing)
		}
	}
}

// Operator precedence, lowest first.
var binaryLevels = [][]string{
	{"||", "or"},
	{"&&", "and"},
	{"==", "!=", "eq", "ne"},
	{"<=", ">=", "<", ">", "le", "ge", "lt", "gt"},
	{"+", "-"},
	{"*", "/", "%"},
}

func (p *parser) expr() (expr, error) { return p.level(0) }

func (p *parser) level(i int) (expr, error) {
	if i == len(binaryLevels) {
		return p.unaryExpr()
	}
	l, err := p.level(i + 1)
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		op := p.operator(binaryLevels[i])
		if op == "" {
			return l, nil
		}
		p.skipSpace()
		r, err := p.level(i + 1)
		if err != nil {
			return nil, err
		}
		l = binary{op: op, l: l, r: r}
	}
}

// operator consumes one of ops at pos; word operators need a boundary.
func (p *parser) operator(ops []string) string {
	rest := p.src[p.pos:]
	for _, op := range ops {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		if isIdentStart(op[0]) && len(rest) > len(op) && isIdent(rest[len(op)]) {
			continue
		}
		// "=" alone is not "==", and "<" must not eat "<=".
		p.pos += len(op)
		return normalizeOp(op)
	}
	return ""
}

func normalizeOp(op string) string {
	switch op {
	case "or":
		return "||"
	case "and":
		return "&&"
	case "eq":
		return "=="
	case "ne":
		return "!="
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "le":
		return "<="
	case "ge":
		return ">="
	}
	return op
}

func (p *parser) unaryExpr() (expr, error) {
	p.skipSpace()
	if p.peekAt(0) == '!' {
		p.pos++
		x, err := p.unaryExpr()
		return unary{op: "!", x: x}, err
	}
	if strings.HasPrefix(p.src[p.pos:], "not ") {
		p.pos += 4
		x, err := p.unaryExpr()
		return unary{op: "!", x: x}, err
	}
	if p.peekAt(0) == '-' && p.pos+1 < len(p.src) && (p.src[p.pos+1] < '0' || p.src[p.pos+1] > '9') {
		p.pos++
		x, err := p.unaryExpr()
		return unary{op: "-", x: x}, err
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	p.skipSpace()
	c := p.peekAt(0)
	switch {
	case c == '$':
		ref, _, ok, err := p.reference()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, p.errorf("bad reference")
		}
		return refExpr{ref: ref}, nil
	case c == '\'':
		end := strings.IndexByte(p.src[p.pos+1:], '\'')
		if end < 0 {
			return nil, p.errorf("unclosed string")
		}
		s := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return literal{v: s}, nil
	case c == '"':
		end := strings.IndexByte(p.src[p.pos+1:], '"')
		if end < 0 {
			return nil, p.errorf("unclosed string")
		}
		s := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		if !strings.ContainsAny(s, "$#") {
			return literal{v: s}, nil
		}
		t, err := Parse(s)
		if err != nil {
			return nil, err
		}
		return interpolated{t: t}, nil
	case c == '(':
		p.pos++
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peekAt(0) != ')' {
			return nil, p.errorf("missing ')'")
		}
		p.pos++
		return e, nil
	case c == '[':
		return p.list()
	case c == '{':
		return p.mapLiteral()
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	word := p.ident()
	switch word {
	case "true":
		return literal{v: true}, nil
	case "false":
		return literal{v: false}, nil
	case "null":
		return literal{v: nil}, nil
	}
	return nil, p.errorf("unexpected %q in expression", p.src[p.pos-len(word):min(len(p.src), p.pos-len(word)+10)])
}

func (p *parser) number() (expr, error) {
	start := p.pos
	if p.peekAt(0) == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && ('0' <= p.src[p.pos] && p.src[p.pos] <= '9' || p.src[p.pos] == '.' && p.peekAt(1) != '.') {
		p.pos++
	}
	f, err := strconv.ParseFloat(p.src[start:p.pos], 64)
	if err != nil {
		return nil, p.errorf("bad number %q", p.src[start:p.pos])
	}
	return literal{v: f}, nil
}

func (p *parser) list() (expr, error) {
	p.pos++
	p.skipSpace()
	if p.peekAt(0) == ']' {
		p.pos++
		return listExpr{}, nil
	}
	first, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], "..") {
		p.pos += 2
		to, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peekAt(0) != ']' {
			return nil, p.errorf("missing ']' in range")
		}
		p.pos++
		return rangeExpr{from: first, to: to}, nil
	}
	items := []expr{first}
	if p.peekAt(0) == ',' {
		p.pos++
		rest, err := p.exprList(']')
		if err != nil {
			return nil, err
		}
		return listExpr{items: append(items, rest...)}, nil
	}
	if p.peekAt(0) != ']' {
		return nil, p.errorf("missing ']' in list")
	}
	p.pos++
	return listExpr{items: items}, nil
}

func (p *parser) mapLiteral() (expr, error) {
	p.pos++
	m := mapExpr{}
	for {
		p.skipSpace()
		if p.peekAt(0) == '}' {
			p.pos++
			return m, nil
		}
		k, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.peekAt(0) != ':' {
			return nil, p.errorf("missing ':' in map")
		}
		p.pos++
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		m.keys, m.values = append(m.keys, k), append(m.values, v)
		p.skipSpace()
		if p.peekAt(0) == ',' {
			p.pos++
		}
	}
}
