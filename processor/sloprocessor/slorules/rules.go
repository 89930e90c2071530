// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package slorules writes Prometheus recording and multi-window
// multi-burn-rate alert rules for the SLOs of an slo processor
// configuration, computed from the slo.events counters the processor emits
// (slo_events), summed across the replicas that emitted them. It is the core
// of `slo-backtest rules`; deploy's tests use it to keep
// deploy/rules/slo-events.yaml in step with deploy/configs/gateway-slo.yaml.
package slorules

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// Names of the series the generated rules record. They mirror the
// processor's own as remote write spells them (slo_sli, slo_burn_rate,
// slo_error_budget_remaining) with RecordPrefix instead of InStreamPrefix,
// so a dashboard switches between in-stream and rule-computed values by the
// prefix, and carry the same slo_window label.
const (
	RecordEventsBad       = RecordPrefix + "events_bad:increase"
	RecordEventsTotal     = RecordPrefix + "events_total:increase"
	RecordSLI             = RecordPrefix + "sli"
	RecordBurnRate        = RecordPrefix + "burn_rate"
	RecordBudgetRemaining = RecordPrefix + "error_budget_remaining"

	// Timeslices SLOs: per slice (label slo_window = the slice), its
	// events and its verdict, 1 for a good slice and 0 for a bad one.
	RecordSliceEvents = RecordPrefix + "timeslice_events"
	RecordSliceGood   = RecordPrefix + "timeslice_good"

	// RecordPrefix starts every recorded name; InStreamPrefix starts the
	// processor's metrics in Prometheus (slo.sli -> slo_sli).
	RecordPrefix   = "slo:"
	InStreamPrefix = "slo_"
)

// LabelWindow is the window label of the recorded series, as the
// processor's slo.window attribute becomes in Prometheus.
const LabelWindow = "slo_window"

const (
	labelOutcome  = "slo_outcome"
	labelSLOName  = "slo_name"
	labelSeverity = "severity"
)

// DefaultOptions are the options for rules over what deploy/configs/amp.yaml
// writes to AMP: slo_events, one workspace for several clusters.
func DefaultOptions() Options { return Options{EventsMetric: "slo_events", By: []string{"cluster"}} }

// Options shape the generated rules.
type Options struct {
	// EventsMetric is the name slo.events has where the rules run:
	// slo_events through prometheusremotewrite as deploy/configs/amp.yaml
	// configures it, slo_events_total through the Prometheus exporter.
	EventsMetric string
	// By are labels kept besides slo_name, slo_service and the group_by
	// attributes (cluster, for one AMP workspace serving several).
	By []string
}

// File is a Prometheus rule file (the fields rules here use; the json tags
// serve sigs.k8s.io/yaml readers).
type File struct {
	Groups []Group `yaml:"groups" json:"groups"`
}

// Group is a rule group.
type Group struct {
	Name string `yaml:"name" json:"name"`
	// Interval overrides the evaluation interval (the slice of a
	// Timeslices SLO).
	Interval string `yaml:"interval,omitempty" json:"interval,omitempty"`
	Rules    []Rule `yaml:"rules" json:"rules"`
}

// Rule is a recording or an alerting rule.
type Rule struct {
	Record      string            `yaml:"record,omitempty" json:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty" json:"alert,omitempty"`
	Expr        string            `yaml:"expr" json:"expr"`
	For         string            `yaml:"for,omitempty" json:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// promLabel is the Prometheus label an attribute becomes (http.route ->
// http_route), as the Prometheus exporters and remote write translate it.
func promLabel(attr string) string {
	l := invalidLabelChars.ReplaceAllString(attr, "_")
	if l != "" && l[0] >= '0' && l[0] <= '9' {
		l = "key_" + l
	}
	return l
}

// formatFloat writes a number for PromQL, rounded to 12 significant digits
// so that 1 - 0.99 is 0.01.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 12, 64) }

// Generate writes, per SLO of cfg, recording rules for its events,
// SLI and burn rate over every window (and over a rolling budget window)
// and one multi-window multi-burn-rate alert per severity of
// alerting.rules. A Timeslices SLO's SLIs, burn rates and budget count
// slices (slices, sliceWindow). Every window is the increase of slo_events summed across
// the replicas that emitted it (an SLO may move between SLO-tier replicas):
// bad events over all events, one division last, as the processor does.
func Generate(cfg *sloprocessor.Config, opt Options) (File, []string, error) {
	var out File
	var notes []string
	for i := range cfg.SLOs {
		s := &cfg.SLOs[i]
		target, err := s.Objective.Ratio()
		if err != nil {
			return out, nil, fmt.Errorf("slos[%d] (%s): %w", i, s.Name, err)
		}
		by := append(slices.Clone(opt.By), labelSLOName, "slo_service")
		for _, a := range s.GroupBy {
			by = append(by, promLabel(a))
		}
		g := sloRules{name: s.Name, target: target, by: strings.Join(by, ", "), metric: opt.EventsMetric}
		group := Group{Name: "slo-" + s.Name}
		windows := slices.Clone(cfg.Windows)
		budgetWindow := ""
		if d, ok := s.TimeWindow.Rolling(); ok {
			budgetWindow = sloprocessor.Duration(d).String()
			if !slices.Contains(windows, sloprocessor.Duration(d)) {
				windows = append(windows, sloprocessor.Duration(d))
			}
		} else {
			notes = append(notes, fmt.Sprintf("%s: the calendar time window %q has no PromQL range; its budget stays in-stream (slo_error_budget_remaining)", s.Name, s.TimeWindow.Duration))
		}
		if s.IsTimeslices() {
			slice := s.Objective.TimeSliceWindow
			if time.Duration(slice)%cfg.EvaluationInterval != 0 {
				return out, nil, fmt.Errorf("slos[%d] (%s): objective.time_slice_window %v is not a multiple of evaluation_interval %v: the rules cut slices from the slo_events samples emitted every evaluation_interval — use a multiple, or a shorter evaluation_interval", i, s.Name, slice, sloprocessor.Duration(cfg.EvaluationInterval))
			}
			g.slice, g.sliceTarget = slice.String(), s.Objective.TimeSliceTarget
			group.Interval = g.slice
			group.Rules = g.slices()
			for _, w := range windows {
				group.Rules = append(group.Rules, g.sliceWindow(w, w.String() == budgetWindow, int64(w/slice))...)
			}
		} else {
			for _, w := range windows {
				group.Rules = append(group.Rules, g.window(w.String(), w.String() == budgetWindow)...)
			}
		}
		group.Rules = append(group.Rules, g.alerts(cfg)...)
		if budgetWindow != "" {
			group.Rules = append(group.Rules, g.budgetExhausted(budgetWindow))
		}
		out.Groups = append(out.Groups, group)
	}
	return out, notes, nil
}

// sloRules writes the rules of one SLO.
type sloRules struct {
	name, by, metric string
	target           float64
	// Timeslices: the slice and the SLI a slice needs.
	slice       string
	sliceTarget float64
}

func (g sloRules) sel(extra string) string {
	return fmt.Sprintf(`%s=%q%s`, labelSLOName, g.name, extra)
}

func (g sloRules) recorded(name, window string) string {
	return fmt.Sprintf(`%s{%s}`, name, g.sel(fmt.Sprintf(`, %s=%q`, LabelWindow, window)))
}

// window writes the rules of window w; the SLO's own window also records
// the error budget left.
func (g sloRules) window(w string, isBudget bool) []Rule {
	labels := map[string]string{labelSLOName: g.name, LabelWindow: w}
	budget := formatFloat(1 - g.target)
	ratio := fmt.Sprintf("%s\n/\n(%s > 0)", g.recorded(RecordEventsBad, w), g.recorded(RecordEventsTotal, w))
	rules := []Rule{
		{Record: RecordEventsBad, Labels: labels, Expr: fmt.Sprintf(`sum by (%s) (increase(%s{%s}[%s]))`,
			g.by, g.metric, g.sel(fmt.Sprintf(`, %s="bad"`, labelOutcome)), w)},
		{Record: RecordEventsTotal, Labels: labels, Expr: fmt.Sprintf(`sum by (%s) (increase(%s{%s}[%s]))`,
			g.by, g.metric, g.sel(""), w)},
		{Record: RecordSLI, Labels: labels, Expr: fmt.Sprintf("1 - (\n%s\n)", ratio)},
		{Record: RecordBurnRate, Labels: labels, Expr: fmt.Sprintf("(\n%s\n) / %s", ratio, budget)},
	}
	if isBudget {
		rules = append(rules, Rule{Record: RecordBudgetRemaining, Labels: labels, Expr: fmt.Sprintf("1 - (\n%s\n) / %s", ratio, budget)})
	}
	return rules
}

// slices are the first rules of a Timeslices SLO's group, which is
// evaluated once a slice (its interval), so that its window rules see the
// verdict of the same evaluation: each evaluation records the events of the
// slice that ends at the last slo_events sample and whether it was good. A slice's events are the
// difference of each series' slo_events over one slice (offset), summed
// across replicas: with the processor emitting at the multiples of its
// evaluation_interval (a divisor of the slice), those are the events
// emitted in (B - slice, B] for that last emission B, so the slices do not
// overlap or leave gaps whatever the ruler's own phase. A series that
// restarted from 0 in the slice (a replica without storage) is left out of
// it (negative difference). A slice is good when bad ≤ (1 - slice target) ×
// total, which holds for a slice without events: as in the processor,
// empty slices are good.
func (g sloRules) slices() []Rule {
	labels := map[string]string{labelSLOName: g.name, LabelWindow: g.slice}
	delta := func(extra string) string {
		sel := fmt.Sprintf("%s{%s}", g.metric, g.sel(extra))
		return fmt.Sprintf("sum by (%s) ((%s - %s offset %s) >= 0)", g.by, sel, sel, g.slice)
	}
	total, bad := delta(""), delta(fmt.Sprintf(`, %s="bad"`, labelOutcome))
	return []Rule{
		{Record: RecordSliceEvents, Labels: labels, Expr: total},
		{Record: RecordSliceGood, Labels: labels, Expr: fmt.Sprintf("%s\n<= bool\n%s * %s", bad, formatFloat(1-g.sliceTarget), total)},
	}
}

// sliceWindow writes the rules of window w (n slices) of a Timeslices SLO:
// its events (for alerting.min_events), the share of good slices among
// those recorded in it (no sample without events, like the processor), the
// burn rate, and for the SLO's own window the budget left in slices.
func (g sloRules) sliceWindow(window sloprocessor.Duration, isBudget bool, n int64) []Rule {
	w, r := window.String(), sliceRange(time.Duration(window))
	labels := map[string]string{labelSLOName: g.name, LabelWindow: w}
	verdicts := fmt.Sprintf("%s{%s}[%s]", RecordSliceGood, g.sel(""), r)
	withEvents := fmt.Sprintf("\nand ignoring (%s)\n%s > 0", LabelWindow, g.recorded(RecordEventsTotal, w))
	budget := formatFloat(1 - g.target)
	rules := []Rule{
		{Record: RecordEventsTotal, Labels: labels, Expr: fmt.Sprintf("sum_over_time(%s{%s}[%s])", RecordSliceEvents, g.sel(""), r)},
		{Record: RecordSLI, Labels: labels, Expr: fmt.Sprintf("avg_over_time(%s)%s", verdicts, withEvents)},
		{Record: RecordBurnRate, Labels: labels, Expr: fmt.Sprintf("(1 - avg_over_time(%s)) / %s%s", verdicts, budget, withEvents)},
	}
	if isBudget {
		rules = append(rules, Rule{Record: RecordBudgetRemaining, Labels: labels, Expr: fmt.Sprintf(
			"1 - (count_over_time(%s) - sum_over_time(%s)) / (%s * %d)%s", verdicts, verdicts, budget, n, withEvents)})
	}
	return rules
}

// sliceRange is the PromQL range that holds the w/slice verdicts recorded
// in (T - w, T]: w less 1ms, written largest unit first (29d23h59m59s999ms).
// Prometheus 2 ranges are closed, [T - w, T], and with verdicts recorded
// every slice a range of w would hold one more than the window's slices.
func sliceRange(w time.Duration) string {
	rest := w - time.Millisecond
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := rest / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			rest -= n * u.d
		}
	}
	return b.String()
}

// alerts writes one alert per severity: any of its rules fires when the
// burn rate over both windows is at least the factor and the long window
// holds at least alerting.min_events events, as in the processor.
func (g sloRules) alerts(cfg *sloprocessor.Config) []Rule {
	var out []Rule
	var severities []string
	for _, r := range cfg.Alerting.Rules {
		if !slices.Contains(severities, r.Severity) {
			severities = append(severities, r.Severity)
		}
	}
	for _, sev := range severities {
		var pairs, text []string
		for _, r := range cfg.Alerting.Rules {
			if r.Severity != sev {
				continue
			}
			long, short, f := r.LongWindow.String(), r.ShortWindow.String(), formatFloat(r.Factor)
			pairs = append(pairs, fmt.Sprintf(
				"max without (%s) (\n    %s >= %s\n  and ignoring (%s)\n    %s >= %s\n  and ignoring (%s)\n    %s >= %s\n)",
				LabelWindow, g.recorded(RecordBurnRate, long), f, LabelWindow, g.recorded(RecordBurnRate, short), f,
				LabelWindow, g.recorded(RecordEventsTotal, long), formatFloat(cfg.Alerting.MinEvents)))
			text = append(text, fmt.Sprintf("%sx over %s and %s", f, long, short))
		}
		out = append(out, Rule{
			Alert:  "SLOEventsBurn" + strings.ToUpper(sev[:1]) + sev[1:],
			Expr:   strings.Join(pairs, "\nor\n"),
			Labels: map[string]string{labelSLOName: g.name, labelSeverity: sev},
			Annotations: map[string]string{
				"summary": fmt.Sprintf("{{ $labels.slo_service }}: SLO %s burns its error budget (%s, from slo_events)", g.name, sev),
				"description": fmt.Sprintf("Burn rate {{ printf \"%%.1f\" $value }}x computed from the events of every replica: %s.",
					strings.Join(text, ", or ")),
			},
		})
	}
	return out
}

// budgetExhausted is a ticket once the SLO's own window has spent its whole
// error budget for budgetExhaustedFor, as deploy/rules/slo-burn-rate.yaml
// raises it from the processor's slo_error_budget_remaining.
func (g sloRules) budgetExhausted(window string) Rule {
	return Rule{
		Alert:  "SLOEventsBudgetExhausted",
		Expr:   g.recorded(RecordBudgetRemaining, window) + " <= 0",
		For:    budgetExhaustedFor,
		Labels: map[string]string{labelSLOName: g.name, labelSeverity: "ticket"},
		Annotations: map[string]string{
			"summary": fmt.Sprintf("{{ $labels.slo_service }}: SLO %s has no error budget left (from slo_events)", g.name),
			"description": fmt.Sprintf("Remaining error budget {{ $value | humanizePercentage }} of the %s budget, computed from the events of every replica.",
				window),
		},
	}
}

// budgetExhaustedFor is how long the budget must stay spent before the
// ticket: a budget hovering around zero does not flap.
const budgetExhaustedFor = "15m"

// rulesHeader heads a generated rule file.
const rulesHeader = "# Code generated by `slo-backtest rules` from %s. DO NOT EDIT.\n" +
	"# Recording and multi-window multi-burn-rate alert rules computed from slo_events summed across replicas.\n"

// Marshal writes f as YAML under a header naming source, with the notes as
// comments.
func Marshal(f File, source string, notes []string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, rulesHeader, source)
	for _, n := range notes {
		fmt.Fprintf(&b, "# Note: %s\n", n)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
