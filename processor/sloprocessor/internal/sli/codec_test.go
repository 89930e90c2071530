// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/statecodec"
)

func TestCodecRoundTrip(t *testing.T) {
	spec := workbookSpec(t)
	g := NewGroup(spec, at(-time.Hour))
	for i := range 500 {
		d := time.Duration(i) * 7 * time.Minute
		g.Add(at(d), at(d), float64(i%3), 3)
	}
	now := at(500 * 7 * time.Minute)
	var want, got Result
	g.Evaluate(now, at(-time.Hour), &want)

	b := g.AppendBinary([]byte("prefix"))
	r := statecodec.NewReader(append(b[len("prefix"):], 0xEE))
	g2, err := DecodeGroup(spec, r)
	rest := r.Rest()
	require.NoError(t, err)
	assert.Equal(t, []byte{0xEE}, rest)
	assert.Equal(t, g.Created, g2.Created)
	g2.Evaluate(now, at(-time.Hour), &got)
	assert.Equal(t, want, got)

	// Both continue identically.
	g.Add(now, now, 1, 2)
	g2.Add(now, now, 1, 2)
	g.Evaluate(now+int64(time.Hour), at(-time.Hour), &want)
	g2.Evaluate(now+int64(time.Hour), at(-time.Hour), &got)
	assert.Equal(t, want, got)
}

func TestCodecRejects(t *testing.T) {
	spec := workbookSpec(t)
	g := NewGroup(spec, at(0))
	g.Add(at(0), at(0), 1, 1)
	valid := g.AppendBinary(nil)

	other := workbookSpec(t)
	other.Resolution = 30 * time.Second
	require.NoError(t, other.Prepare())

	tests := []struct {
		name string
		spec *Spec
		b    []byte
		want string
	}{
		{"empty input", spec, nil, "corrupt"},
		{"unknown version", spec, append([]byte{9}, valid[1:]...), "version 9"},
		{"truncated", spec, valid[:len(valid)-3], "corrupt"},
		{"resolution changed since the state was written", other, valid, "slot width changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeGroup(tt.spec, statecodec.NewReader(tt.b))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func FuzzDecodeGroup(f *testing.F) {
	spec := workbookSpec(f)
	g := NewGroup(spec, at(0))
	f.Add(g.AppendBinary(nil))
	g.Add(at(0), at(0), 1, 2)
	g.Add(at(time.Hour), at(time.Hour), 3, 4)
	f.Add(g.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeGroup(spec, statecodec.NewReader(b))
		if err != nil {
			return
		}
		var r Result
		g.Evaluate(at(0), at(0), &r)
		g.Add(at(0), at(0), 1, 1)
		_ = g.AppendBinary(nil)
	})
}
