// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build unix && !linux

package testcluster

import "syscall"

// sysProcAttr puts a component into its own process group so stop can kill
// the group. Only Linux also kills it when the test binary dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
