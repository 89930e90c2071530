// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package testenv is the one rule for tests that need something the machine may lack (root, a binary,
// a Debian package, the test control plane): outside CI such a test skips with a message saying how to
// get what is missing; under CI (CI set to a true value, as strconv.ParseBool reads it: 1, t, true, ...)
// it fails, because CI installs everything and a skip there would hide a test that did not run.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether the tests run in CI: the environment variable CI parses as true with
// strconv.ParseBool ("1", "t", "true", "TRUE", ...). Anything else, including unset, is false.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Unavailable ends tb because a prerequisite is missing: tb skips with the message, or fails under CI.
// The message should say what is missing and how to get it.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	end(tb, InCI(), fmt.Sprintf(format, args...))
}

func end(tb testing.TB, ci bool, msg string) {
	tb.Helper()
	if ci {
		tb.Fatalf("%s (CI is set: a missing prerequisite is a failure, not a skip)", msg)
		return
	}
	tb.Skipf("skipping: %s", msg)
}

// NeedRoot ends tb as Unavailable unless the test runs as root; what says what root is needed for.
func NeedRoot(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Unavailable(tb, "needs root to %s", what)
	}
}

// LookPath returns the path of the executable name (a command on PATH, or an absolute path) and ends tb
// as Unavailable when there is none, naming the Debian package that provides it.
func LookPath(tb testing.TB, name, debianPackage string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(tb, "%s not found: apt-get install %s", name, debianPackage)
	}
	return p
}
