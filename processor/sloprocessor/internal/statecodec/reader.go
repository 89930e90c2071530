// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package statecodec reads the SLO processor's persisted state: one reader
// for what the state is written with (encoding/binary's AppendUvarint,
// AppendVarint and little-endian AppendUint64, and length-prefixed bytes).
//
// A Reader remembers the first error: after it every read returns zero, so a
// decoder reads a whole record and checks Err once.
package statecodec

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrCorrupt is the error of a read past the end or of a malformed varint.
var ErrCorrupt = errors.New("corrupt state")

// Reader reads values from the front of a byte slice.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a reader of b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error of a read, or one set with Fail.
func (r *Reader) Err() error { return r.err }

// Fail records err unless an earlier error is recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Rest returns the bytes not read yet.
func (r *Reader) Rest() []byte { return r.b }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.Fail(ErrCorrupt)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 { return readVarint(r, binary.Uvarint) }

// Varint reads a signed varint.
func (r *Reader) Varint() int64 { return readVarint(r, binary.Varint) }

func readVarint[T uint64 | int64](r *Reader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b)
	if n <= 0 {
		r.Fail(ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Uint64 reads a little-endian 64-bit word.
func (r *Reader) Uint64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.Fail(ErrCorrupt)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// Bytes reads bytes prefixed with their length as an unsigned varint. The
// result shares the reader's memory.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.Fail(ErrCorrupt)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Float64 reads a finite float64 stored as a little-endian word of its bits.
func (r *Reader) Float64() float64 { return r.finite(r.Uint64()) }

// VarFloat64 reads a finite float64 stored as an unsigned varint of its bits.
func (r *Reader) VarFloat64() float64 { return r.finite(r.Uvarint()) }

// finite turns bits into a float64; NaN and infinities are corrupt.
func (r *Reader) finite(bits uint64) float64 {
	f := math.Float64frombits(bits)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		r.Fail(ErrCorrupt)
		return 0
	}
	return f
}

// AppendBytes appends b prefixed with its length, as Bytes reads it.
func AppendBytes(dst []byte, b string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}
