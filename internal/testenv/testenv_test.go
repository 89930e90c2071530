// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testenv

import (
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

func TestUnavailableSkipsOutsideCIFailsInCI(t *testing.T) {
	for _, tt := range []struct {
		ci          string
		wantSkipped bool
	}{{"", true}, {"false", true}, {"true", false}, {"1", false}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			tb := &Recorder{}
			Unavailable(tb, "%s not found: apt-get install %s", "promtool", "prometheus")
			const msg = "promtool not found: apt-get install prometheus"
			switch {
			case tt.wantSkipped && (tb.FatalMessage != "" || tb.SkipMessage != "skipping: "+msg):
				t.Errorf("want a skip with %q, got skipped %q failed %q", msg, tb.SkipMessage, tb.FatalMessage)
			case !tt.wantSkipped && (tb.SkipMessage != "" || !strings.HasPrefix(tb.FatalMessage, msg)):
				t.Errorf("want a failure starting %q, got skipped %q failed %q", msg, tb.SkipMessage, tb.FatalMessage)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	t.Setenv("CI", "true")
	if p := LookPath(t, "sh", "dash"); p == "" {
		t.Error("LookPath(sh) returned no path")
	}
	tb := &Recorder{}
	LookPath(tb, "/nonexistent/otelcol-sre-no-such-tool", "no-such-package")
	if tb.FatalMessage == "" {
		t.Error("a missing executable under CI=true did not fail")
	}
}
