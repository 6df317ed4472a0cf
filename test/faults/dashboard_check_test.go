package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// dashboardFile is the Grafana dashboard the chart ships, from this
// package's directory.
const dashboardFile = "../../charts/cast-operator/dashboards/cast-operator.json"

// The parts of a Grafana dashboard (schemaVersion 39) the checks read.
type (
	grafanaDashboard struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []grafanaVariable `json:"list"`
		} `json:"templating"`
		Panels []grafanaPanel `json:"panels"`
	}
	grafanaDatasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	grafanaPanel struct {
		ID         int                `json:"id"`
		Type       string             `json:"type"`
		Title      string             `json:"title"`
		Datasource *grafanaDatasource `json:"datasource"`
		Targets    []struct {
			Expr         string             `json:"expr"`
			LegendFormat string             `json:"legendFormat"`
			Datasource   *grafanaDatasource `json:"datasource"`
		} `json:"targets"`
		Panels []grafanaPanel `json:"panels"` // a collapsed row's
	}
	grafanaVariable struct {
		Name       string             `json:"name"`
		Type       string             `json:"type"`
		Definition string             `json:"definition"`
		Query      json.RawMessage    `json:"query"`
		Datasource *grafanaDatasource `json:"datasource"`
	}
)

// dashQuery is one PromQL query of the dashboard: a panel target's or a
// template variable's.
type dashQuery struct {
	Where    string // panel or variable, for messages
	Expr     string
	Legend   string
	Variable bool
}

func readDashboard(path string) (grafanaDashboard, error) {
	var d grafanaDashboard
	b, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// queries lists every panel's targets (rows' nested panels included) and
// every query variable's query.
func (d grafanaDashboard) queries() ([]dashQuery, error) {
	var out []dashQuery
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				out = append(out, dashQuery{Where: fmt.Sprintf("panel %q", p.Title), Expr: t.Expr, Legend: t.LegendFormat})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.Definition
		var obj struct {
			Query string `json:"query"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Query, &s) == nil && s != "":
			q = s
		case json.Unmarshal(v.Query, &obj) == nil && obj.Query != "":
			q = obj.Query
		}
		if q == "" {
			return nil, fmt.Errorf("variable %q has no query", v.Name)
		}
		out = append(out, dashQuery{Where: fmt.Sprintf("variable %q", v.Name), Expr: q, Variable: true})
	}
	return out, nil
}

// series is one sample line of an exposition: its name and labels.
type series struct {
	Name   string
	Labels map[string]string
}

// exposition indexes a scrape (as ParseMetrics returns it) by sample name.
type exposition map[string][]map[string]string

func indexExposition(samples map[string]float64) (exposition, error) {
	ex := exposition{}
	for key := range samples {
		s, err := parseSeries(key)
		if err != nil {
			return nil, err
		}
		ex[s.Name] = append(ex[s.Name], s.Labels)
	}
	return ex, nil
}

// parseSeries splits `name{a="x",b="y"}` into its name and labels.
func parseSeries(key string) (series, error) {
	name, rest, ok := strings.Cut(key, "{")
	s := series{Name: name, Labels: map[string]string{}}
	if !ok {
		return s, nil
	}
	for rest != "}" && rest != "" {
		label, after, ok := strings.Cut(rest, `="`)
		if !ok {
			return s, fmt.Errorf("bad labels in %q", key)
		}
		var v strings.Builder
		i := 0
		for ; i < len(after) && after[i] != '"'; i++ {
			if after[i] == '\\' && i+1 < len(after) {
				i++
				if after[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(after[i])
		}
		if i >= len(after) {
			return s, fmt.Errorf("unterminated label value in %q", key)
		}
		s.Labels[strings.TrimLeft(label, ",")] = v.String()
		rest = after[i+1:]
	}
	return s, nil
}

// targetLabels are added by Prometheus when it scrapes, so no /metrics
// carries them; a legend may still name them.
var targetLabels = []string{"pod", "instance", "job", "namespace", "container", "service", "endpoint"}

var legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// processOf reads which process a selector is about from its job matcher:
// "controller", "streamer", or "" without one.
func processOf(s selector) string {
	for _, m := range s.Matchers {
		if m.Label != "job" {
			continue
		}
		switch {
		case strings.Contains(m.Value, "$controller_job"):
			return "controller"
		case strings.Contains(m.Value, "$streamer_job"):
			return "streamer"
		}
	}
	return ""
}

// checkQueries checks the dashboard's queries against live scrapes of each
// process and returns what is wrong: a metric the process does not export,
// a literal label value (controller="cast") no series of it has, a legend
// label its series lack, a panel query without a job matcher (it would
// mix the processes). It also returns every metric named.
func checkQueries(qs []dashQuery, live map[string]exposition) (problems, metrics []string) {
	for _, q := range qs {
		sels, err := promqlSelectors(q.Expr)
		if q.Variable {
			sels, err = variableSelectors(q.Expr)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", q.Where, err))
			continue
		}
		if len(sels) == 0 && !q.Variable {
			problems = append(problems, fmt.Sprintf("%s: %q names no metric", q.Where, q.Expr))
		}
		for _, s := range sels {
			metrics = append(metrics, s.Metric)
			procs := []string{processOf(s)}
			if procs[0] == "" {
				if !q.Variable {
					problems = append(problems, fmt.Sprintf("%s: %s has no job=~\"$controller_job\" or \"$streamer_job\" matcher", q.Where, s.Metric))
				}
				procs = []string{"controller", "streamer"}
			}
			var found []map[string]string
			for _, p := range procs {
				found = append(found, live[p][s.Metric]...)
			}
			if len(found) == 0 {
				problems = append(problems, fmt.Sprintf("%s: %s is not on the %s's /metrics", q.Where, s.Metric, strings.Join(procs, "'s or the ")))
				continue
			}
			for _, m := range s.Matchers {
				if m.Op != "=" || m.Label == "__name__" || strings.Contains(m.Value, "$") {
					continue
				}
				if !slices.ContainsFunc(found, func(l map[string]string) bool { return l[m.Label] == m.Value }) {
					problems = append(problems, fmt.Sprintf("%s: no %s series has %s=%q", q.Where, s.Metric, m.Label, m.Value))
				}
			}
			for _, l := range legendLabel.FindAllStringSubmatch(q.Legend, -1) {
				if slices.Contains(targetLabels, l[1]) {
					continue
				}
				if !slices.ContainsFunc(found, func(ls map[string]string) bool { _, ok := ls[l[1]]; return ok }) {
					problems = append(problems, fmt.Sprintf("%s: legend {{%s}}, but %s has no such label", q.Where, l[1], s.Metric))
				}
			}
		}
	}
	slices.Sort(metrics)
	return problems, slices.Compact(metrics)
}
