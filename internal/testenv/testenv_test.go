// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testenv

import (
	"fmt"
	"strings"
	"testing"
)

func TestInCIParsesLikeParseBool(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"true", true}, {"1", true}, {"TRUE", true}, {"t", true},
		{"false", false}, {"0", false}, {"", false}, {"yes", false},
	} {
		t.Run("CI="+tt.value, func(t *testing.T) {
			t.Setenv("CI", tt.value)
			if got := InCI(); got != tt.want {
				t.Errorf("InCI() = %v, want %v", got, tt.want)
			}
		})
	}
}

// recordingTB records how end finishes a test instead of finishing it.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recordingTB) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestUnavailableSkipsOutsideCIFailsInCI(t *testing.T) {
	for _, tt := range []struct {
		ci          string
		wantSkipped bool
	}{{"", true}, {"false", true}, {"true", false}, {"1", false}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			tb := &recordingTB{}
			Unavailable(tb, "%s not found: apt-get install %s", "promtool", "prometheus")
			const msg = "promtool not found: apt-get install prometheus"
			switch {
			case tt.wantSkipped && (tb.failed != "" || tb.skipped != "skipping: "+msg):
				t.Errorf("want a skip with %q, got skipped %q failed %q", msg, tb.skipped, tb.failed)
			case !tt.wantSkipped && (tb.skipped != "" || !strings.HasPrefix(tb.failed, msg)):
				t.Errorf("want a failure starting %q, got skipped %q failed %q", msg, tb.skipped, tb.failed)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	t.Setenv("CI", "true")
	if p := LookPath(t, "sh", "dash"); p == "" {
		t.Error("LookPath(sh) returned no path")
	}
	tb := &recordingTB{}
	LookPath(tb, "/nonexistent/otelcol-sre-no-such-tool", "no-such-package")
	if tb.failed == "" {
		t.Error("a missing executable under CI=true did not fail")
	}
}
