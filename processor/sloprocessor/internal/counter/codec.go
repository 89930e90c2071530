// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package counter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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

var errCorrupt = errors.New("corrupt series state")

// Decode reads a tracker written by AppendBinary and returns the bytes that
// follow it. Series beyond cfg.MaxSeries are an error.
func Decode(cfg Config, b []byte) (*Tracker, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errCorrupt
	}
	if b[0] != codecVersion {
		return nil, nil, fmt.Errorf("series state version %d, want %d", b[0], codecVersion)
	}
	b = b[1:]
	since, n := binary.Varint(b)
	if n <= 0 {
		return nil, nil, errCorrupt
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || (cfg.MaxSeries > 0 && count > uint64(cfg.MaxSeries)) || count > uint64(len(b)) {
		return nil, nil, errCorrupt
	}
	b = b[n:]
	t := New(cfg, since)
	for range count {
		if len(b) < 8 {
			return nil, nil, errCorrupt
		}
		k := binary.LittleEndian.Uint64(b)
		b = b[8:]
		var st state
		for _, f := range []*int64{&st.start, &st.time, &st.seen} {
			v, n := binary.Varint(b)
			if n <= 0 {
				return nil, nil, errCorrupt
			}
			*f = v
			b = b[n:]
		}
		if len(b) < 16 {
			return nil, nil, errCorrupt
		}
		st.total = math.Float64frombits(binary.LittleEndian.Uint64(b))
		st.good = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
		b = b[16:]
		if !valid(Point{Start: st.start, Time: st.time, Total: st.total, Good: st.good}) {
			return nil, nil, errCorrupt
		}
		t.series[k] = st
	}
	count, n = binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, nil, errCorrupt
	}
	b = b[n:]
	for range count {
		if len(b) < 8 {
			return nil, nil, errCorrupt
		}
		k := binary.LittleEndian.Uint64(b)
		b = b[8:]
		var pr producer
		for _, f := range []*int64{&pr.first, &pr.seen} {
			v, n := binary.Varint(b)
			if n <= 0 {
				return nil, nil, errCorrupt
			}
			*f = v
			b = b[n:]
		}
		t.producers[k] = pr
	}
	return t, b, nil
}
