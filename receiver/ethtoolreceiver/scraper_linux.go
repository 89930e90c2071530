// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package ethtoolreceiver

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

// linuxOS reads network namespaces through internal/nic: rtnetlink for the
// links, SIOCETHTOOL for statistics, driver information and link speed.
type linuxOS struct{}

func newPlatformOS() netOS { return linuxOS{} }

func (linuxOS) identify(path string) (nic.NamespaceID, error) {
	if path == "" {
		path = nic.SelfNamespacePath
	}
	return nic.IdentifyNamespace(path)
}

func (linuxOS) open(path string) (netnsOS, error) {
	h, err := nic.Open(path)
	if err != nil {
		return nil, err
	}
	return &linuxNetns{h: h, names: map[int32]string{}, prevNames: map[int32]string{}}, nil
}

func (linuxOS) hasDevice(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name + "/device")
	return err == nil
}

// linuxNetns is one namespace's nic.Handle.
type linuxNetns struct {
	h   *nic.Handle
	out []link
	// names keeps the name strings of the previous listing by ifindex, so
	// that a steady-state listing allocates nothing.
	names, prevNames map[int32]string
}

func (n *linuxNetns) links() ([]link, error) {
	ls, err := n.h.Links()
	if err != nil {
		return nil, err
	}
	n.names, n.prevNames = n.prevNames, n.names
	clear(n.names)
	n.out = n.out[:0]
	for i := range ls {
		l := &ls[i]
		name, ok := n.prevNames[l.Index]
		if !ok || !l.NameIs(name) {
			name = l.Name()
		}
		n.names[l.Index] = name
		n.out = append(n.out, link{
			index: l.Index, name: name, loopback: l.Loopback(), up: l.Up(), oper: l.OperState, hasParent: l.HasParent,
		})
	}
	return n.out, nil
}

func (n *linuxNetns) openStats(name string) (statsOS, error) {
	st, err := n.h.OpenStats(name)
	if err != nil {
		return nil, err
	}
	return &linuxStats{h: n.h, st: st}, nil
}

// driverInfo is ETHTOOL_GDRVINFO and ETHTOOL_GSET; a failure to read the
// speed leaves it unknown.
func (n *linuxNetns) driverInfo(name string) (nicInfo, error) {
	drv, err := n.h.DriverInfo(name)
	info := nicInfo{driver: drv.Driver, version: drv.Version, firmware: drv.Firmware, bus: drv.Bus, speedBits: -1}
	if mbps, ok, err := n.h.SpeedMbps(name); err == nil && ok {
		info.speedBits = int64(mbps) * 1_000_000
	}
	return info, err
}

func (n *linuxNetns) close() error { return n.h.Close() }

type linuxStats struct {
	h  *nic.Handle
	st *nic.Stats
}

func (s *linuxStats) names() []string         { return s.st.Names }
func (s *linuxStats) read() ([]uint64, error) { return s.h.Read(s.st) }
func (s *linuxStats) close() error            { return s.st.Close() }

func errnoName(e unix.Errno) string { return unix.ErrnoName(e) }
