// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

// sloSpec turns one SLO's configuration and the processor-wide windows and
// alert rules into the engine's prepared sli.Spec. It is the one place the
// configuration is parsed for the engine: Validate reports its errors and
// NewEvaluator runs on its result. fieldErrs name the SLO's own fields;
// prepareErr, set only without them, is the engine's refusal of the
// combination (for example a budget_resolution that does not divide 15m
// with a calendar window).
func (cfg *Config) sloSpec(s *SLOConfig) (spec sli.Spec, fieldErrs []error, prepareErr error) {
	target, err := s.Objective.Ratio()
	if err != nil {
		fieldErrs = append(fieldErrs, err)
	}
	budget, err := s.TimeWindow.budget(time.Duration(cfg.BudgetResolution))
	if err != nil {
		fieldErrs = append(fieldErrs, err)
	}
	slice, sliceTarget, errs := cfg.timeslices(s, budget)
	fieldErrs = append(fieldErrs, errs...)
	if len(fieldErrs) > 0 {
		return sli.Spec{}, fieldErrs, nil
	}
	spec = sli.Spec{
		Target:           target,
		Resolution:       time.Duration(cfg.Resolution),
		BudgetResolution: time.Duration(cfg.BudgetResolution),
		Budget:           budget,
		MinEvents:        cfg.Alerting.MinEvents,
		MaxFutureSkew:    cfg.MaxFutureSkew,
		Slice:            slice,
		SliceTarget:      sliceTarget,
	}
	for _, w := range cfg.Windows {
		spec.Windows = append(spec.Windows, sli.Window{Name: w.String(), Length: time.Duration(w)})
	}
	for _, r := range cfg.Alerting.Rules {
		spec.Rules = append(spec.Rules, sli.Rule{
			Severity: r.Severity, Factor: r.Factor,
			Long: slices.Index(cfg.Windows, r.LongWindow), Short: slices.Index(cfg.Windows, r.ShortWindow),
		})
	}
	if err := spec.Prepare(); err != nil {
		return sli.Spec{}, nil, fmt.Errorf("time_window: %w", err)
	}
	return spec, nil, nil
}

// Budgeting methods (OpenSLO budgetingMethod).
const (
	Occurrences = "Occurrences"
	Timeslices  = "Timeslices"
)

// IsTimeslices tells whether the SLO counts good time slices rather than
// good events; unknown methods are Validate's to report.
func (s *SLOConfig) IsTimeslices() bool { return strings.EqualFold(s.BudgetingMethod, Timeslices) }

// timeslices reads budgeting_method and the objective's time slice fields:
// the slice length and target of a Timeslices SLO, zero for Occurrences.
// The slice must divide every window and the SLO's own window, and 15m for a
// calendar window (time zone offsets), so that every window holds whole
// slices.
func (cfg *Config) timeslices(s *SLOConfig, budget sli.BudgetWindow) (slice time.Duration, target float64, errs []error) {
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	o := s.Objective
	switch {
	case s.BudgetingMethod == "" || strings.EqualFold(s.BudgetingMethod, Occurrences):
		if o.TimeSliceTarget != 0 || o.TimeSliceWindow != 0 {
			add("objective.time_slice_target, time_slice_window: only with budgeting_method: %s — set it or remove them", Timeslices)
		}
		return 0, 0, errs
	case !s.IsTimeslices():
		add("budgeting_method: unknown method %q — use %s (every event weighs the same) or %s (every time slice does)", s.BudgetingMethod, Occurrences, Timeslices)
		return 0, 0, errs
	}
	switch t := o.TimeSliceTarget; {
	case t > 1 && t <= 100:
		add("objective.time_slice_target: must be in (0,1], got %v — did you mean %v?", t, t/100)
	case !(t > 0 && t <= 1):
		add("objective.time_slice_target: must be in (0,1] with budgeting_method: %s, got %v — the SLI a slice needs to be good, e.g. 0.95", Timeslices, t)
	}
	slice = time.Duration(o.TimeSliceWindow)
	if slice <= 0 {
		add("objective.time_slice_window: required with budgeting_method: %s — the length of a slice, e.g. 1m or 5m", Timeslices)
		return 0, 0, errs
	}
	for i, w := range cfg.Windows {
		if w > 0 && time.Duration(w)%slice != 0 {
			add("objective.time_slice_window: %v does not divide windows[%d] %v — use a slice that divides every window (e.g. 1m), or change windows", o.TimeSliceWindow, i, w)
		}
	}
	switch {
	case budget.Calendar != sli.Rolling && (15*time.Minute)%slice != 0:
		add("objective.time_slice_window: %v does not divide 15m, which calendar windows need (time zones are offset by multiples of 15m) — use e.g. 1m, 5m or 15m", o.TimeSliceWindow)
	case budget.Calendar == sli.Rolling && budget.Length%slice != 0:
		add("objective.time_slice_window: %v does not divide time_window.duration %v — use a slice that does", o.TimeSliceWindow, Duration(budget.Length))
	}
	return slice, o.TimeSliceTarget, errs
}

// Ratio returns the target as a ratio in (0,1), from target or
// target_percent.
func (o ObjectiveConfig) Ratio() (float64, error) {
	switch {
	case o.Target != 0 && o.TargetPercent != 0:
		return 0, errors.New("objective: set target or target_percent, not both")
	case o.TargetPercent != 0:
		if !(o.TargetPercent > 0 && o.TargetPercent < 100) {
			return 0, fmt.Errorf("objective.target_percent: must be in (0,100), got %v", o.TargetPercent)
		}
		return o.TargetPercent / 100, nil
	case o.Target > 1 && o.Target < 100:
		return 0, fmt.Errorf("objective.target: must be in (0,1), got %v — did you mean %v?", o.Target, o.Target/100)
	case !(o.Target > 0 && o.Target < 1):
		return 0, fmt.Errorf("objective.target: must be in (0,1), got %v — e.g. 0.999, or target_percent: 99.9", o.Target)
	}
	return o.Target, nil
}

// Rolling returns the length of a rolling time window; ok is false for a
// calendar window or one that does not parse.
func (w TimeWindowConfig) Rolling() (length time.Duration, ok bool) {
	b, err := w.budget(0)
	return b.Length, err == nil && b.Calendar == sli.Rolling
}

// budget parses the SLO's own time window.
func (w TimeWindowConfig) budget(budgetRes time.Duration) (sli.BudgetWindow, error) {
	rolling := w.IsRolling == nil || *w.IsRolling
	if w.Calendar != nil && w.IsRolling != nil && *w.IsRolling {
		return sli.BudgetWindow{}, errors.New("time_window: is_rolling: true conflicts with calendar — remove one")
	}
	if w.Calendar != nil || !rolling {
		loc := time.UTC
		if w.Calendar != nil && w.Calendar.TimeZone != "" {
			var err error
			if loc, err = time.LoadLocation(w.Calendar.TimeZone); err != nil {
				return sli.BudgetWindow{}, fmt.Errorf("time_window.calendar.time_zone: %w — use an IANA name like Europe/Berlin", err)
			}
		}
		switch w.Duration {
		case "1M", "month":
			return sli.BudgetWindow{Name: "month", Calendar: sli.Month, Location: loc}, nil
		case "1w", "week":
			return sli.BudgetWindow{Name: "week", Calendar: sli.Week, Location: loc}, nil
		}
		return sli.BudgetWindow{}, fmt.Errorf("time_window.duration: calendar windows are 1M (month) or 1w (week), got %q", w.Duration)
	}
	if w.Duration == "" {
		return sli.BudgetWindow{}, errors.New("time_window.duration: required, e.g. 30d (rolling) or 1M with calendar")
	}
	d, err := parseDuration(w.Duration)
	if err != nil {
		return sli.BudgetWindow{}, fmt.Errorf("time_window.duration: %w", err)
	}
	if d < time.Hour || d > 366*24*time.Hour {
		return sli.BudgetWindow{}, fmt.Errorf("time_window.duration: %v is outside 1h..366d — SLO windows are typically 28d or 30d", Duration(d))
	}
	if budgetRes > 0 && d%budgetRes != 0 {
		return sli.BudgetWindow{}, fmt.Errorf("time_window.duration: %v is not a multiple of budget_resolution %v", Duration(d), Duration(budgetRes))
	}
	return sli.BudgetWindow{Name: Duration(d).String(), Length: d}, nil
}
