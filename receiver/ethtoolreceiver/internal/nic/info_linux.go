// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic

import (
	"bytes"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DriverInfo is what ETHTOOL_GDRVINFO reports (`ethtool -i`).
type DriverInfo struct {
	Driver, Version, Firmware, Bus string
}

// ethtoolDrvinfo is struct ethtool_drvinfo.
type ethtoolDrvinfo struct {
	cmd         uint32
	driver      [32]byte
	version     [32]byte
	fwVersion   [32]byte
	busInfo     [32]byte
	eromVersion [32]byte
	reserved2   [12]byte
	nPrivFlags  uint32
	nStats      uint32
	testinfoLen uint32
	eedumpLen   uint32
	regdumpLen  uint32
}

// ethtoolCmd is struct ethtool_cmd (ETHTOOL_GSET).
type ethtoolCmd struct {
	cmd           uint32
	supported     uint32
	advertising   uint32
	speed         uint16
	duplex        uint8
	port          uint8
	phyAddress    uint8
	transceiver   uint8
	autoneg       uint8
	mdioSupport   uint8
	maxtxpkt      uint32
	maxrxpkt      uint32
	speedHi       uint16
	ethTpMdix     uint8
	ethTpMdixCtrl uint8
	lpAdvertising uint32
	reserved      [2]uint32
}

// speedUnknown is SPEED_UNKNOWN.
const speedUnknown = 0xffffffff

// DriverInfo reads the driver information of an interface with
// ETHTOOL_GDRVINFO. The ifreq holds a real pointer to the result: a uintptr
// kept across a function call (as github.com/safchain/ethtool v0.7.0 does)
// goes stale when the goroutine's stack moves, and the kernel then writes
// into the old stack while the caller reads zeros without an error.
func (h *Handle) DriverInfo(name string) (DriverInfo, error) {
	var req ifreq
	if err := req.setName(name); err != nil {
		return DriverInfo{}, err
	}
	var di ethtoolDrvinfo
	di.cmd = unix.ETHTOOL_GDRVINFO
	req.data = unsafe.Pointer(&di)
	if err := ioctl(h.ioctlFD, &req); err != nil {
		return DriverInfo{}, err
	}
	return DriverInfo{Driver: cString(di.driver[:]), Version: cString(di.version[:]), Firmware: cString(di.fwVersion[:]), Bus: cString(di.busInfo[:])}, nil
}

// SpeedMbps reads the link speed in Mb/s with ETHTOOL_GSET; ok is false
// while the driver reports it unknown (or 0).
func (h *Handle) SpeedMbps(name string) (mbps uint32, ok bool, err error) {
	var req ifreq
	if err := req.setName(name); err != nil {
		return 0, false, err
	}
	var cmd ethtoolCmd
	cmd.cmd = unix.ETHTOOL_GSET
	req.data = unsafe.Pointer(&cmd)
	if err := ioctl(h.ioctlFD, &req); err != nil {
		return 0, false, err
	}
	mbps = uint32(cmd.speedHi)<<16 | uint32(cmd.speed)
	return mbps, mbps != 0 && mbps != speedUnknown, nil
}

func cString(b []byte) string {
	if end := bytes.IndexByte(b, 0); end >= 0 {
		b = b[:end]
	}
	return string(b)
}
