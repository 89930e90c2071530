// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package dashboards embeds the otelcol-sre Grafana dashboards and extracts their PromQL, so tests can
// check that every panel query parses (deploy) and returns data from a Prometheus fed by the collector
// (end to end).
package dashboards

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
)

//go:embed *.json
var files embed.FS

// Query is one PromQL expression of a dashboard: a panel target or a template variable's selector.
type Query struct {
	Dashboard string // file name
	Panel     string // panel title, or "variable <name>"
	// Expr is the query with Grafana's variables replaced (see Substitute): plain PromQL.
	Expr string
}

type panel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []json.RawMessage `json:"panels"`
}

type dashboard struct {
	UID        string            `json:"uid"`
	Panels     []json.RawMessage `json:"panels"`
	Templating struct {
		List []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Query   any    `json:"query"`
			Options []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"list"`
	} `json:"templating"`
}

var labelValues = regexp.MustCompile(`^label_values\((.+), *[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// Files lists the embedded dashboard files.
func Files() ([]string, error) {
	return fs.Glob(files, "*.json")
}

// Queries returns every panel target (rows' nested panels included) and every query variable's
// label_values() selector of every dashboard. It fails on a panel without queries, a panel whose data
// source is not the ${datasource} variable, or a query variable that is not label_values(selector, label).
func Queries() ([]Query, error) {
	names, err := Files()
	if err != nil {
		return nil, err
	}
	var out []Query
	var errs []error
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if !strings.HasPrefix(d.UID, "otelcol-sre-") {
			errs = append(errs, fmt.Errorf("%s: uid %q must start with otelcol-sre-", name, d.UID))
		}
		custom := map[string][]string{}
		for _, v := range d.Templating.List {
			if v.Type == "custom" {
				for _, o := range v.Options {
					custom[v.Name] = append(custom[v.Name], o.Value)
				}
			}
		}
		for _, raw := range d.Panels {
			q, err := panelQueries(name, raw)
			for _, pq := range q {
				for _, e := range expandCustom(pq, custom) {
					out = append(out, Query{e.Dashboard, e.Panel, Substitute(e.Expr)})
				}
			}
			errs = append(errs, err)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(map[string]any)["query"].(string)
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				errs = append(errs, fmt.Errorf("%s variable %s: %q is not label_values(selector, label)", name, v.Name, q))
				continue
			}
			out = append(out, Query{name, "variable " + v.Name, Substitute(m[1])})
		}
	}
	return out, errors.Join(errs...)
}

func panelQueries(file string, raw json.RawMessage) ([]Query, error) {
	var p panel
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []Query
	var errs []error
	if p.Type != "row" {
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			errs = append(errs, fmt.Errorf("%s panel %q: data source must be the ${datasource} variable", file, p.Title))
		}
		if len(p.Targets) == 0 {
			errs = append(errs, fmt.Errorf("%s panel %q: no queries", file, p.Title))
		}
	}
	for _, t := range p.Targets {
		out = append(out, Query{file, p.Title, t.Expr})
	}
	for _, c := range p.Panels {
		q, err := panelQueries(file, c)
		out = append(out, q...)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// expandCustom returns q once per value of every custom variable it uses (a custom variable can stand for a
// part of a metric name, as the SLO dashboard's source does: every value must give a valid query), with
// the values named in the panel title.
func expandCustom(q Query, custom map[string][]string) []Query {
	out := []Query{q}
	for _, name := range slices.Sorted(maps.Keys(custom)) {
		values := custom[name]
		ref := regexp.MustCompile(`\$(` + regexp.QuoteMeta(name) + `\b|\{` + regexp.QuoteMeta(name) + `\})`)
		if !ref.MatchString(q.Expr) || len(values) == 0 {
			continue
		}
		var next []Query
		for _, e := range out {
			for _, v := range values {
				next = append(next, Query{e.Dashboard, fmt.Sprintf("%s [%s=%s]", e.Panel, name, v), ref.ReplaceAllLiteralString(e.Expr, v)})
			}
		}
		out = next
	}
	return out
}

var (
	grafanaIntervals = strings.NewReplacer(
		"$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h",
		"${window}", "1h", "$window", "1h",
	)
	templateVar = regexp.MustCompile(`\$\{?[a-z_]+\}?`)
)

// Substitute replaces Grafana's interval variables with durations, the SLO window variable with 1h
// and every other template variable with ".*", which keeps a query's PromQL shape and makes the
// usual `label=~"$var"` matchers select everything, as the dashboards' "All" does.
func Substitute(expr string) string {
	return templateVar.ReplaceAllString(grafanaIntervals.Replace(expr), ".*")
}
