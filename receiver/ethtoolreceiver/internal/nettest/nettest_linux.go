// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

// Package nettest builds real network namespaces and veth pairs for the
// ethtool receiver's tests with iproute2's ip and compares against Debian's
// ethtool CLI. Tests that cannot run (not root, tool missing) are skipped,
// or fail under CI (internal/testenv).
package nettest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

// Require skips the test (fails it under CI, see internal/testenv) unless it
// runs as root with iproute2's ip and Debian's ethtool on PATH.
func Require(tb testing.TB) {
	tb.Helper()
	testenv.NeedRoot(tb, "create network namespaces and veth pairs (CAP_NET_ADMIN, CAP_SYS_ADMIN)")
	testenv.LookPath(tb, "ip", "iproute2")
	testenv.LookPath(tb, "ethtool", "ethtool")
}

var seq atomic.Uint32

// Unique returns a short name unique to this process and call, usable as an
// interface name (at most 15 bytes) or a namespace name.
func Unique(prefix string) string {
	return fmt.Sprintf("%s%d%c", prefix, os.Getpid()%100000, 'a'+rune(seq.Add(1)%26)) + strconv.Itoa(int(seq.Load()/26))
}

// Run runs a command and fails the test on error; it returns stdout.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		tb.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// Namespace is a named network namespace created by `ip netns add`.
type Namespace struct {
	Name string
	Path string // /var/run/netns/<name>
}

// NewNamespace creates a namespace that is deleted when the test ends.
func NewNamespace(tb testing.TB) Namespace {
	tb.Helper()
	name := Unique("etns")
	Run(tb, "ip", "netns", "add", name)
	tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return Namespace{Name: name, Path: "/var/run/netns/" + name}
}

// Exec runs a command inside the namespace.
func (ns Namespace) Exec(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	return Run(tb, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Veth is one end of a veth pair.
type Veth struct {
	NS   Namespace
	Name string
	Addr string // IPv4 address without prefix length
}

// VethPair creates a veth pair with a and b in namespaces nsA and nsB, with
// the given number of rx and tx queues on each end, addresses 10.x.y.1/30 and
// .2/30, both up. GRO is on and TSO off so that the veth NAPI path counts
// every packet in its ethtool statistics.
func VethPair(tb testing.TB, nsA, nsB Namespace, queues int) (a, b Veth) {
	tb.Helper()
	a, b = DownVethPair(tb, nsA, nsB, queues)
	for _, v := range []Veth{a, b} {
		// No IPv6: its neighbour discovery and MLD reports would keep
		// trickling in for seconds after the link comes up.
		v.NS.Exec(tb, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/"+v.Name+"/disable_ipv6")
		Run(tb, "ip", "-n", v.NS.Name, "addr", "add", v.Addr+"/30", "dev", v.Name)
		Run(tb, "ip", "-n", v.NS.Name, "link", "set", v.Name, "up")
		v.NS.Exec(tb, "ethtool", "-K", v.Name, "gro", "on", "tso", "off")
	}
	for _, v := range []Veth{a, b} {
		v.waitUp(tb)
	}
	return a, b
}

// waitUp waits until the kernel's link watcher has set the operational state
// to UP, which it does asynchronously after the carrier comes up.
func (v Veth) waitUp(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(Run(tb, "ip", "-n", v.NS.Name, "-o", "link", "show", "dev", v.Name), " state UP ") {
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not come up", v.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// DownVethPair creates a veth pair like VethPair but configures nothing: no
// addresses, both ends down.
func DownVethPair(tb testing.TB, nsA, nsB Namespace, queues int) (a, b Veth) {
	tb.Helper()
	n := seq.Add(1)
	subnet := fmt.Sprintf("10.%d.%d", 200+n/64%50, n%64*4)
	a = Veth{NS: nsA, Name: Unique("eta"), Addr: subnet + ".1"}
	b = Veth{NS: nsB, Name: Unique("etb"), Addr: subnet + ".2"}
	q := strconv.Itoa(queues)
	Run(tb, "ip", "-n", nsA.Name, "link", "add", a.Name, "numrxqueues", q, "numtxqueues", q,
		"type", "veth", "peer", "name", b.Name, "netns", nsB.Name, "numrxqueues", q, "numtxqueues", q)
	return a, b
}

// Delete removes the pair (both ends).
func (v Veth) Delete(tb testing.TB) {
	tb.Helper()
	Run(tb, "ip", "-n", v.NS.Name, "link", "del", v.Name)
}

// Stat is one line of `ethtool -S`.
type Stat struct {
	Name  string
	Value uint64
}

// EthtoolS runs `ethtool -S` in the namespace and returns the statistics in
// the order printed.
func (v Veth) EthtoolS(tb testing.TB) []Stat {
	tb.Helper()
	return ParseEthtoolS(tb, v.NS.Exec(tb, "ethtool", "-S", v.Name))
}

// WaitQuiet waits until two `ethtool -S` reads 200ms apart are equal: no
// packet is in flight any more (late ARP replies, NAPI still draining).
func (v Veth) WaitQuiet(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	prev := v.EthtoolS(tb)
	for {
		time.Sleep(200 * time.Millisecond)
		cur := v.EthtoolS(tb)
		if slices.Equal(prev, cur) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: statistics still moving after 20s", v.Name)
		}
		prev = cur
	}
}

// ParseEthtoolS parses `ethtool -S` output.
func ParseEthtoolS(tb testing.TB, out string) []Stat {
	tb.Helper()
	var stats []Stat
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "     ") {
			continue // "NIC statistics:" header
		}
		i := strings.LastIndex(line, ": ")
		if i < 0 {
			tb.Fatalf("unexpected ethtool -S line %q", line)
		}
		v, err := strconv.ParseUint(line[i+2:], 10, 64)
		if err != nil {
			tb.Fatalf("ethtool -S line %q: %v", line, err)
		}
		stats = append(stats, Stat{Name: line[5:i], Value: v})
	}
	return stats
}

// Traffic sends UDP datagrams from the namespace of from to the address of
// to until stopped; it generates traffic only between the test's own veth ends.
type Traffic struct {
	stop chan struct{}
	wg   sync.WaitGroup
	fd   int
	Sent atomic.Uint64
}

// StartTraffic starts sending; Stop must be called (also registered as cleanup).
func StartTraffic(tb testing.TB, from, to Veth) *Traffic {
	tb.Helper()
	tr := &Traffic{stop: make(chan struct{}), fd: -1}
	err := nic.InNamespace(from.NS.Path, func() error {
		var err error
		tr.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		tb.Fatalf("UDP socket in %s: %v", from.NS.Name, err)
	}
	dst := &unix.SockaddrInet4{Port: 9}
	copy(dst.Addr[:], net.ParseIP(to.Addr).To4())
	payload := make([]byte, 200)
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		for {
			select {
			case <-tr.stop:
				return
			default:
			}
			if err := unix.Sendto(tr.fd, payload, 0, dst); err == nil {
				tr.Sent.Add(1)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	tb.Cleanup(tr.Stop)
	return tr
}

// Stop stops sending; use Veth.WaitQuiet to wait for in-flight packets.
func (tr *Traffic) Stop() {
	select {
	case <-tr.stop:
		return
	default:
	}
	close(tr.stop)
	tr.wg.Wait()
	_ = unix.Close(tr.fd)
}

// BareIoctl is the physical floor of reading the n statistics of an
// interface: one ETHTOOL_GSTATS ioctl with a prepared 40-byte ifreq into a
// prepared buffer, no count check, written independently of internal/nic.
type BareIoctl struct {
	fd  int
	ifr struct {
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [16]byte
	}
	buf []uint64
}

// NewBareIoctl prepares reading interface name of the namespace at nsPath.
func NewBareIoctl(tb testing.TB, nsPath, name string, n int) *BareIoctl {
	tb.Helper()
	bi := &BareIoctl{buf: make([]uint64, 1+n)}
	err := nic.InNamespace(nsPath, func() error {
		var err error
		bi.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = unix.Close(bi.fd) })
	copy(bi.ifr.name[:], name)
	bi.ifr.data = unsafe.Pointer(&bi.buf[0])
	return bi
}

// Read issues the ioctl.
func (bi *BareIoctl) Read() unix.Errno {
	hdr := (*[2]uint32)(unsafe.Pointer(&bi.buf[0]))
	hdr[0], hdr[1] = unix.ETHTOOL_GSTATS, uint32(len(bi.buf)-1)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(bi.fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&bi.ifr)))
	return errno
}
