// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package sli holds the window arithmetic of the SLO processor: rings of time
// slots per SLO group with running sums, SLIs, burn rates, error budget,
// window coverage and multi-window multi-burn-rate alert state.
//
// It has no collector types, no goroutines and no clock of its own: every
// call takes the time it runs at, in Unix nanoseconds.
package sli

import (
	"errors"
	"fmt"
	"time"
)

// Calendar tells whether the budget window rolls or follows the calendar.
type Calendar int

const (
	// Rolling windows cover the last Length of time.
	Rolling Calendar = iota
	// Month windows start on the first day of the month at 00:00 in Location.
	Month
	// Week windows start on Monday at 00:00 in Location (ISO 8601 weeks).
	Week
)

// Window is one SLI and burn rate window, for example 5m or 3d.
type Window struct {
	Name   string
	Length time.Duration
}

// BudgetWindow is the SLO's own time window, over which the error budget is
// spent.
type BudgetWindow struct {
	Name     string
	Calendar Calendar
	Length   time.Duration  // rolling windows only
	Location *time.Location // calendar windows only; nil means UTC
}

// Rule is one multi-window multi-burn-rate alert rule: it fires when the burn
// rate over both windows is at least Factor.
type Rule struct {
	Severity string
	Factor   float64
	Long     int // index into Spec.Windows
	Short    int // index into Spec.Windows
}

// Spec describes one SLO's windows, objective and alerting.
type Spec struct {
	Target           float64
	Resolution       time.Duration // slot width of the SLI and burn rate windows
	BudgetResolution time.Duration // slot width of the budget window
	Windows          []Window
	Budget           BudgetWindow
	Rules            []Rule
	// MinEvents is the minimum number of events in a rule's long window
	// for the rule to fire.
	MinEvents float64
	// MaxFutureSkew is how far ahead of the evaluation clock a point may be.
	MaxFutureSkew time.Duration
	// Slice, when positive, makes the SLO a Timeslices SLO (OpenSLO
	// budgetingMethod: Timeslices): every window and the budget count time
	// slices of this length, good when their events' SLI is at least
	// SliceTarget, instead of events (timeslices.go).
	Slice       time.Duration
	SliceTarget float64

	severities []string // distinct severities in rule order
	ruleSev    []int    // rule index -> severity index
	fineLens   []int64
	fineSize   int64
	budgetLen  int64 // rolling budget window length in slots
	budgetSize int64
	sliceLens  []int64 // Timeslices: window lengths in slices
}

// Severities returns the distinct alert severities in rule order.
func (s *Spec) Severities() []string { return s.severities }

// Prepare checks the spec and precomputes what groups share. It must be
// called once before NewGroup.
func (s *Spec) Prepare() error {
	if !(s.Target > 0 && s.Target < 1) {
		return fmt.Errorf("target must be in (0,1), got %v", s.Target)
	}
	if s.Resolution <= 0 || s.BudgetResolution <= 0 {
		return errors.New("resolutions must be positive")
	}
	if len(s.Windows) == 0 {
		return errors.New("at least one window is required")
	}
	if s.MaxFutureSkew < 0 {
		return fmt.Errorf("max future skew must not be negative, got %v", s.MaxFutureSkew)
	}
	if s.Slice > 0 {
		if err := s.prepareSlices(); err != nil {
			return err
		}
		return s.prepareRules()
	}
	s.fineLens = make([]int64, len(s.Windows))
	s.fineSize = 0
	for i, w := range s.Windows {
		if w.Length <= 0 || w.Length%s.Resolution != 0 {
			return fmt.Errorf("window %q (%v) must be a positive multiple of the resolution %v", w.Name, w.Length, s.Resolution)
		}
		s.fineLens[i] = int64(w.Length / s.Resolution)
		s.fineSize = max(s.fineSize, s.fineLens[i])
	}
	s.fineSize += s.margin(s.Resolution)
	switch s.Budget.Calendar {
	case Rolling:
		if s.Budget.Length <= 0 || s.Budget.Length%s.BudgetResolution != 0 {
			return fmt.Errorf("budget window %v must be a positive multiple of the budget resolution %v", s.Budget.Length, s.BudgetResolution)
		}
		s.budgetLen = int64(s.Budget.Length / s.BudgetResolution)
		s.budgetSize = s.budgetLen + s.margin(s.BudgetResolution)
	case Month, Week:
		if (15*time.Minute)%s.BudgetResolution != 0 {
			return fmt.Errorf("calendar windows need a budget resolution that divides 15m (time zone offsets), got %v", s.BudgetResolution)
		}
		s.budgetLen = 0
		s.budgetSize = int64(s.calendarDays()/s.BudgetResolution) + s.margin(s.BudgetResolution)
	default:
		return fmt.Errorf("unknown calendar %d", s.Budget.Calendar)
	}
	return s.prepareRules()
}

// prepareRules checks the alert rules and collects their severities.
func (s *Spec) prepareRules() error {
	s.severities = s.severities[:0]
	s.ruleSev = make([]int, len(s.Rules))
	for i, r := range s.Rules {
		if r.Long < 0 || r.Long >= len(s.Windows) || r.Short < 0 || r.Short >= len(s.Windows) {
			return fmt.Errorf("rule %d refers to a window that does not exist", i)
		}
		if !(r.Factor > 0) {
			return fmt.Errorf("rule %d: factor must be positive, got %v", i, r.Factor)
		}
		s.ruleSev[i] = -1
		for j, sev := range s.severities {
			if sev == r.Severity {
				s.ruleSev[i] = j
			}
		}
		if s.ruleSev[i] < 0 {
			s.ruleSev[i] = len(s.severities)
			s.severities = append(s.severities, r.Severity)
		}
	}
	return nil
}

// margin is how many slots a ring holds beyond its longest window: the slot
// a window read inside a slot weights in part, and the slots that points
// ahead of the clock (within MaxFutureSkew) and an evaluation that runs a
// little after the clock has moved on can put after the slot being read.
func (s *Spec) margin(res time.Duration) int64 {
	return 1 + int64((s.MaxFutureSkew+res-1)/res) + 1
}

// calendarDays is the most days a calendar window spans: rings hold that much.
func (s *Spec) calendarDays() time.Duration {
	if s.Budget.Calendar == Week {
		return 8 * 24 * time.Hour
	}
	return 32 * 24 * time.Hour
}

// budgetStart returns the start of the calendar window containing now.
func (s *Spec) budgetStart(now int64) int64 {
	start, _ := s.budgetPeriod(now)
	return start
}

// budgetPeriod returns the calendar window containing now, (start, end], or
// for a rolling window (now - length, now].
func (s *Spec) budgetPeriod(now int64) (start, end int64) {
	loc := s.Budget.Location
	if loc == nil {
		loc = time.UTC
	}
	t := time.Unix(0, now).In(loc)
	switch s.Budget.Calendar {
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc).UnixNano(),
			time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc).UnixNano()
	case Week:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, loc).UnixNano(),
			time.Date(t.Year(), t.Month(), t.Day()-back+7, 0, 0, 0, 0, loc).UnixNano()
	default:
		return now - int64(s.Budget.Length), now
	}
}

// SlotBytes is the memory one group's rings hold, for sizing.
func (s *Spec) SlotBytes() int {
	const pairBytes = 16
	n := int(s.fineSize+s.budgetSize)*pairBytes + len(s.Windows)*pairBytes
	if s.Slice > 0 {
		n += int(s.fineSize) // a mark per slice
	}
	return n
}
