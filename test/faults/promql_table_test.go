package faults

import (
	"reflect"
	"testing"
)

func TestPromQLSelectors(t *testing.T) {
	m := func(label, op, value string) matcher { return matcher{Label: label, Op: op, Value: value} }
	cases := []struct {
		name, expr string
		want       []selector
		wantErr    bool
	}{
		{name: "bare metric", expr: "up", want: []selector{{Metric: "up"}}},
		{name: "aggregation with grouping first, range, Grafana interval",
			expr: `sum by (le) (rate(foo_bucket{job=~"$j", le!="+Inf"}[$__rate_interval]))`,
			want: []selector{{Metric: "foo_bucket", Matchers: []matcher{m("job", "=~", "$j"), m("le", "!=", "+Inf")}}}},
		{name: "histogram_quantile, grouping after, recording-rule name",
			expr: `histogram_quantile(0.99, sum(rate(ns:lag_seconds_bucket[5m])) without (instance, pod))`,
			want: []selector{{Metric: "ns:lag_seconds_bucket"}}},
		{name: "vector matching and offset",
			expr: `a_total / on (pod) group_left (node) b_info offset 1h30m`,
			want: []selector{{Metric: "a_total"}, {Metric: "b_info"}}},
		{name: "bool, set operators and a function without a metric",
			expr: `count(x == bool 1) and vector(1) or on() y unless z`,
			want: []selector{{Metric: "x"}, {Metric: "y"}, {Metric: "z"}}},
		{name: "name in braces", expr: `{__name__="foo_total", job="c"}`,
			want: []selector{{Metric: "foo_total", Matchers: []matcher{m("__name__", "=", "foo_total"), m("job", "=", "c")}}}},
		{name: "strings are not metrics", expr: `label_replace(m, "dst", "$1", "src", "(.*)")`,
			want: []selector{{Metric: "m"}}},
		{name: "subquery and @ modifier", expr: `max_over_time(rate(m[5m])[1h:1m] @ end())`,
			want: []selector{{Metric: "m"}}},
		{name: "braces and escaped quotes inside values", expr: `m{a="}", b="say \"hi\"", c='x', d=` + "`\\d`" + `}`,
			want: []selector{{Metric: "m", Matchers: []matcher{m("a", "=", "}"), m("b", "=", `say "hi"`), m("c", "=", "x"), m("d", "=", `\d`)}}}},
		{name: "ignoring, the same metric twice, comment",
			expr: "sum(rate(r_total{code=~\"5..\"}[5m])) # errors\n / ignoring(code) sum(rate(r_total[5m]))",
			want: []selector{{Metric: "r_total", Matchers: []matcher{m("code", "=~", "5..")}}, {Metric: "r_total"}}},
		{name: "topk, numbers and scientific notation", expr: `topk(5, m) * 1e-3 + .5`, want: []selector{{Metric: "m"}}},
		{name: "keywords are case-insensitive", expr: `sum BY (x) (m) AND n`, want: []selector{{Metric: "m"}, {Metric: "n"}}},
		{name: "a selector without a name", expr: `{job="x"}`, wantErr: true},
		{name: "a matcher without a value", expr: `m{a}`, wantErr: true},
		{name: "a bad matcher operator", expr: `m{a>"1"}`, wantErr: true},
		{name: "an unterminated string", expr: `m{a="x}`, wantErr: true},
		{name: "an unclosed range", expr: `rate(m[5m)`, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := promqlSelectors(tc.expr)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("promqlSelectors(%q) = %v, want an error", tc.expr, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("promqlSelectors(%q): %v", tc.expr, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("promqlSelectors(%q)\n got %#v\nwant %#v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestVariableSelectors(t *testing.T) {
	cases := []struct {
		query string
		want  []selector
	}{
		{query: `label_values(m{a=~"$x"}, job)`, want: []selector{{Metric: "m", Matchers: []matcher{{Label: "a", Op: "=~", Value: "$x"}}}}},
		{query: `label_values(namespace)`, want: nil},
		{query: `query_result(sum by (job) (m))`, want: []selector{{Metric: "m"}}},
		{query: `metrics(cast_.*)`, want: nil},
		{query: `up{job="x"}`, want: []selector{{Metric: "up", Matchers: []matcher{{Label: "job", Op: "=", Value: "x"}}}}},
	}
	for _, tc := range cases {
		got, err := variableSelectors(tc.query)
		if err != nil {
			t.Errorf("variableSelectors(%q): %v", tc.query, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("variableSelectors(%q)\n got %#v\nwant %#v", tc.query, got, tc.want)
		}
	}
}

func TestParseSeries(t *testing.T) {
	cases := []struct {
		key  string
		want series
	}{
		{key: "go_goroutines", want: series{Name: "go_goroutines", Labels: map[string]string{}}},
		{key: `a_total{code="200",op="get run"}`, want: series{Name: "a_total", Labels: map[string]string{"code": "200", "op": "get run"}}},
		{key: `b{msg="say \"hi\", a\\b",x="}"}`, want: series{Name: "b", Labels: map[string]string{"msg": `say "hi", a\b`, "x": "}"}}},
	}
	for _, tc := range cases {
		got, err := parseSeries(tc.key)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseSeries(%q) = %#v, %v; want %#v", tc.key, got, err, tc.want)
		}
	}
}

func TestCheckQueries(t *testing.T) {
	live := map[string]exposition{
		"controller": {"reconcile_errors_total": {{"controller": "cast"}}},
		"streamer":   {"closed_total": {{"reason": "timeout"}, {"reason": "shutdown"}}},
	}
	cases := []struct {
		name  string
		q     dashQuery
		wrong bool
	}{
		{name: "present on its process", q: dashQuery{Expr: `sum by (reason) (rate(closed_total{job=~"$streamer_job"}[5m]))`, Legend: "{{reason}} {{pod}}"}},
		{name: "literal label value present", q: dashQuery{Expr: `reconcile_errors_total{controller="cast", job=~"$controller_job"}`}},
		{name: "a variable needs no job", q: dashQuery{Expr: `label_values(closed_total, job)`, Variable: true}},
		{name: "on the other process only", q: dashQuery{Expr: `closed_total{job=~"$controller_job"}`}, wrong: true},
		{name: "a metric nobody exports", q: dashQuery{Expr: `rate(closed_totals{job=~"$streamer_job"}[5m])`}, wrong: true},
		{name: "a literal label value no series has", q: dashQuery{Expr: `reconcile_errors_total{controller="Cast", job=~"$controller_job"}`}, wrong: true},
		{name: "a legend label the series lack", q: dashQuery{Expr: `closed_total{job=~"$streamer_job"}`, Legend: "{{reasons}}"}, wrong: true},
		{name: "a panel query without a job", q: dashQuery{Expr: `closed_total`}, wrong: true},
		{name: "a panel query naming no metric", q: dashQuery{Expr: `vector(1)`}, wrong: true},
		{name: "a variable metric nobody exports", q: dashQuery{Expr: `label_values(nope, job)`, Variable: true}, wrong: true},
	}
	for _, tc := range cases {
		problems, _ := checkQueries([]dashQuery{tc.q}, live)
		if (len(problems) > 0) != tc.wrong {
			t.Errorf("%s: problems %q, want some: %v", tc.name, problems, tc.wrong)
		}
	}
}
