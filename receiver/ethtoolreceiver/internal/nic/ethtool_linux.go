// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	ethGStringLen = 32
	ethSSStats    = 1

	// gstatsHeader is struct ethtool_stats without data: cmd, n_stats.
	gstatsHeader = 8
	// gstringsHeader is struct ethtool_gstrings without data: cmd, string_set, len.
	gstringsHeader = 12
	// maxStats bounds the buffers against a nonsensical count.
	maxStats = 1 << 20
)

// ifreq is the full struct ifreq of 64-bit Linux: 16 bytes of name and a
// 24-byte union of which SIOCETHTOOL uses the ifr_data pointer. The kernel
// copies sizeof(struct ifreq) = 40 bytes from user memory, so a shorter Go
// struct would let it read past the end of ours.
type ifreq struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

func (r *ifreq) setName(name string) error {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q: must be 1 to %d bytes", name, unix.IFNAMSIZ-1)
	}
	r.name = [unix.IFNAMSIZ]byte{}
	copy(r.name[:], name)
	return nil
}

func ioctl(fd int, ifr *ifreq) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(ifr)))
	if errno != 0 {
		return errno
	}
	return nil
}

// guarded is memory outside the Go heap, followed by one inaccessible page.
// Kernels before the count check write as many values as the device has now,
// whatever count we pass; a write past our buffer then faults on the guard
// page (the ioctl fails with EFAULT) instead of corrupting memory.
type guarded struct {
	mem []byte // whole mapping, guard page included
	buf []byte // usable part
}

// liveBuffers counts guarded mappings not yet unmapped.
var liveBuffers atomic.Int64

// LiveBuffers returns the number of statistics and name buffers currently
// mapped, for leak checks: every OpenStats must be paired with Stats.Close.
func LiveBuffers() int64 { return liveBuffers.Load() }

func mapGuarded(size int) (guarded, error) {
	page := os.Getpagesize()
	usable := (size + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, usable+page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return guarded{}, fmt.Errorf("map %d bytes for ethtool buffer: %w", usable+page, err)
	}
	if err := unix.Mprotect(mem[usable:], unix.PROT_NONE); err != nil {
		_ = unix.Munmap(mem)
		return guarded{}, fmt.Errorf("protect ethtool buffer guard page: %w", err)
	}
	liveBuffers.Add(1)
	return guarded{mem: mem, buf: mem[:usable]}, nil
}

func (g *guarded) unmap() error {
	if g.mem == nil {
		return nil
	}
	err := unix.Munmap(g.mem)
	liveBuffers.Add(-1)
	*g = guarded{}
	return err
}

// Stats is the cached statistics layout of one interface and the buffer its
// values are read into. It belongs to the Handle of the interface's namespace
// and is not safe for concurrent use.
type Stats struct {
	// Names are the statistic names in kernel order.
	Names []string

	ifr    ifreq
	n      uint32
	mem    guarded
	header *[2]uint32
	values []uint64
}

// OpenStats reads the statistic count (ETHTOOL_GSSET_INFO) and names
// (ETHTOOL_GSTRINGS) of the interface and allocates its value buffer. It
// returns unix.EOPNOTSUPP for interfaces without statistics (lo, bridges),
// unix.ENODEV for interfaces that no longer exist, and ErrCountChanged when
// the count changed between the two calls.
func (h *Handle) OpenStats(name string) (*Stats, error) {
	s := &Stats{}
	if err := s.ifr.setName(name); err != nil {
		return nil, err
	}
	n, err := h.statsCount(&s.ifr)
	if err != nil {
		return nil, err
	}
	if s.Names, err = h.statsNames(&s.ifr, n); err != nil {
		return nil, err
	}
	if s.mem, err = mapGuarded(gstatsHeader + 8*int(n)); err != nil {
		return nil, err
	}
	s.n = n
	s.header = (*[2]uint32)(unsafe.Pointer(&s.mem.buf[0]))
	s.values = unsafe.Slice((*uint64)(unsafe.Pointer(&s.mem.buf[gstatsHeader])), n)
	s.ifr.data = unsafe.Pointer(&s.mem.buf[0])
	return s, nil
}

// statsCount is ETHTOOL_GSSET_INFO for the stats string set.
func (h *Handle) statsCount(ifr *ifreq) (uint32, error) {
	var info struct {
		cmd      uint32
		reserved uint32
		mask     uint64
		data     [1]uint32
	}
	info.cmd = unix.ETHTOOL_GSSET_INFO
	info.mask = 1 << ethSSStats
	req := *ifr
	req.data = unsafe.Pointer(&info)
	if err := ioctl(h.ioctlFD, &req); err != nil {
		return 0, err
	}
	if info.mask&(1<<ethSSStats) == 0 || info.data[0] == 0 {
		return 0, unix.EOPNOTSUPP
	}
	if info.data[0] > maxStats {
		return 0, fmt.Errorf("device reports %d ethtool statistics, more than %d", info.data[0], maxStats)
	}
	return info.data[0], nil
}

// statsNames is ETHTOOL_GSTRINGS for the stats string set.
func (h *Handle) statsNames(ifr *ifreq, n uint32) ([]string, error) {
	g, err := mapGuarded(gstringsHeader + ethGStringLen*int(n))
	if err != nil {
		return nil, err
	}
	defer g.unmap() //nolint:errcheck // munmap of our own mapping
	hdr := (*[3]uint32)(unsafe.Pointer(&g.buf[0]))
	hdr[0], hdr[1], hdr[2] = unix.ETHTOOL_GSTRINGS, ethSSStats, n
	req := *ifr
	req.data = unsafe.Pointer(&g.buf[0])
	if err := ioctl(h.ioctlFD, &req); err != nil {
		if errors.Is(err, unix.EFAULT) {
			return nil, ErrCountChanged
		}
		return nil, err
	}
	if hdr[2] != n {
		return nil, ErrCountChanged
	}
	names := make([]string, n)
	data := g.buf[gstringsHeader:]
	for i := range names {
		names[i] = cString(data[i*ethGStringLen : (i+1)*ethGStringLen])
	}
	return names, nil
}

// Read fetches all values with one ETHTOOL_GSTATS ioctl into the buffer
// allocated by OpenStats and returns it; the slice is overwritten by the next
// Read. The returned count is checked against the cached one: recent kernels
// answer a different count with n_stats = 0 and write nothing, older ones with
// the new count (their excess writes fault on the guard page, EFAULT); both
// are ErrCountChanged. Read does not allocate.
func (h *Handle) Read(s *Stats) ([]uint64, error) {
	s.header[0], s.header[1] = unix.ETHTOOL_GSTATS, s.n
	if err := ioctl(h.ioctlFD, &s.ifr); err != nil {
		if err == unix.EFAULT { //nolint:errorlint // ioctl returns a bare Errno
			return nil, ErrCountChanged
		}
		return nil, err
	}
	if s.header[1] != s.n {
		return nil, ErrCountChanged
	}
	return s.values, nil
}

// Close releases the value buffer. The Stats must not be used afterwards.
func (s *Stats) Close() error {
	s.header, s.values, s.ifr.data = nil, nil, nil
	return s.mem.unmap()
}
