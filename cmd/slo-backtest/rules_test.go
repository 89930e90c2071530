// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// TestRulesGolden: the rules generated from testdata/slo.yaml and
// testdata/timeslices.yaml are testdata/rules/slo.rules.yaml and
// timeslices.rules.yaml (regenerate with -update).
func TestRulesGolden(t *testing.T) {
	for name, wantStderr := range map[string]string{
		"slo":        "note: checkout-availability: the calendar time window \"1w\" has no PromQL range; its budget stays in-stream (slo_error_budget_remaining)\n",
		"timeslices": "",
	} {
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join("testdata", "rules", name+".rules.yaml")
			out, stderr, err := runCLI(t, "rules", "--config", "testdata/"+name+".yaml")
			require.NoError(t, err)
			assert.Equal(t, wantStderr, stderr)
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), out)
		})
	}
}

// TestRulesPromtool: promtool accepts the generated rules, and in its unit
// tests (testdata/rules/*.test.yaml) the page and ticket alerts fire on
// scripted burns (across a replica change; on bad slices) and stay quiet
// below min_events, after recovery and on a look-alike (one minute of many
// errors is one bad slice).
func TestRulesPromtool(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool", "prometheus")
	for _, name := range []string{"slo", "timeslices"} {
		for _, args := range [][]string{
			{"check", "rules", name + ".rules.yaml"},
			{"test", "rules", name + ".test.yaml"},
		} {
			cmd := exec.Command(promtool, args...)
			cmd.Dir = filepath.Join("testdata", "rules")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "promtool %v:\n%s", args, out)
		}
	}
}

func TestRulesErrors(t *testing.T) {
	collector := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(collector, []byte("processors:\n  slo/checkout:\n    slos: []\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"rules"}, "rules: --config is required"},
		{"collector config without the processor", []string{"rules", "--config", collector},
			"no processors.slo — name the slo processor with --processor"},
		{"the processor's config is checked", []string{"rules", "--config", collector, "--processor", "slo/checkout"},
			"slos: at least one SLO is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, tt.args...)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// A Sloth spec goes through convert to the processor's configuration and
// straight to rules.
func TestConvertAndRulesFromSloth(t *testing.T) {
	out, _, err := runCLI(t, "convert", "--input", "testdata/sloth.yaml")
	require.NoError(t, err)
	assert.Contains(t, out, "name: checkout-availability")
	assert.Contains(t, out, `condition: IsMatch(attributes["code"], "^(?:5..)$")`)

	rules, _, err := runCLI(t, "rules", "--config", "testdata/sloth.yaml")
	require.NoError(t, err)
	assert.Contains(t, rules, `increase(slo_events{slo_name="checkout-availability", slo_outcome="bad"}[30d])`)
	assert.Contains(t, rules, "alert: SLOEventsBurnPage")

	bad := filepath.Join(t.TempDir(), "sloth.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("version: prometheus/v1\nservice: s\nslos:\n  - name: r\n    objective: 99\n    sli:\n      raw:\n        error_ratio_query: x\n"), 0o600))
	_, _, err = runCLI(t, "rules", "--config", bad)
	require.ErrorContains(t, err, "slos[0] (r): sli.raw.error_ratio_query: a ratio of rates has no event counts")
	_, _, err = runCLI(t, "convert", "--input", bad)
	require.ErrorContains(t, err, "not converted")
}
