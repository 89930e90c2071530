// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"fmt"
	"strings"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/counter"
)

// Reason is why a data point of an SLO indicator was not counted.
type Reason int

// Reasons for dropped points, reported as the reason attribute of
// otelcol_processor_slo_points_dropped.
const (
	ReasonDuplicate Reason = iota
	ReasonOutOfOrder
	ReasonInvalid
	ReasonSeriesLimit
	ReasonGroupLimit
	ReasonTooOld
	ReasonFuture
	ReasonThresholdNotBound
	ReasonUnit
	ReasonUnsupportedType
	numReasons
)

var reasonNames = [numReasons]string{
	"duplicate", "out_of_order", "invalid", "series_limit", "group_limit", "too_old", "future",
	"threshold_not_bound", "unit", "unsupported_type",
}

func (r Reason) String() string { return reasonNames[r] }

func (e *Evaluator) drop(r Reason) { e.Dropped[r]++ }

var counterReasons = map[counter.Outcome]Reason{
	counter.Duplicate: ReasonDuplicate, counter.OutOfOrder: ReasonOutOfOrder,
	counter.Invalid: ReasonInvalid, counter.SeriesLimit: ReasonSeriesLimit,
}

// DroppedSummary writes the non-zero drop counts as "reason=n, ...".
func (e *Evaluator) DroppedSummary() string {
	var b strings.Builder
	for r, n := range e.Dropped {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", Reason(r), n)
	}
	return b.String()
}
