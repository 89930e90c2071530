// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package ethtoolreceiver

import (
	"fmt"
	"runtime"
	"syscall"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

// unsupportedOS refuses to start: SIOCETHTOOL and network namespaces are
// Linux-only.
type unsupportedOS struct{}

func newPlatformOS() netOS { return unsupportedOS{} }

var errUnsupported = fmt.Errorf("the ethtool receiver reads NIC statistics through the Linux SIOCETHTOOL ioctl; %s is an unsupported platform", runtime.GOOS)

func (unsupportedOS) identify(string) (nic.NamespaceID, error) {
	return nic.NamespaceID{}, errUnsupported
}
func (unsupportedOS) open(string) (netnsOS, error) { return nil, errUnsupported }
func (unsupportedOS) hasDevice(string) bool        { return false }

func errnoName(e syscall.Errno) string { return e.Error() }
