// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package nic

import (
	"errors"
	"fmt"
)

// The declarations of this file are platform-neutral: the receiver's scraper
// uses them on every platform, the ioctls behind them exist on Linux only.

// ErrCountChanged is returned when the kernel reports a number of statistics
// other than the cached one: the layout changed (channels, XDP, driver
// reload). The caller must open the interface's Stats again and must not use
// any value from this read.
var ErrCountChanged = errors.New("number of ethtool statistics changed")

// NamespaceID identifies a network namespace: device and inode of its nsfs
// file, the same for every path that refers to it.
type NamespaceID struct {
	Dev uint64
	Ino uint64
}

// String formats the ID like the kernel's readlink of /proc/<pid>/ns/net.
func (id NamespaceID) String() string {
	return fmt.Sprintf("net:[%d]", id.Ino)
}
