// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"strings"
	"testing"
)

// testdata/stream.json is `go test -json ./...` of a module with a package that does not build and a
// package with a passing test (and subtest), a skipped and a failing test.
func TestSummarize(t *testing.T) {
	f, err := os.Open("testdata/stream.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	s, err := summarize(f, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := summary{passed: 2, failed: 1, skipped: 1, packages: 2, failedPkgs: 2,
		skips: []skip{{"example.com/a", "TestSkip", "skipping: no thing"}}}
	if s.passed != want.passed || s.failed != want.failed || s.skipped != want.skipped ||
		s.packages != want.packages || s.failedPkgs != want.failedPkgs ||
		len(s.skips) != 1 || s.skips[0] != want.skips[0] {
		t.Errorf("summary = %+v, want %+v", s, want)
	}
	if s.ok() {
		t.Error("ok() with failures")
	}
	printed := out.String()
	for _, must := range []string{
		"b/b.go:2:12: undefined: undefined", // the build error
		"FAIL\texample.com/a/b [build failed]",
		"    a_test.go:5: context", // the failing test's whole output
		"--- FAIL: TestFail",
		"FAIL\texample.com/a\t0.358s",
	} {
		if !strings.Contains(printed, must) {
			t.Errorf("output lacks %q:\n%s", must, printed)
		}
	}
	for _, mustNot := range []string{"=== RUN   TestOK", "some log", "--- PASS"} {
		if strings.Contains(printed, mustNot) {
			t.Errorf("output has %q (a passing or skipped test's output):\n%s", mustNot, printed)
		}
	}
}

func TestSummarizeAllPass(t *testing.T) {
	stream := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
not json: kept
`
	var out strings.Builder
	s, err := summarize(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !s.ok() || s.passed != 1 || s.packages != 1 {
		t.Errorf("summary = %+v", s)
	}
	if got, want := out.String(), "ok  \tp\t0.1s\nnot json: kept\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestReason(t *testing.T) {
	for _, tt := range []struct {
		out  []string
		want string
	}{
		{[]string{"=== RUN   T\n", "    x_test.go:9: skipping: no root\n", "--- SKIP: T (0.00s)\n"}, "skipping: no root"},
		{[]string{"=== RUN   T\n", "plain line: with colon\n", "--- SKIP: T (0.00s)\n"}, "plain line: with colon"},
		{[]string{"=== RUN   T\n", "--- SKIP: T (0.00s)\n"}, "(no reason logged)"},
	} {
		if got := reason(tt.out); got != tt.want {
			t.Errorf("reason(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}
