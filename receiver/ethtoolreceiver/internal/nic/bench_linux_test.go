// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic_test

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/safchain/ethtool"
	"golang.org/x/sys/unix"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nettest"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

// bareIoctl is the physical floor: one ETHTOOL_GSTATS ioctl with a prepared
// 40-byte ifreq into a prepared buffer, no count check, written independently
// of the package under test.
type bareIoctl struct {
	fd  int
	ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte
	}
	buf []uint64
}

func newBareIoctl(b *testing.B, nsPath, name string, n int) *bareIoctl {
	bi := &bareIoctl{buf: make([]uint64, 1+n)}
	err := nic.InNamespace(nsPath, func() error {
		var err error
		bi.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(bi.fd) })
	copy(bi.ifr.name[:], name)
	bi.ifr.data = unsafe.Pointer(&bi.buf[0])
	return bi
}

func (bi *bareIoctl) read() unix.Errno {
	hdr := (*[2]uint32)(unsafe.Pointer(&bi.buf[0]))
	hdr[0], hdr[1] = unix.ETHTOOL_GSTATS, uint32(len(bi.buf)-1)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(bi.fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&bi.ifr)))
	return errno
}

type benchTarget struct {
	name, nsPath, dev string
}

// BenchmarkScrape reads all statistics of one interface: ours (nic.Read: one
// GSTATS with count check), safchain/ethtool Stats() (GDRVINFO + GSTRINGS +
// GSTATS + a map per call) and the bare ioctl, on a 10-statistic veth, a
// 577-statistic 64-queue veth and the machine's real NIC when it has one.
func BenchmarkScrape(b *testing.B) {
	nettest.Require(b, "ip", "ethtool")
	nsA, nsB := nettest.NewNamespace(b), nettest.NewNamespace(b)
	_, v1 := nettest.VethPair(b, nsA, nsB, 1)
	_, v64 := nettest.VethPair(b, nsA, nsB, 64)
	targets := []benchTarget{
		{"veth10", nsB.Path, v1.Name},
		{"veth577", nsB.Path, v64.Name},
		realNIC(b),
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			if tg.dev == "" {
				b.Skip("no physical NIC with ethtool statistics in this namespace")
			}
			h, err := nic.Open(tg.nsPath)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			s, err := h.OpenStats(tg.dev)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()

			b.Run("ours", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := h.Read(s); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("safchainStats", func(b *testing.B) {
				b.ReportAllocs()
				var e *ethtool.Ethtool
				if err := nic.InNamespace(tg.nsPath, func() (err error) { e, err = ethtool.NewEthtool(); return err }); err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				for b.Loop() {
					if _, err := e.Stats(tg.dev); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("bareIoctl", func(b *testing.B) {
				b.ReportAllocs()
				bi := newBareIoctl(b, tg.nsPath, tg.dev, len(s.Names))
				for b.Loop() {
					if errno := bi.read(); errno != 0 {
						b.Fatal(errno)
					}
				}
			})
		})
	}
}

// realNIC finds an interface of the benchmark's own namespace that has a
// parent device and statistics (virtio_net, ENA, ...).
func realNIC(b *testing.B) benchTarget {
	h, err := nic.Open("")
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	links, err := h.Links()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range links {
		if !l.HasParent || l.Loopback() {
			continue
		}
		s, err := h.OpenStats(l.Name())
		if err != nil {
			continue
		}
		driver, _ := h.Ethtool.DriverName(l.Name())
		name := fmt.Sprintf("%s%d", driver, len(s.Names))
		s.Close()
		return benchTarget{name, "", l.Name()}
	}
	return benchTarget{name: "nic"}
}
