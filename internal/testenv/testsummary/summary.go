// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is the part of a `go test -json` (test2json) event the summary reads.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is a skipped test and the last line it logged, which says why.
type skip struct{ pkg, test, reason string }

// summary is what a whole `go test -json` stream amounts to.
type summary struct {
	passed, failed, skipped int
	packages, failedPkgs    int // a package that failed to build counts as failed too
	skips                   []skip
}

// ok reports whether nothing failed: no test, no package, no build.
func (s summary) ok() bool { return s.failed == 0 && s.failedPkgs == 0 }

// summarize reads a `go test -json` stream from r and writes to w what a plain `go test` would print
// (one line per package, the whole output of each failing test, build errors, anything that is not JSON),
// then returns the counts. A passing test's output is dropped.
func summarize(r io.Reader, w io.Writer) (summary, error) {
	var s summary
	buffered := map[string][]string{} // package + test → output lines so far
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
			fmt.Fprintln(w, line) // not an event: go vet or build chatter, keep it visible
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" && e.Output != "FAIL\n" {
				fmt.Fprint(w, e.Output) // "ok  pkg 1.2s", "FAIL pkg", "?  pkg [no test files]", a panic
			}
		case e.Test == "" && (e.Action == "pass" || e.Action == "skip"):
			s.packages++
		case e.Test == "" && e.Action == "fail":
			s.packages++
			s.failedPkgs++
		case e.Action == "output":
			buffered[key] = append(buffered[key], e.Output)
		case e.Action == "pass":
			s.passed++
			delete(buffered, key)
		case e.Action == "fail":
			s.failed++
			fmt.Fprint(w, strings.Join(buffered[key], ""))
			delete(buffered, key)
		case e.Action == "skip":
			s.skipped++
			s.skips = append(s.skips, skip{e.Package, e.Test, reason(buffered[key])})
			delete(buffered, key)
		}
	}
	sort.Slice(s.skips, func(i, j int) bool {
		if s.skips[i].pkg != s.skips[j].pkg {
			return s.skips[i].pkg < s.skips[j].pkg
		}
		return s.skips[i].test < s.skips[j].test
	})
	return s, sc.Err()
}

// reason is the last line a skipped test logged before "--- SKIP", without its file:line prefix.
func reason(out []string) string {
	for i := len(out) - 1; i >= 0; i-- {
		l := strings.TrimSpace(out[i])
		if l == "" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "=== ") {
			continue
		}
		if where, msg, found := strings.Cut(l, ": "); found && strings.Contains(where, ".go:") {
			return msg
		}
		return l
	}
	return "(no reason logged)"
}

// report writes the counts and every skipped test with its reason.
func report(w io.Writer, s summary) {
	fmt.Fprintf(w, "\ntests (with subtests): %d passed, %d failed, %d skipped, in %d packages (%d failed)\n",
		s.passed, s.failed, s.skipped, s.packages, s.failedPkgs)
	for _, sk := range s.skips {
		fmt.Fprintf(w, "  skipped %s %s: %s\n", sk.pkg, sk.test, sk.reason)
	}
}
