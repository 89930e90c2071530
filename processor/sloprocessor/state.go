// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/counter"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/sli"
)

// stateVersion is the first byte of the persisted state.
const stateVersion = 1

var errStateCorrupt = errors.New("corrupt SLO processor state")

// fingerprint identifies what an SLO's state means: restoring state written
// under another indicator, grouping or window layout would mix meanings.
func (e *Evaluator) fingerprint(s *sloState) uint64 {
	b, _ := json.Marshal(struct {
		Indicator                    IndicatorConfig
		GroupBy                      []string
		TimeWindow                   TimeWindowConfig
		Resolution, BudgetResolution Duration
		Windows                      []Duration
	}{s.cfg.Indicator, s.cfg.GroupBy, s.cfg.TimeWindow, e.cfg.Resolution, e.cfg.BudgetResolution, e.cfg.Windows})
	return xxhash.Sum64(b)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendState appends the state of every SLO: counter baselines, windows
// and cumulative event counts.
func (e *Evaluator) AppendState(b []byte) []byte {
	b = append(b, stateVersion)
	b = binary.AppendUvarint(b, uint64(len(e.slos)))
	var body []byte
	for _, s := range e.slos {
		b = appendString(b, s.cfg.Name)
		b = binary.LittleEndian.AppendUint64(b, e.fingerprint(s))
		body = s.tracker.AppendBinary(body[:0])
		body = binary.AppendUvarint(body, uint64(len(s.groups)))
		for k, g := range s.groups {
			body = binary.LittleEndian.AppendUint64(body, k)
			body = binary.AppendUvarint(body, uint64(len(g.values)))
			for _, v := range g.values {
				body = appendString(body, v)
			}
			body = g.g.AppendBinary(body)
		}
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	return b
}

type stateReader struct{ b []byte }

func (r *stateReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errStateCorrupt
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *stateReader) bytes() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil || n > uint64(len(r.b)) {
		return nil, errStateCorrupt
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *stateReader) uint64() (uint64, error) {
	if len(r.b) < 8 {
		return 0, errStateCorrupt
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v, nil
}

// RestoreState loads state written by AppendState. SLOs are matched by name
// and kept only if their indicator, grouping and windows are unchanged; the
// others start afresh and are returned in skipped.
func (e *Evaluator) RestoreState(b []byte) (restored, skipped []string, err error) {
	if len(b) == 0 {
		return nil, nil, errStateCorrupt
	}
	if b[0] != stateVersion {
		return nil, nil, fmt.Errorf("SLO processor state version %d, want %d", b[0], stateVersion)
	}
	r := &stateReader{b: b[1:]}
	n, err := r.uvarint()
	if err != nil {
		return nil, nil, err
	}
	for range n {
		name, err := r.bytes()
		if err != nil {
			return restored, skipped, err
		}
		fp, err := r.uint64()
		if err != nil {
			return restored, skipped, err
		}
		body, err := r.bytes()
		if err != nil {
			return restored, skipped, err
		}
		s := e.slo(string(name))
		if s == nil || e.fingerprint(s) != fp {
			skipped = append(skipped, string(name))
			continue
		}
		if err := e.restoreSLO(s, body); err != nil {
			return restored, skipped, fmt.Errorf("slo %q: %w", name, err)
		}
		restored = append(restored, string(name))
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
	tr, rest, err := counter.Decode(counter.Config{
		Initial: initialValue(e.cfg.InitialValue), StaleAfter: e.cfg.StaleAfter, MaxSeries: e.cfg.MaxSeries,
	}, body)
	if err != nil {
		return err
	}
	r := &stateReader{b: rest}
	n, err := r.uvarint()
	if err != nil || n > uint64(e.cfg.MaxGroups) {
		return errStateCorrupt
	}
	groups := make(map[uint64]*groupState, n)
	for range n {
		key, err := r.uint64()
		if err != nil {
			return err
		}
		nv, err := r.uvarint()
		if err != nil || nv != uint64(len(s.cfg.GroupBy)) {
			return errStateCorrupt
		}
		values := make([]string, nv)
		for i := range values {
			v, err := r.bytes()
			if err != nil {
				return err
			}
			values[i] = string(v)
		}
		g, rest, err := sli.DecodeGroup(&s.spec, r.b)
		if err != nil {
			return err
		}
		r.b = rest
		groups[key] = &groupState{g: g, values: values}
	}
	if len(r.b) != 0 {
		return errStateCorrupt
	}
	s.tracker, s.groups = tr, groups
	return nil
}
