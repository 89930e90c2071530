// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs Debian's prometheus-alertmanager on 127.0.0.1
// with config under the route prefix (AMP's is
// /workspaces/ID/alertmanager) and returns its base URL.
func startAlertmanager(t *testing.T, config, prefix string) string {
	t.Helper()
	bin := testenv.LookPath(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(config), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.path="+dir, "--web.listen-address="+addr,
		"--cluster.listen-address=", "--log.level=warn", "--web.route-prefix="+cmp.Or(prefix, "/"))
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.String())
		}
	})
	base := "http://" + addr + prefix
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "alertmanager did not become ready")
	return base
}

// gettableAlert is the part of Alertmanager's GET /api/v2/alerts answer the
// test reads.
type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func activeAlerts(t *testing.T, base string) []gettableAlert {
	resp, err := http.Get(base + "/api/v2/alerts?active=true&silenced=false&inhibited=false")
	require.NoError(t, err)
	defer resp.Body.Close()
	var alerts []gettableAlert
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&alerts))
	return alerts
}

// amWebhook is Alertmanager's webhook notification (version 4).
type amWebhook struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// TestAlertmanager: the incident is an active alert while open and resolved
// after; a route that matches the exporter's labels delivers it to a webhook
// receiver, and an incident of another namespace does not take that route.
func TestAlertmanager(t *testing.T) {
	hook := newRecorder(t, nil)
	base := startAlertmanager(t, fmt.Sprintf(`
route:
  receiver: blackhole
  group_by: [alertname, k8s_namespace_name]
  group_wait: 100ms
  group_interval: 200ms
  repeat_interval: 1h
  routes:
    - receiver: shop-team
      matchers: ['alertname="PodIncident"', 'k8s_namespace_name="shop"', 'k8s_deployment_name="web"', 'severity="warning"']
receivers:
  - name: blackhole
  - name: shop-team
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook.srv.URL), "")

	am := &AlertmanagerConfig{ResendInterval: 200 * time.Millisecond, Labels: map[string]string{"severity": "warning"}}
	am.Endpoint = base
	cfg := fastConfig(SinkConfig{Name: "am", Alertmanager: am})
	cfg.Cluster = "test"
	cfg.Resolve.HoldDown = 2 * time.Second
	h := start(t, cfg, componenttest.NewNopHost())

	web, other := stuckPod("shop", "web", "web-1", "ImagePullBackOff"), stuckPod("other", "web", "web-9", "ImagePullBackOff")
	var firing gettableAlert
	require.Eventually(t, func() bool {
		h.consume(t, web, other) // the receiver reports every scrape
		for _, a := range activeAlerts(t, base) {
			if a.Labels["k8s_namespace_name"] == "shop" {
				firing = a
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond)
	assert.Equal(t, map[string]string{
		"alertname": "PodIncident", "cluster": "test", "severity": "warning", "k8s_namespace_name": "shop",
		"k8s_deployment_name": "web", "k8s_pod_diagnosis_reason": "ImagePullBackOff", "k8s_pod_diagnosis_container": "app",
	}, firing.Labels)
	assert.Equal(t, web.message, firing.Annotations["message"])
	assert.Equal(t, web.hint, firing.Annotations["hint"])
	assert.Equal(t, "active", firing.Status.State)
	assert.True(t, firing.EndsAt.After(time.Now()), "endsAt lies ahead while firing")

	// The shop route's receiver is notified, with the incident firing.
	require.Eventually(t, func() bool { return hook.count() > 0 }, 10*time.Second, 50*time.Millisecond)

	// Stop reporting the pods: after the hold-down both incidents resolve.
	require.Eventually(t, func() bool {
		for _, a := range activeAlerts(t, base) {
			if a.Labels["alertname"] == alertName {
				return false
			}
		}
		return true
	}, 15*time.Second, 100*time.Millisecond, "alerts still active after the hold-down")
	var notes []amWebhook
	require.Eventually(t, func() bool {
		notes = nil
		hook.mu.Lock()
		defer hook.mu.Unlock()
		for _, b := range hook.bodies {
			var n amWebhook
			require.NoError(t, json.Unmarshal(b, &n))
			notes = append(notes, n)
		}
		return len(notes) > 0 && notes[len(notes)-1].Status == "resolved"
	}, 10*time.Second, 50*time.Millisecond, "the webhook receiver never got the resolution")
	for _, n := range notes {
		for _, a := range n.Alerts {
			assert.Equal(t, "shop", a.Labels["k8s_namespace_name"], "only the shop incident takes the shop route")
		}
	}
	sent := h.counter(t, "otelcol_exporter_pod_incident_notifications_sent")
	assert.Equal(t, int64(2), sent["kind=opened,sink=am"])
	assert.Equal(t, int64(2), sent["kind=resolved,sink=am"])
	assert.Positive(t, sent["kind=refresh,sink=am"], "firing alerts are re-sent every resend_interval")
	assert.Empty(t, h.counter(t, "otelcol_exporter_pod_incident_notifications_failed"))
}
