// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/counter"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/statecodec"
)

// stateVersion is the first byte of the persisted state.
const stateVersion = 1

var errStateCorrupt = fmt.Errorf("SLO processor state: %w", statecodec.ErrCorrupt)

// fingerprint identifies what an SLO's state means: restoring state written
// under another indicator, grouping or window layout would mix meanings.
func (e *Evaluator) fingerprint(s *sloState) uint64 {
	b, _ := json.Marshal(struct {
		Indicator                    IndicatorConfig
		GroupBy                      []string
		TimeWindow                   TimeWindowConfig
		Resolution, BudgetResolution Duration
		Windows                      []Duration
		// TimeSlice is a Timeslices SLO's slice: its state is slices.
		// Empty for Occurrences, so their fingerprints stay as they were.
		TimeSlice time.Duration `json:",omitempty"`
	}{s.cfg.Indicator, s.cfg.GroupBy, s.cfg.TimeWindow, e.cfg.Resolution, e.cfg.BudgetResolution, e.cfg.Windows, s.spec.Slice})
	return xxhash.Sum64(b)
}

// AppendState appends the state of every SLO: counter baselines, windows
// and cumulative event counts.
func (e *Evaluator) AppendState(b []byte) []byte {
	b = append(b, stateVersion)
	b = binary.AppendUvarint(b, uint64(len(e.slos)))
	var body []byte
	for _, s := range e.slos {
		b = statecodec.AppendBytes(b, s.cfg.Name)
		b = binary.LittleEndian.AppendUint64(b, e.fingerprint(s))
		body = s.tracker.AppendBinary(body[:0])
		body = binary.AppendUvarint(body, uint64(len(s.groups)))
		for k, g := range s.groups {
			body = binary.LittleEndian.AppendUint64(body, k)
			body = binary.AppendUvarint(body, uint64(len(g.values)))
			for _, v := range g.values {
				body = statecodec.AppendBytes(body, v)
			}
			body = g.g.AppendBinary(body)
		}
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	return b
}

// RestoreState loads state written by AppendState. SLOs are matched by name
// and kept only if their indicator, grouping and windows are unchanged; the
// others start afresh and are returned in skipped.
func (e *Evaluator) RestoreState(b []byte) (restored, skipped []string, err error) {
	r := statecodec.NewReader(b)
	if v := r.Byte(); r.Err() == nil && v != stateVersion {
		return nil, nil, fmt.Errorf("SLO processor state version %d, want %d", v, stateVersion)
	}
	n := r.Uvarint()
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		name, fp, body := string(r.Bytes()), r.Uint64(), r.Bytes()
		if r.Err() != nil {
			break
		}
		s := e.slo(name)
		if s == nil || e.fingerprint(s) != fp {
			skipped = append(skipped, name)
			continue
		}
		if err := e.restoreSLO(s, body); err != nil {
			return restored, skipped, fmt.Errorf("slo %q: %w", name, err)
		}
		restored = append(restored, name)
	}
	if r.Err() != nil {
		return restored, skipped, errStateCorrupt
	}
	return restored, skipped, nil
}

func (e *Evaluator) slo(name string) *sloState {
	for _, s := range e.slos {
		if s.cfg.Name == name {
			return s
		}
	}
	return nil
}

func (e *Evaluator) restoreSLO(s *sloState, body []byte) error {
	r := statecodec.NewReader(body)
	tr, err := counter.Decode(counter.Config{
		Initial: initialValue(e.cfg.InitialValue), StaleAfter: e.cfg.StaleAfter, MaxSeries: e.cfg.MaxSeries,
	}, r)
	if err != nil {
		return err
	}
	n := r.Uvarint()
	if r.Err() != nil || n > uint64(e.cfg.MaxGroups) {
		return errStateCorrupt
	}
	groups := make(map[uint64]*groupState, n)
	for range n {
		key := r.Uint64()
		nv := r.Uvarint()
		if r.Err() != nil || nv != uint64(len(s.cfg.GroupBy)) {
			return errStateCorrupt
		}
		values := make([]string, nv)
		for i := range values {
			values[i] = string(r.Bytes())
		}
		if r.Err() != nil {
			return errStateCorrupt
		}
		g, err := sli.DecodeGroup(&s.spec, r)
		if err != nil {
			return err
		}
		// Its slo.events series was written before the restart: no new start at 0 (startEvents).
		groups[key] = &groupState{g: g, values: values, started: true}
	}
	if len(r.Rest()) != 0 {
		return errStateCorrupt
	}
	s.tracker, s.groups = tr, groups
	return nil
}
