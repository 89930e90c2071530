// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Command testsummary turns the `go test -json ./...` stream of `make test` into what a plain `go test`
// prints (a line per package and the whole output of each failing test) followed by the counts — passed,
// failed, skipped — and every skipped test with its reason, so a run says how much it really tested.
// It exits 1 when a test, a package or a build failed.
package main

import (
	"fmt"
	"os"
)

func main() {
	s, err := summarize(os.Stdin, os.Stdout)
	report(os.Stdout, s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary: reading the test stream:", err)
		os.Exit(1)
	}
	if !s.ok() {
		os.Exit(1)
	}
}
