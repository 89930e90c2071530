// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	incidentsConfig      = "incidents.yaml"
	incidentsSlackConfig = "incidents-slack.yaml"
	slackWebhookEnv      = "SLACK_WEBHOOK_URL"
)

// The collectors that load incidents.yaml notify through one leader: its receiver reports only while its
// k8s_leader_elector holds the lease, the extensions it needs are started (service.extensions), and the
// overlay grants the Lease. Gateway and agent-direct (with and without Slack) are the notifying modes.
func TestIncidentsAreLeaderElected(t *testing.T) {
	recv := readConfig(t, incidentsConfig)["receivers"].(map[string]any)["k8spoddiagnostics/incidents"].(map[string]any)
	if recv["pods"] != "all" || recv["k8s_leader_elector"] != "k8s_leader_elector" {
		t.Errorf("%s: k8spoddiagnostics/incidents %v: want pods: all behind k8s_leader_elector", incidentsConfig, recv)
	}
	overlays := map[string]bool{}
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			set := configArgs(c.Args)
			if !slices.Contains(set, incidentsConfig) {
				continue
			}
			overlays[p.overlay] = true
			where := p.overlay + " " + p.workload
			refs := pipelineRefs(t, set)
			for _, ext := range []string{"k8s_leader_elector", "file_storage/incidents", "sigv4auth/amp"} {
				if !slices.Contains(refs, "extensions/"+ext) {
					t.Errorf("%s: service.extensions of %v lacks %s, which incidents.yaml uses", where, set, ext)
				}
			}
			granted := false
			for key, rules := range wantRBAC {
				if strings.HasPrefix(key, overlayOf(p.overlay)+"/Role/") && reflect.DeepEqual(rules, leaderElectionRules) {
					granted = true
				}
			}
			if !granted {
				t.Errorf("%s: no leader-election Role for its k8s_leader_elector", where)
			}
		}
	}
	for _, want := range []string{"gateway", "agent-direct", "gateway-incidents-slack", "agent-direct-incidents-slack"} {
		if !overlays[want] {
			t.Errorf("overlay %s runs no collector with %s", want, incidentsConfig)
		}
	}
}

// The Slack option adds exactly one slack sink to incidents.yaml's sinks (a list, so incidents-slack.yaml
// restates them: they must not drift apart).
func TestIncidentsSlackAddsOneSink(t *testing.T) {
	sinks := func(file string) []any {
		return readConfig(t, file)["exporters"].(map[string]any)["pod_incident"].(map[string]any)["sinks"].([]any)
	}
	base, slack := sinks(incidentsConfig), sinks(incidentsSlackConfig)
	if len(slack) != len(base)+1 || !reflect.DeepEqual(slack[:len(base)], base) {
		t.Fatalf("%s sinks %v: want %s's %v plus one slack sink", incidentsSlackConfig, slack, incidentsConfig, base)
	}
	added := slack[len(base)].(map[string]any)["slack"].(map[string]any)
	if added["webhook_url"] != "${env:"+slackWebhookEnv+"}" {
		t.Errorf("slack webhook_url %v: want ${env:%s} (from the Secret)", added["webhook_url"], slackWebhookEnv)
	}
}

// The Slack webhook URL is a secret: every container that loads incidents-slack.yaml takes it from a
// Secret, and no ConfigMap (settings or configs) of any overlay defines or contains it.
func TestSlackWebhookComesFromASecret(t *testing.T) {
	if _, ok := settingsEnv(t)[slackWebhookEnv]; ok {
		t.Errorf("settings.env defines %s: it goes into a ConfigMap; use the Secret otelcol-sre-slack", slackWebhookEnv)
	}
	users := 0
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			if !slices.Contains(configArgs(c.Args), incidentsSlackConfig) {
				continue
			}
			users++
			fromSecret := false
			for _, e := range c.Env {
				if e.Name == slackWebhookEnv {
					fromSecret = e.Value == "" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
				}
			}
			if !fromSecret {
				t.Errorf("%s %s: %s must come from a secretKeyRef", p.overlay, p.workload, slackWebhookEnv)
			}
		}
	}
	if users == 0 {
		t.Error("no container loads incidents-slack.yaml: the incidents-slack component is untested")
	}
	for name, objs := range rendered(t) {
		for _, o := range objs {
			if o.GetKind() != "ConfigMap" {
				continue
			}
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			for k, v := range data {
				if k == slackWebhookEnv || strings.Contains(v, "hooks.slack.com/services/T") {
					t.Errorf("overlay %s ConfigMap %s key %s holds a Slack webhook", name, o.GetName(), k)
				}
			}
		}
	}
}
