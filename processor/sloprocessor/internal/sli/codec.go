// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/statecodec"
)

// groupCodecVersion is the first byte of an encoded group.
const groupCodecVersion = 1

// AppendBinary appends the group's state to b: the heads of both rings, the
// non-empty slots and the cumulative counts. Running sums are rebuilt on
// decode.
func (g *Group) AppendBinary(b []byte) []byte {
	b = append(b, groupCodecVersion)
	b = binary.AppendVarint(b, g.Created)
	b = binary.AppendUvarint(b, math.Float64bits(g.good))
	b = binary.AppendUvarint(b, math.Float64bits(g.total))
	b = appendRing(b, &g.fine)
	return appendRing(b, &g.coarse)
}

func appendRing(b []byte, r *ring) []byte {
	b = binary.AppendVarint(b, r.res)
	if !r.init {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, r.head)
	n := 0
	for _, p := range r.slots {
		if p != (pair{}) {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for x := r.oldest(); x <= r.head; x++ {
		p := r.slots[r.idx(x)]
		if p == (pair{}) {
			continue
		}
		b = binary.AppendUvarint(b, uint64(r.head-x))
		b = binary.AppendUvarint(b, math.Float64bits(p.good))
		b = binary.AppendUvarint(b, math.Float64bits(p.total))
	}
	return b
}

// errCorrupt is returned for state that cannot have been written by
// AppendBinary.
var errCorrupt = fmt.Errorf("SLO group state: %w", statecodec.ErrCorrupt)

// DecodeGroup reads a group written by AppendBinary for the same spec from r,
// which is left at the bytes that follow it. A spec whose resolutions changed
// since the state was written is an error: the caller starts afresh.
func DecodeGroup(spec *Spec, r *statecodec.Reader) (*Group, error) {
	if v := r.Byte(); r.Err() == nil && v != groupCodecVersion {
		return nil, fmt.Errorf("SLO group state version %d, want %d", v, groupCodecVersion)
	}
	g := NewGroup(spec, r.Varint())
	g.good = r.VarFloat64()
	g.total = r.VarFloat64()
	decodeRing(r, &g.fine)
	decodeRing(r, &g.coarse)
	if r.Err() != nil {
		return nil, r.Err()
	}
	return g, nil
}

func decodeRing(r *statecodec.Reader, ring *ring) {
	if res := r.Varint(); r.Err() == nil && res != ring.res {
		r.Fail(fmt.Errorf("slot width changed from %d ns to %d ns: %w", res, ring.res, errCorrupt))
	}
	if r.Byte() == 0 || r.Err() != nil {
		return
	}
	head := r.Varint()
	if head > math.MaxInt64/ring.res || head < math.MinInt64/ring.res {
		r.Fail(errCorrupt)
		return
	}
	ring.advance(head)
	n := r.Uvarint()
	if n > uint64(len(ring.slots)) {
		r.Fail(errCorrupt)
		return
	}
	for range n {
		age := r.Uvarint()
		p := pair{good: r.VarFloat64(), total: r.VarFloat64()}
		if r.Err() != nil {
			return
		}
		if age >= uint64(len(ring.slots)) {
			r.Fail(errCorrupt)
			return
		}
		ring.slots[ring.idx(ring.head-int64(age))] = p
	}
	ring.resync()
}
