// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/counter"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

type roleKind int

const (
	roleLatency roleKind = iota // histogram: good under threshold, total count
	roleTotal                   // ratio total
	roleGood                    // ratio good
	roleBad                     // ratio bad
)

// role is one way an SLO reads one metric.
type role struct {
	slo  *sloState
	kind roleKind
	sel  *selector
	id   uint64 // mixed into series keys: one counter state per role and series
	// warned is set once the role has logged that a metric has the wrong type.
	warned bool
}

type groupState struct {
	g      *sli.Group
	values []string // group_by values
	// started is set once the group's slo.events began at 0 (startEvents).
	started bool
}

type sloState struct {
	index   int
	cfg     *SLOConfig
	spec    sli.Spec
	tracker *counter.Tracker
	groups  map[uint64]*groupState
	// latency indicator
	threshold   time.Duration
	unit        string
	interpolate bool
	warnedBound bool
	warnedUnit  bool
	result      sli.Result // reused across evaluations
}

// Evaluator is the processor's engine, shared with cmd/slo-backtest: it
// reads SLO indicator data points from metrics and builds the SLO metrics.
// It is not safe for concurrent use.
type Evaluator struct {
	cfg      *Config
	logger   *zap.Logger
	slos     []*sloState
	byMetric map[string][]*role
	// Dropped counts points not counted per reason; Counted counts the
	// others. Both only grow.
	Dropped [numReasons]int64
	Counted int64
	// attrHashes caches the attribute hash of each point of the metric
	// being read, shared by the roles reading it; 0 means not computed.
	attrHashes []uint64
	// ZeroStartEvents has a new group's slo.events begin with a 0 before
	// its first value (startEvents): the processor sets it for backends that
	// compute increases; slo-backtest does not.
	ZeroStartEvents bool
	// emitter is the resource of the SLO metrics: the identity of the
	// collector computing them (emitterAttributes).
	emitter pcommon.Map
}

// emitterAttributes are the attributes of the collector's own resource
// (service::telemetry::resource) the SLO metrics carry: every replica of an
// SLO tier writes its own series, so two replicas that both hold a group
// (the one a service moved from and the one it moved to) never write the
// same series. Without them every replica's series are identical and a
// time-series backend refuses all but the first writer (HTTP 400 "duplicate
// sample" in Prometheus and AMP).
var emitterAttributes = []string{"service.name", "service.instance.id"}

// NewEvaluator builds an evaluator for a validated configuration. since is
// the time from which it could have seen data: the first point of a series
// that started earlier is a baseline.
func NewEvaluator(cfg *Config, set component.TelemetrySettings, since time.Time) (*Evaluator, error) {
	e := &Evaluator{cfg: cfg, logger: set.Logger, byMetric: map[string][]*role{}, emitter: pcommon.NewMap()}
	for _, k := range emitterAttributes {
		if v, ok := set.Resource.Attributes().Get(k); ok {
			v.CopyTo(e.emitter.PutEmpty(k))
		}
	}
	for i := range cfg.SLOs {
		s, err := e.newSLO(i, set, since.UnixNano())
		if err != nil {
			return nil, fmt.Errorf("slos[%d] (%s): %w", i, cfg.SLOs[i].Name, err)
		}
		e.slos = append(e.slos, s)
	}
	return e, nil
}

func initialValue(s string) counter.InitialValue {
	switch s {
	case "keep":
		return counter.Keep
	case "drop":
		return counter.Drop
	}
	return counter.Auto
}

func (e *Evaluator) newSLO(i int, set component.TelemetrySettings, since int64) (*sloState, error) {
	cfg := e.cfg
	sc := &cfg.SLOs[i]
	spec, fieldErrs, err := cfg.sloSpec(sc)
	if err = errors.Join(append(fieldErrs, err)...); err != nil {
		return nil, err
	}
	s := &sloState{
		index:  i,
		cfg:    sc,
		groups: map[uint64]*groupState{},
		tracker: counter.New(counter.Config{
			Initial: initialValue(cfg.InitialValue), StaleAfter: cfg.StaleAfter, MaxSeries: cfg.MaxSeries,
		}, since),
		spec: spec,
	}
	addRole := func(kind roleKind, m *MetricSelector) error {
		sel, err := compileSelector(m, set)
		if err != nil {
			return err
		}
		r := &role{slo: s, kind: kind, sel: sel, id: mix64(uint64(i)<<8 | uint64(kind))}
		e.byMetric[m.Metric] = append(e.byMetric[m.Metric], r)
		return nil
	}
	ind := sc.Indicator
	if ind.Latency != nil {
		s.threshold, s.unit, s.interpolate = ind.Latency.Threshold, ind.Latency.Unit, ind.Latency.Interpolate
		return s, addRole(roleLatency, &ind.Latency.MetricSelector)
	}
	if err := addRole(roleTotal, ind.Ratio.Total); err != nil {
		return nil, err
	}
	if ind.Ratio.Good != nil {
		return s, addRole(roleGood, ind.Ratio.Good)
	}
	return s, addRole(roleBad, ind.Ratio.Bad)
}

// Stats are the sizes the processor reports about itself.
type Stats struct {
	Series, Groups int
	StateBytes     int64
}

// Stats returns the evaluator's current sizes.
func (e *Evaluator) Stats() Stats {
	var st Stats
	for _, s := range e.slos {
		st.Series += s.tracker.Len()
		st.Groups += len(s.groups)
		st.StateBytes += int64(s.tracker.Len())*counter.StateBytes + int64(len(s.groups)*s.spec.SlotBytes())
	}
	return st
}
