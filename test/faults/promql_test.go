package faults

import (
	"fmt"
	"strings"
)

// selector is one vector selector a PromQL expression names: the metric
// and its label matchers.
type selector struct {
	Metric   string
	Matchers []matcher
}

// matcher is one label matcher, e.g. job=~"$streamer_job".
type matcher struct {
	Label, Op, Value string
}

// promToken is a lexeme: kind is 'i' (identifier), 's' (string, value
// unquoted), 'n' (number or duration), '$' (a Grafana variable outside a
// string), or the punctuation itself ("(", "{", "=~", "+", ...).
type promToken struct {
	kind string
	text string
}

// PromQL words that are not metric names where they stand: modifiers,
// set operators, and the number literals.
var promKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "atan2": true, "offset": true,
	"inf": true, "nan": true,
}

// promqlSelectors lists the vector selectors of a PromQL expression, the
// way Prometheus's parser would find them, without that heavy module:
// function and aggregation names (followed by "(" or "by"/"without"),
// keywords, label lists of by/without/on/ignoring/group_*, strings,
// numbers, durations and ranges are skipped. Grafana's $variables may
// stand where durations and strings do.
func promqlSelectors(expr string) ([]selector, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1].kind
		}
		switch {
		case t.kind == "[":
			// A range or subquery: durations, steps and variables only.
			if i, err = skipGroup(toks, i, "[", "]"); err != nil {
				return nil, err
			}
		case t.kind == "{":
			// A selector without a name before its braces: {__name__="m"}.
			ms, end, err := parseMatchers(toks, i)
			if err != nil {
				return nil, err
			}
			s := selector{Matchers: ms}
			for _, m := range ms {
				if m.Label == "__name__" && m.Op == "=" {
					s.Metric = m.Value
				}
			}
			if s.Metric == "" {
				return nil, fmt.Errorf("selector without a metric name at token %d of %q", i, expr)
			}
			out, i = append(out, s), end
		case t.kind != "i":
		case promKeywords[strings.ToLower(t.text)]:
			switch strings.ToLower(t.text) {
			case "by", "without", "on", "ignoring", "group_left", "group_right":
				// Their parenthesised lists hold label names.
				if next == "(" {
					if i, err = skipGroup(toks, i+1, "(", ")"); err != nil {
						return nil, err
					}
				}
			}
		case next == "(":
			// A function or aggregation call.
		case next == "i" && (strings.EqualFold(toks[i+1].text, "by") || strings.EqualFold(toks[i+1].text, "without")):
			// An aggregation with its grouping first: sum by (le) (...).
		default:
			s := selector{Metric: t.text}
			if next == "{" {
				ms, end, err := parseMatchers(toks, i+1)
				if err != nil {
					return nil, err
				}
				s.Matchers, i = ms, end
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// parseMatchers reads label matchers from the "{" at toks[i]; it returns
// them and the index of the closing "}".
func parseMatchers(toks []promToken, i int) ([]matcher, int, error) {
	var ms []matcher
	i++
	for i < len(toks) && toks[i].kind != "}" {
		if i+2 >= len(toks) || toks[i].kind != "i" || toks[i+2].kind != "s" {
			return nil, 0, fmt.Errorf("bad label matcher at token %d", i)
		}
		switch op := toks[i+1].kind; op {
		case "=", "!=", "=~", "!~":
			ms = append(ms, matcher{Label: toks[i].text, Op: op, Value: toks[i+2].text})
		default:
			return nil, 0, fmt.Errorf("bad label matcher operator %q", op)
		}
		i += 3
		if i < len(toks) && toks[i].kind == "," {
			i++
		}
	}
	if i >= len(toks) {
		return nil, 0, fmt.Errorf("unclosed label matchers")
	}
	return ms, i, nil
}

// skipGroup returns the index of the token closing the group toks[i]
// opens.
func skipGroup(toks []promToken, i int, open, closing string) (int, error) {
	depth := 0
	for ; i < len(toks); i++ {
		switch toks[i].kind {
		case open:
			depth++
		case closing:
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unclosed %q", open)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || ('0' <= c && c <= '9') }

// lexPromQL splits expr into tokens; comments are dropped.
func lexPromQL(expr string) ([]promToken, error) {
	var toks []promToken
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			s, n, err := lexString(expr[i:])
			if err != nil {
				return nil, err
			}
			toks, i = append(toks, promToken{kind: "s", text: s}), i+n
		case c == '$':
			j := i + 1
			if j < len(expr) && expr[j] == '{' {
				end := strings.IndexByte(expr[j:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unclosed ${ in %q", expr)
				}
				j += end + 1
			} else {
				for j < len(expr) && isIdentChar(expr[j]) {
					j++
				}
			}
			toks, i = append(toks, promToken{kind: "$", text: expr[i:j]}), j
		case '0' <= c && c <= '9' || c == '.' && i+1 < len(expr) && '0' <= expr[i+1] && expr[i+1] <= '9':
			// Numbers (1, 0.5, 1e-3, 0x1f) and durations (5m, 1h30m).
			j := i
			for j < len(expr) && (isIdentChar(expr[j]) || expr[j] == '.' ||
				(expr[j] == '-' || expr[j] == '+') && (expr[j-1] == 'e' || expr[j-1] == 'E')) {
				j++
			}
			toks, i = append(toks, promToken{kind: "n", text: expr[i:j]}), j
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdentChar(expr[j]) {
				j++
			}
			toks, i = append(toks, promToken{kind: "i", text: expr[i:j]}), j
		default:
			op := string(c)
			if i+1 < len(expr) {
				switch two := expr[i : i+2]; two {
				case "=~", "!~", "!=", "==", "<=", ">=":
					op = two
				}
			}
			toks, i = append(toks, promToken{kind: op, text: op}), i+len(op)
		}
	}
	return toks, nil
}

// lexString reads the quoted string s starts with; it returns its value
// and the length it took. Backquoted strings have no escapes.
func lexString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && q != '`' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string %s", s)
}

// variableSelectors lists the selectors of a Grafana Prometheus variable
// query: label_values(SELECTOR, label), query_result(EXPR), or label_values(label) and
// metrics(regex), which name none.
func variableSelectors(q string) ([]selector, error) {
	q = strings.TrimSpace(q)
	if inner, ok := strings.CutPrefix(q, "label_values("); ok && strings.HasSuffix(inner, ")") {
		inner = strings.TrimSuffix(inner, ")")
		comma := strings.LastIndexByte(inner, ',')
		if comma < 0 {
			return nil, nil
		}
		return promqlSelectors(inner[:comma])
	}
	if inner, ok := strings.CutPrefix(q, "query_result("); ok && strings.HasSuffix(inner, ")") {
		return promqlSelectors(strings.TrimSuffix(inner, ")"))
	}
	if strings.HasPrefix(q, "metrics(") || strings.HasPrefix(q, "label_names(") {
		return nil, nil
	}
	return promqlSelectors(q)
}
