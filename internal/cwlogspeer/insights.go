// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package cwlogspeer

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Query runs a small subset of the CloudWatch Logs Insights query language over events, as Logs Insights
// sees them: a JSON message's fields are discovered and nested objects flattened with dots
// (kubernetes.pod_name), next to the system fields @message, @logStream and @log (the group). Commands,
// separated by `|`:
//
//	filter <field> = "<text>"       filter <field> != "<text>"       filter <field> like /<regexp>/
//	stats count(*) [as <name>] by <field>[, <field>...]
//	sort <field> [asc|desc]           (numbers as numbers)
//
// Without stats, each matching event is a row of its fields. It is what the tests need to show that
// queries written for Fluent Bit's Container Insights records find our records, not a full implementation.
func Query(query string, events []Event) ([]map[string]string, error) {
	rows := make([]map[string]string, 0, len(events))
	for _, e := range events {
		rows = append(rows, insightsFields(e))
	}
	for _, cmd := range strings.Split(query, "|") {
		cmd = strings.TrimSpace(cmd)
		verb, rest, _ := strings.Cut(cmd, " ")
		rest = strings.TrimSpace(rest)
		var err error
		switch verb {
		case "filter":
			rows, err = filterRows(rows, rest)
		case "stats":
			rows, err = statsRows(rows, rest)
		case "sort":
			rows, err = sortRows(rows, rest)
		default:
			err = fmt.Errorf("unsupported command %q", verb)
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %w", cmd, err)
		}
	}
	return rows, nil
}

// insightsFields is the row Logs Insights discovers for one event.
func insightsFields(e Event) map[string]string {
	row := map[string]string{"@message": e.Message, "@logStream": e.Stream, "@log": e.Group}
	var v any
	if json.Unmarshal([]byte(e.Message), &v) == nil {
		flatten(row, "", v)
	}
	return row
}

func flatten(row map[string]string, prefix string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if prefix != "" {
				k = prefix + "." + k
			}
			flatten(row, k, x)
		}
	case string:
		row[prefix] = v
	case nil:
	default:
		b, _ := json.Marshal(v)
		row[prefix] = string(b)
	}
}

var filterExpr = regexp.MustCompile(`^([@\w.]+)\s*(=|!=|like)\s*(?:"((?:[^"\\]|\\.)*)"|/(.*)/)$`)

func filterRows(rows []map[string]string, expr string) ([]map[string]string, error) {
	m := filterExpr.FindStringSubmatch(expr)
	if m == nil {
		return nil, fmt.Errorf(`want <field> = "text", <field> != "text" or <field> like /regexp/`)
	}
	field, op, text, pattern := m[1], m[2], m[3], m[4]
	var match func(string, bool) bool
	switch {
	case op == "like" && m[4] != "":
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, err
		}
		match = func(v string, ok bool) bool { return ok && re.MatchString(v) }
	case op == "like":
		return nil, fmt.Errorf("like takes /regexp/")
	default:
		want, err := strconv.Unquote(`"` + text + `"`)
		if err != nil {
			return nil, err
		}
		match = func(v string, ok bool) bool { return ok && v == want }
		if op == "!=" {
			match = func(v string, ok bool) bool { return !ok || v != want }
		}
	}
	var out []map[string]string
	for _, r := range rows {
		v, ok := r[field]
		if match(v, ok) {
			out = append(out, r)
		}
	}
	return out, nil
}

var statsExpr = regexp.MustCompile(`^count\(\*\)(?:\s+as\s+(\w+))?\s+by\s+([@\w.]+(?:\s*,\s*[@\w.]+)*)$`)

func statsRows(rows []map[string]string, expr string) ([]map[string]string, error) {
	m := statsExpr.FindStringSubmatch(expr)
	if m == nil {
		return nil, fmt.Errorf("want count(*) [as name] by field[, field...]")
	}
	name := m[1]
	if name == "" {
		name = "count(*)"
	}
	var by []string
	for _, f := range strings.Split(m[2], ",") {
		by = append(by, strings.TrimSpace(f))
	}
	counts := map[string]int{}
	groups := map[string]map[string]string{}
	var order []string
	for _, r := range rows {
		key := make([]string, len(by))
		for i, f := range by {
			key[i] = r[f]
		}
		k := strings.Join(key, "\x00")
		if _, ok := groups[k]; !ok {
			g := map[string]string{}
			for i, f := range by {
				g[f] = key[i]
			}
			groups[k] = g
			order = append(order, k)
		}
		counts[k]++
	}
	out := make([]map[string]string, 0, len(order))
	for _, k := range order {
		g := groups[k]
		g[name] = strconv.Itoa(counts[k])
		out = append(out, g)
	}
	return out, nil
}

func sortRows(rows []map[string]string, expr string) ([]map[string]string, error) {
	field, dir, _ := strings.Cut(expr, " ")
	desc := false
	switch strings.TrimSpace(dir) {
	case "", "asc":
	case "desc":
		desc = true
	default:
		return nil, fmt.Errorf("sort direction %q, want asc or desc", dir)
	}
	slices.SortStableFunc(rows, func(a, b map[string]string) int {
		c := strings.Compare(a[field], b[field])
		x, errX := strconv.ParseFloat(a[field], 64)
		y, errY := strconv.ParseFloat(b[field], 64)
		if errX == nil && errY == nil { // numbers sort as numbers (a count of 10 after 9)
			c = cmp.Compare(x, y)
		}
		if desc {
			return -c
		}
		return c
	})
	return rows, nil
}
