// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

func TestIfreqIsFullStructIfreq(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("struct ifreq is 40 bytes on 64-bit Linux only")
	}
	assert.Equal(t, uintptr(40), unsafe.Sizeof(ifreq{}))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(ifreq{}.data))
}

func TestIfreqSetName(t *testing.T) {
	var r ifreq
	assert.NoError(t, r.setName("eth0"))
	assert.NoError(t, r.setName("e"))
	assert.Equal(t, [16]byte{'e'}, r.name, "a shorter name clears the previous one")
	assert.Error(t, r.setName(""))
	assert.Error(t, r.setName("sixteen-bytes-xx"))
}

func TestParseLinkIgnoresMalformedAttributes(t *testing.T) {
	msg := make([]byte, 16+8)
	nativeEndian.PutUint32(msg[4:], 7)
	nativeEndian.PutUint16(msg[16:], 200) // attribute longer than the message
	_, ok := parseLink(msg)
	assert.False(t, ok, "no name, not a link")
	_, ok = parseLink(msg[:8])
	assert.False(t, ok, "short ifinfomsg")
}
