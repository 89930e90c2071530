// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package nic

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Handle holds the sockets of one network namespace: one for SIOCETHTOOL and
// one rtnetlink socket to list links. Both are created inside the namespace
// and stay bound to it; no later call switches namespaces. A Handle is not
// safe for concurrent use.
type Handle struct {
	ioctlFD int
	nlFD    int
	nlSeq   uint32
	nlReq   [nlRequestLen]byte
	nlBuf   []byte
	links   []Link
}

// Open creates the sockets of the network namespace at path, entering it on
// a locked OS thread (see InNamespace); an empty path uses the caller's own
// namespace and needs no privilege.
func Open(path string) (*Handle, error) {
	h := &Handle{ioctlFD: -1, nlFD: -1}
	err := InNamespace(path, func() error {
		var err error
		if h.ioctlFD, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return fmt.Errorf("create ethtool socket: %w", err)
		}
		if h.nlFD, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("create rtnetlink socket: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, h.Close())
	}
	if err := unix.Bind(h.nlFD, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, errors.Join(fmt.Errorf("bind rtnetlink socket: %w", err), h.Close())
	}
	h.nlBuf = make([]byte, nlBufLen)
	return h, nil
}

// Close closes the namespace's sockets.
func (h *Handle) Close() error {
	var errs []error
	for _, fd := range []*int{&h.ioctlFD, &h.nlFD} {
		if *fd >= 0 {
			errs = append(errs, unix.Close(*fd))
			*fd = -1
		}
	}
	return errors.Join(errs...)
}

// Link is one network interface as rtnetlink lists it.
type Link struct {
	Index     int32
	Flags     uint32 // IFF_* flags
	OperState uint8  // IF_OPER_* (RFC 2863)
	// HasParent is set when the device has a parent device (IFLA_PARENT_DEV_NAME,
	// Linux 5.15+): false for devices under /sys/devices/virtual and for every
	// device on older kernels.
	HasParent bool
	name      [unix.IFNAMSIZ]byte
	nameLen   uint8
}

// Name returns the interface name (allocates).
func (l *Link) Name() string { return string(l.name[:l.nameLen]) }

// NameIs reports whether the interface is called name, without allocating.
func (l *Link) NameIs(name string) bool { return string(l.name[:l.nameLen]) == name }

// Up reports whether the operational state is IF_OPER_UP.
func (l *Link) Up() bool { return l.OperState == ifOperUp }

// Loopback reports IFF_LOOPBACK.
func (l *Link) Loopback() bool { return l.Flags&unix.IFF_LOOPBACK != 0 }

const (
	ifOperUp = 6 // IF_OPER_UP, RFC 2863 "up"
	nlBufLen = 64 << 10
	// nlmsghdr + ifinfomsg + IFLA_EXT_MASK attribute (4-byte header, u32).
	nlRequestLen = unix.SizeofNlMsghdr + unix.SizeofIfInfomsg + 8
	// rtextFilterSkipStats (RTEXT_FILTER_SKIP_STATS) leaves the large
	// IFLA_STATS* attributes out of the dump.
	rtextFilterSkipStats = 1 << 3
)

var nativeEndian = binary.NativeEndian

// Links lists the namespace's interfaces with one RTM_GETLINK dump. The
// returned slice is reused by the next call. Steady state allocates nothing.
func (h *Handle) Links() ([]Link, error) {
	h.nlSeq++
	req := h.nlReq[:]
	nativeEndian.PutUint32(req[0:], nlRequestLen)
	nativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
	nativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	nativeEndian.PutUint32(req[8:], h.nlSeq)
	nativeEndian.PutUint32(req[12:], 0)
	clear(req[unix.SizeofNlMsghdr : unix.SizeofNlMsghdr+unix.SizeofIfInfomsg])
	req[unix.SizeofNlMsghdr] = unix.AF_UNSPEC
	attr := req[unix.SizeofNlMsghdr+unix.SizeofIfInfomsg:]
	nativeEndian.PutUint16(attr[0:], 8)
	nativeEndian.PutUint16(attr[2:], unix.IFLA_EXT_MASK)
	nativeEndian.PutUint32(attr[4:], rtextFilterSkipStats)
	if _, err := unix.Write(h.nlFD, req); err != nil {
		return nil, fmt.Errorf("send RTM_GETLINK: %w", err)
	}

	h.links = h.links[:0]
	for {
		n, err := unix.Read(h.nlFD, h.nlBuf)
		if err != nil {
			return nil, fmt.Errorf("receive RTM_GETLINK: %w", err)
		}
		done, err := h.parseLinks(h.nlBuf[:n])
		if err != nil || done {
			return h.links, err
		}
	}
}

// parseLinks appends the RTM_NEWLINK messages of one datagram; done is set by
// NLMSG_DONE.
func (h *Handle) parseLinks(b []byte) (done bool, err error) {
	for len(b) >= unix.SizeofNlMsghdr {
		msgLen := int(nativeEndian.Uint32(b[0:]))
		if msgLen < unix.SizeofNlMsghdr || msgLen > len(b) {
			return true, fmt.Errorf("malformed rtnetlink message of %d bytes", msgLen)
		}
		msg := b[:msgLen]
		b = b[nlAlign(msgLen):]
		if nativeEndian.Uint32(msg[8:]) != h.nlSeq {
			continue
		}
		switch nativeEndian.Uint16(msg[4:]) {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(msg) >= unix.SizeofNlMsghdr+4 {
				if errno := int32(nativeEndian.Uint32(msg[unix.SizeofNlMsghdr:])); errno != 0 {
					return true, fmt.Errorf("RTM_GETLINK: %w", unix.Errno(-errno))
				}
			}
			return true, nil
		case unix.RTM_NEWLINK:
			if l, ok := parseLink(msg[unix.SizeofNlMsghdr:]); ok {
				h.links = append(h.links, l)
			}
		}
	}
	return false, nil
}

func parseLink(b []byte) (Link, bool) {
	if len(b) < unix.SizeofIfInfomsg {
		return Link{}, false
	}
	l := Link{
		Index: int32(nativeEndian.Uint32(b[4:])),
		Flags: nativeEndian.Uint32(b[8:]),
	}
	for attrs := b[unix.SizeofIfInfomsg:]; len(attrs) >= 4; {
		attrLen := int(nativeEndian.Uint16(attrs[0:]))
		if attrLen < 4 || attrLen > len(attrs) {
			break
		}
		payload := attrs[4:attrLen]
		switch nativeEndian.Uint16(attrs[2:]) &^ unix.NLA_F_NESTED {
		case unix.IFLA_IFNAME:
			for len(payload) > 0 && payload[len(payload)-1] == 0 {
				payload = payload[:len(payload)-1]
			}
			l.nameLen = uint8(copy(l.name[:unix.IFNAMSIZ-1], payload))
		case unix.IFLA_OPERSTATE:
			if len(payload) > 0 {
				l.OperState = payload[0]
			}
		case unix.IFLA_PARENT_DEV_NAME:
			l.HasParent = true
		}
		attrs = attrs[min(nlAlign(attrLen), len(attrs)):]
	}
	return l, l.nameLen > 0
}

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
