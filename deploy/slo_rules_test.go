// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"testing"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/slorules"
)

// sloEventsRules is generated from the gateway's SLOs: `go generate ./deploy`.
const (
	sloEventsRules  = "rules/slo-events.yaml"
	sloEventsSource = "configs/gateway-slo.yaml"
)

// The rule-computed SLO rules are those `slo-backtest rules` writes for the SLOs the gateway computes
// in-stream: a changed SLO changes both.
func TestSLOEventsRulesFollowGatewaySLOs(t *testing.T) {
	cfg, err := sloprocessor.LoadConfigFile(sloEventsSource, "slo")
	if err != nil {
		t.Fatal(err)
	}
	f, notes, err := slorules.Generate(cfg, slorules.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want, err := slorules.Marshal(f, sloEventsSource, notes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(sloEventsRules)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the rules generated from %s: run go generate ./deploy", sloEventsRules, sloEventsSource)
	}
}
