// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 is an arbitrary minute-aligned instant the tests count from.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

// workbookSpec is the SRE workbook's 30-day multi-window multi-burn-rate
// setup with 1-minute slots.
func workbookSpec(t testing.TB) *Spec {
	s := &Spec{
		Target:           0.99,
		Resolution:       time.Minute,
		BudgetResolution: 15 * time.Minute,
		Windows: []Window{
			{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"2h", 2 * time.Hour},
			{"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}, {"3d", 72 * time.Hour},
		},
		Budget: BudgetWindow{Name: "30d", Length: 30 * 24 * time.Hour},
		Rules: []Rule{
			{"page", 14.4, 2, 0}, {"page", 6, 4, 1},
			{"ticket", 3, 5, 3}, {"ticket", 1, 6, 4},
		},
		MinEvents:     10,
		MaxFutureSkew: time.Minute,
	}
	require.NoError(t, s.Prepare())
	return s
}

func TestSpecPrepare(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Spec)
		wantErr string
	}{
		{"workbook defaults are valid", func(*Spec) {}, ""},
		{"target of 1 is no objective", func(s *Spec) { s.Target = 1 }, "target must be in (0,1)"},
		{"window not a multiple of the resolution", func(s *Spec) { s.Windows[0].Length = 90 * time.Second }, "multiple of the resolution"},
		{"no windows", func(s *Spec) { s.Windows = nil }, "at least one window"},
		{"zero resolution", func(s *Spec) { s.Resolution = 0 }, "resolutions must be positive"},
		{"budget not a multiple", func(s *Spec) { s.Budget.Length = 30*24*time.Hour + time.Minute }, "budget resolution"},
		{"calendar with a 1h budget resolution", func(s *Spec) {
			s.Budget = BudgetWindow{Calendar: Month}
			s.BudgetResolution = time.Hour
		}, "divides 15m"},
		{"unknown calendar", func(s *Spec) { s.Budget.Calendar = 7 }, "unknown calendar"},
		{"rule names a missing window", func(s *Spec) { s.Rules[0].Long = 9 }, "does not exist"},
		{"rule with zero factor", func(s *Spec) { s.Rules[0].Factor = 0 }, "factor must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := workbookSpec(t)
			tt.mutate(s)
			err := s.Prepare()
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, []string{"page", "ticket"}, s.Severities())
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestBudgetStart(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	tests := []struct {
		name string
		cal  Calendar
		loc  *time.Location
		now  time.Time
		want time.Time
	}{
		{"month in UTC", Month, nil, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"month in Berlin starts the evening before in UTC", Month, berlin, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)},
		{"first minutes of a month in Berlin", Month, berlin, time.Date(2026, 2, 28, 23, 30, 0, 0, time.UTC), time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)},
		{"month in Kolkata (+05:30)", Month, kolkata, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 18, 30, 0, 0, time.UTC)},
		{"week starts on Monday", Week, nil, time.Date(2026, 3, 12, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)},
		{"Sunday belongs to the week that began on Monday", Week, nil, time.Date(2026, 3, 15, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)},
		{"week across the DST change in Berlin", Week, berlin, time.Date(2026, 3, 31, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Spec{Budget: BudgetWindow{Calendar: tt.cal, Location: tt.loc}}
			assert.Equal(t, tt.want.UnixNano(), s.budgetStart(tt.now.UnixNano()), "got %v", time.Unix(0, s.budgetStart(tt.now.UnixNano())).UTC())
		})
	}
}
