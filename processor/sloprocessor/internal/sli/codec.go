// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
var errCorrupt = errors.New("corrupt SLO group state")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) count() float64 {
	f := math.Float64frombits(r.uvarint())
	if math.IsNaN(f) || math.IsInf(f, 0) {
		r.err = errCorrupt
	}
	return f
}

// DecodeGroup reads a group written by AppendBinary for the same spec and
// returns it with the bytes that follow it. A spec whose resolutions changed
// since the state was written is an error: the caller starts afresh.
func DecodeGroup(spec *Spec, b []byte) (*Group, []byte, error) {
	r := &reader{b: b}
	if v := r.byte(); r.err == nil && v != groupCodecVersion {
		return nil, nil, fmt.Errorf("SLO group state version %d, want %d", v, groupCodecVersion)
	}
	g := NewGroup(spec, r.varint())
	g.good = r.count()
	g.total = r.count()
	decodeRing(r, &g.fine)
	decodeRing(r, &g.coarse)
	if r.err != nil {
		return nil, nil, r.err
	}
	return g, r.b, nil
}

func decodeRing(r *reader, ring *ring) {
	if res := r.varint(); r.err == nil && res != ring.res {
		r.err = fmt.Errorf("slot width changed from %d ns to %d ns: %w", res, ring.res, errCorrupt)
	}
	if r.byte() == 0 || r.err != nil {
		return
	}
	head := r.varint()
	if head > math.MaxInt64/ring.res || head < math.MinInt64/ring.res {
		r.err = errCorrupt
		return
	}
	ring.advance(head)
	n := r.uvarint()
	if n > uint64(len(ring.slots)) {
		r.err = errCorrupt
		return
	}
	for range n {
		age := r.uvarint()
		p := pair{good: r.count(), total: r.count()}
		if r.err != nil {
			return
		}
		if age >= uint64(len(ring.slots)) {
			r.err = errCorrupt
			return
		}
		ring.slots[ring.idx(ring.head-int64(age))] = p
	}
	ring.resync()
}
