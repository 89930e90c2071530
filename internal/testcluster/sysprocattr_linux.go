// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import "syscall"

// sysProcAttr puts a component into its own process group (so stop can kill
// the group) and has the kernel kill it should the test binary die first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
