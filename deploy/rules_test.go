// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/deploy/internal/gen"
	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/slorules"
)

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out)
}

type ruleFile = slorules.File

func ruleFiles(t *testing.T) map[string]ruleFile {
	t.Helper()
	names, err := gen.RuleFiles(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no rule files in rules/")
	}
	out := map[string]ruleFile{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.UnmarshalStrict(b, &rf); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out[n] = rf
	}
	return out
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool", "prometheus")
	names, err := gen.RuleFiles(".")
	if err != nil {
		t.Fatal(err)
	}
	run(t, promtool, append([]string{"check", "rules"}, names...)...)
}

func TestPromtoolUnitTests(t *testing.T) {
	promtool := testenv.LookPath(t, "promtool", "prometheus")
	tests, err := filepath.Glob("rules/tests/*.test.yaml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rules/tests/*.test.yaml (%v)", err)
	}
	run(t, promtool, append([]string{"test", "rules"}, tests...)...)
}

// Every rule file has a unit test file, and every alert is expected to fire in at least one case.
func TestEveryAlertHasAFiringUnitTest(t *testing.T) {
	type unitTests struct {
		RuleFiles []string `json:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	for name, rf := range ruleFiles(t) {
		base := strings.TrimSuffix(filepath.Base(name), ".yaml")
		testFile := filepath.Join("rules", "tests", base+".test.yaml")
		b, err := os.ReadFile(testFile)
		if err != nil {
			t.Errorf("%s has no unit tests: %v", name, err)
			continue
		}
		var ut unitTests
		if err := yaml.Unmarshal(b, &ut); err != nil {
			t.Fatalf("%s: %v", testFile, err)
		}
		if !slices.Equal(ut.RuleFiles, []string{"../" + base + ".yaml"}) {
			t.Errorf("%s: rule_files %v, want [../%s.yaml]", testFile, ut.RuleFiles, base)
		}
		fires := map[string]bool{}
		for _, tc := range ut.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				}
			}
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" && !fires[r.Alert] {
					t.Errorf("%s: alert %s is never expected to fire in %s", name, r.Alert, testFile)
				}
			}
		}
	}
}

// watchdogAlert always fires; the alert manager routes it by name to the heartbeat topic, not by severity.
const watchdogAlert = "Watchdog"

// Every alert has a severity the alert manager routes (the Watchdog: none), a summary and a description.
func TestAlertsAreRoutable(t *testing.T) {
	severities := []string{"page", "ticket", "warning"}
	for name, rf := range ruleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				if r.Alert == watchdogAlert {
					if r.Labels["severity"] != "none" || r.Expr != "vector(1)" {
						t.Errorf("%s %s: must be vector(1) with severity none (it is routed by name)", name, r.Alert)
					}
				} else if !slices.Contains(severities, r.Labels["severity"]) {
					t.Errorf("%s %s: severity %q, want one of %v", name, r.Alert, r.Labels["severity"], severities)
				}
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("%s %s: summary and description annotations required", name, r.Alert)
				}
			}
		}
	}
}

// The ACK resources carry the rule files and the alert manager definition byte for byte, and the AMP
// workspace from settings.env.
func TestACKResourcesMatchPlainFiles(t *testing.T) {
	ws := settingsEnv(t)["AMP_WORKSPACE_ID"]
	names, err := gen.RuleFiles(".")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		want[gen.RuleGroupsNamespaceName(n)] = string(b)
	}
	// The overlay ships one of the two ENA forms (they alert on the same events), and one of the two SLO
	// forms: the rule-computed alerts (slo-events.yaml).
	delete(want, gen.RuleGroupsNamespaceName("rules/ena-allowances-compat.yaml"))
	delete(want, gen.RuleGroupsNamespaceName("rules/slo-burn-rate.yaml"))
	am, err := os.ReadFile(gen.AlertManagerFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var amGot *AlertManagerDefinition
	for _, o := range rendered(t)["amp-rules"] {
		obj, err := decodeStrict(o)
		if err != nil {
			t.Fatal(err)
		}
		switch v := obj.(type) {
		case *RuleGroupsNamespace:
			if v.Spec.Name != v.Name || v.Spec.WorkspaceID != ws {
				t.Errorf("RuleGroupsNamespace %s: spec.name %q, workspaceID %q (want %q)", v.Name, v.Spec.Name, v.Spec.WorkspaceID, ws)
			}
			got[v.Name] = v.Spec.Configuration
		case *AlertManagerDefinition:
			amGot = v
		}
	}
	if len(got) != len(want) {
		t.Errorf("RuleGroupsNamespaces %d, rule files %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("RuleGroupsNamespace %s: configuration differs from its rule file", k)
		}
	}
	if amGot == nil || amGot.Spec.Configuration != string(am) || amGot.Spec.WorkspaceID != ws {
		t.Errorf("AlertManagerDefinition must carry %s verbatim and workspace %s", gen.AlertManagerFile, ws)
	}
}

// AMP's definition wraps a standard Alertmanager configuration: amtool validates it (SNS receivers,
// routes, inhibit rules) and every severity the rules use reaches a receiver.
func TestAlertManagerDefinition(t *testing.T) {
	b, err := os.ReadFile(gen.AlertManagerFile)
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		AlertmanagerConfig string `json:"alertmanager_config"`
	}
	if err := yaml.UnmarshalStrict(b, &def); err != nil {
		t.Fatalf("%s: %v (AMP accepts alertmanager_config and template_files only)", gen.AlertManagerFile, err)
	}
	var cfg struct {
		Route struct {
			Receiver string `json:"receiver"`
			Routes   []struct {
				Receiver       string   `json:"receiver"`
				Matchers       []string `json:"matchers"`
				RepeatInterval string   `json:"repeat_interval"`
			} `json:"routes"`
		} `json:"route"`
		Receivers []struct {
			Name       string           `json:"name"`
			SNSConfigs []map[string]any `json:"sns_configs"`
		} `json:"receivers"`
	}
	if err := yaml.Unmarshal([]byte(def.AlertmanagerConfig), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Receivers {
		if len(r.SNSConfigs) == 0 {
			t.Errorf("receiver %s: AMP delivers to SNS only", r.Name)
		}
	}
	paged, heartbeat := false, false
	for i, r := range cfg.Route.Routes {
		paged = paged || (slices.Contains(r.Matchers, `severity="page"`) && r.Receiver == "sns-page")
		// First, so no other route catches it; renewed often enough for a 15-minute alarm on the topic.
		heartbeat = heartbeat || (i == 0 && slices.Equal(r.Matchers, []string{`alertname="` + watchdogAlert + `"`}) &&
			r.Receiver == "sns-heartbeat" && r.RepeatInterval == "5m")
	}
	if !paged || cfg.Route.Receiver == "" {
		t.Errorf("severity=page must route to sns-page and everything else to a default receiver")
	}
	if !heartbeat {
		t.Errorf("the first route must send alertname=%q to sns-heartbeat every 5m (dead man's switch)", watchdogAlert)
	}

	amtool := testenv.LookPath(t, "amtool", "prometheus-alertmanager")
	f := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(f, []byte(def.AlertmanagerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, amtool, "check-config", f)
}
