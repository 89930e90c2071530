// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloimport

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// windowVar is Sloth's placeholder for the window of a query.
var windowVar = regexp.MustCompile(`\{\{\s*\.window\s*\}\}`)

var promqlParser = parser.NewParser(parser.Options{})

// counted is what a query counts: the events of a metric selector and, for
// a histogram bucket, its upper bound (le).
type counted struct {
	sel *sloprocessor.MetricSelector
	le  string
}

// selectorOf turns a PromQL query that counts events of one metric into a
// metric selector: a bare selector, or rate/increase of it, optionally
// summed (without grouping). Equality matchers become attributes, the others
// an OTTL condition (Prometheus regexes are anchored: ^(...)$). The metric
// name is kept as written, except the _count and _bucket of a histogram,
// which name the histogram (its count is used; a bucket's le is returned).
func selectorOf(query string) (counted, error) {
	q := windowVar.ReplaceAllString(query, "5m")
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return counted{}, fmt.Errorf("%q is not PromQL: %w", query, err)
	}
	expr = unwrap(expr)
	if agg, ok := expr.(*parser.AggregateExpr); ok {
		if agg.Op != parser.SUM || len(agg.Grouping) > 0 || agg.Without {
			return counted{}, fmt.Errorf("%q: only sum(...) without by/without converts — the processor sums all series of an SLO (use group_by to split it)", query)
		}
		expr = unwrap(agg.Expr)
	}
	if call, ok := expr.(*parser.Call); ok {
		if call.Func.Name != "rate" && call.Func.Name != "increase" || len(call.Args) != 1 {
			return counted{}, fmt.Errorf("%q: only rate or increase of a counter converts, not %s", query, call.Func.Name)
		}
		ms, ok := unwrap(call.Args[0]).(*parser.MatrixSelector)
		if !ok {
			return counted{}, fmt.Errorf("%q: rate or increase of a range selector expected", query)
		}
		expr = ms.VectorSelector
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok {
		return counted{}, fmt.Errorf("%q: a query over one metric's events expected (selector, rate, increase, sum of them); arithmetic, several metrics and other functions do not convert", query)
	}
	return matchersToSelector(query, vs.LabelMatchers)
}

func unwrap(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

func matchersToSelector(query string, ms []*labels.Matcher) (counted, error) {
	var c counted
	sel := &sloprocessor.MetricSelector{}
	var conds []string
	bucket := false
	for _, m := range ms {
		switch {
		case m.Name == model.MetricNameLabel:
			if m.Type != labels.MatchEqual {
				return c, fmt.Errorf("%q: the metric name must be given exactly", query)
			}
			if strings.HasSuffix(m.Value, "_sum") {
				return c, fmt.Errorf("%q: a histogram's _sum adds up observed values, it does not count events", query)
			}
			bucket = strings.HasSuffix(m.Value, "_bucket")
			sel.Metric = metricName(m.Value)
		case m.Name == "le":
			if m.Type != labels.MatchEqual {
				return c, fmt.Errorf("%q: le must be one bucket bound (le=\"0.25\")", query)
			}
			c.le = m.Value
		case m.Type == labels.MatchEqual:
			if sel.Attributes == nil {
				sel.Attributes = map[string]string{}
			}
			sel.Attributes[m.Name] = m.Value
		case m.Type == labels.MatchNotEqual:
			conds = append(conds, fmt.Sprintf("attributes[%s] != %s", strconv.Quote(m.Name), strconv.Quote(m.Value)))
		case m.Type == labels.MatchRegexp:
			conds = append(conds, fmt.Sprintf("IsMatch(attributes[%s], %s)", strconv.Quote(m.Name), strconv.Quote("^(?:"+m.Value+")$")))
		case m.Type == labels.MatchNotRegexp:
			conds = append(conds, fmt.Sprintf("not IsMatch(attributes[%s], %s)", strconv.Quote(m.Name), strconv.Quote("^(?:"+m.Value+")$")))
		}
	}
	if sel.Metric == "" {
		return c, fmt.Errorf("%q: no metric name", query)
	}
	if (c.le != "") != bucket {
		return c, fmt.Errorf("%q: a histogram bucket is read with one le bound, and le belongs to a _bucket series", query)
	}
	slices.Sort(conds)
	sel.Condition = strings.Join(conds, " and ")
	c.sel = sel
	return c, nil
}

// metricName names the metric the processor reads for a Prometheus series
// name: the histogram for its _count and _bucket.
func metricName(name string) string {
	for _, suffix := range []string{"_count", "_bucket"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base
		}
	}
	return name
}
