// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package counter

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/statecodec"
)

const codecVersion = 2

// AppendBinary appends the tracker's since time and series to b.
func (t *Tracker) AppendBinary(b []byte) []byte {
	b = append(b, codecVersion)
	b = binary.AppendVarint(b, t.since)
	b = binary.AppendUvarint(b, uint64(len(t.series)))
	for k, st := range t.series {
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.AppendVarint(b, st.start)
		b = binary.AppendVarint(b, st.time)
		b = binary.AppendVarint(b, st.seen)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.total))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.good))
	}
	b = binary.AppendUvarint(b, uint64(len(t.producers)))
	for k, pr := range t.producers {
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.AppendVarint(b, pr.first)
		b = binary.AppendVarint(b, pr.seen)
	}
	return b
}

var errCorrupt = fmt.Errorf("series state: %w", statecodec.ErrCorrupt)

// Decode reads a tracker written by AppendBinary from r, which is left at the
// bytes that follow it. Series beyond cfg.MaxSeries are an error.
func Decode(cfg Config, r *statecodec.Reader) (*Tracker, error) {
	if v := r.Byte(); r.Err() == nil && v != codecVersion {
		return nil, fmt.Errorf("series state version %d, want %d", v, codecVersion)
	}
	t := New(cfg, r.Varint())
	count := r.Uvarint()
	if cfg.MaxSeries > 0 && count > uint64(cfg.MaxSeries) || count > uint64(len(r.Rest())) {
		return nil, errCorrupt
	}
	for range count {
		k := r.Uint64()
		st := state{start: r.Varint(), time: r.Varint(), seen: r.Varint()}
		// Written as bits: a corrupt NaN fails valid below.
		st.total = math.Float64frombits(r.Uint64())
		st.good = math.Float64frombits(r.Uint64())
		if r.Err() != nil || !valid(Point{Start: st.start, Time: st.time, Total: st.total, Good: st.good}) {
			return nil, errCorrupt
		}
		t.series[k] = st
	}
	count = r.Uvarint()
	if count > uint64(len(r.Rest())) {
		return nil, errCorrupt
	}
	for range count {
		k := r.Uint64()
		t.producers[k] = producer{first: r.Varint(), seen: r.Varint()}
	}
	if r.Err() != nil {
		return nil, errCorrupt
	}
	return t, nil
}
