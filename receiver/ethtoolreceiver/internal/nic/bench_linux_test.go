// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic_test

import (
	"fmt"
	"testing"

	"github.com/safchain/ethtool"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nettest"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

type benchTarget struct {
	name, nsPath, dev string
}

// BenchmarkScrape reads all statistics of one interface: ours (nic.Read: one
// GSTATS with count check), safchain/ethtool Stats() (GDRVINFO + GSTRINGS +
// GSTATS + a map per call) and the bare ioctl, on a 10-statistic veth, a
// 577-statistic 64-queue veth and the machine's real NIC when it has one.
func BenchmarkScrape(b *testing.B) {
	nettest.Require(b)
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
				bi := nettest.NewBareIoctl(b, tg.nsPath, tg.dev, len(s.Names))
				for b.Loop() {
					if errno := bi.Read(); errno != 0 {
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
		info, _ := h.DriverInfo(l.Name())
		name := fmt.Sprintf("%s%d", info.Driver, len(s.Names))
		s.Close()
		return benchTarget{name, "", l.Name()}
	}
	return benchTarget{name: "nic"}
}
