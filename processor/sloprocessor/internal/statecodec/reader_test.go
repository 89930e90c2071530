// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package statecodec

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReaderReadsWhatBinaryAppends(t *testing.T) {
	b := []byte{7}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.LittleEndian.AppendUint64(b, 0xdeadbeef)
	b = AppendBytes(b, "api")
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(2.5))
	b = binary.AppendUvarint(b, math.Float64bits(0.1))
	b = append(b, 'x')
	r := NewReader(b)
	assert.Equal(t, byte(7), r.Byte())
	assert.Equal(t, uint64(300), r.Uvarint())
	assert.Equal(t, int64(-5), r.Varint())
	assert.Equal(t, uint64(0xdeadbeef), r.Uint64())
	assert.Equal(t, []byte("api"), r.Bytes())
	assert.Equal(t, 2.5, r.Float64())
	assert.Equal(t, 0.1, r.VarFloat64())
	assert.NoError(t, r.Err())
	assert.Equal(t, []byte("x"), r.Rest())
}

func TestReaderCorrupt(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(r *Reader)
	}{
		{"byte past the end", nil, func(r *Reader) { r.Byte() }},
		{"truncated varint", []byte{0x80}, func(r *Reader) { r.Uvarint() }},
		{"truncated signed varint", []byte{0xff}, func(r *Reader) { r.Varint() }},
		{"short word", []byte{1, 2, 3}, func(r *Reader) { r.Uint64() }},
		{"length past the end", []byte{5, 'a'}, func(r *Reader) { r.Bytes() }},
		{"NaN", binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())), func(r *Reader) { r.Float64() }},
		{"infinity", binary.AppendUvarint(nil, math.Float64bits(math.Inf(1))), func(r *Reader) { r.VarFloat64() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.in)
			tt.read(r)
			assert.ErrorIs(t, r.Err(), ErrCorrupt)
			assert.Zero(t, r.Uvarint(), "reads after an error return zero")
		})
	}
}
