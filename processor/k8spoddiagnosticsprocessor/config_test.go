// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/kubeclient"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/processor/k8spoddiagnosticsprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	defaults := createDefaultConfig().(*Config)
	agent := createDefaultConfig().(*Config)
	agent.APIConfig = kubeclient.APIConfig{AuthType: kubeclient.AuthTypeServiceAccount, KubeAPIQPS: 20, KubeAPIBurst: 40}
	agent.Filter = podcache.FilterConfig{NodeFromEnvVar: "K8S_NODE_NAME", Namespaces: []string{"shop", "payments"},
		Labels: "app.kubernetes.io/part-of=shop,tier!=batch"}
	agent.Events = podcache.EventsConfig{Enabled: true, Reasons: []string{"FailedMount", "FailedAttachVolume", "FailedCreatePodSandBox", "Unhealthy"},
		Window: 30 * time.Minute, MaxPerPod: 4}
	agent.Association = AssociationConfig{PodIPAttributes: []string{"k8s.pod.ip", "net.host.ip"}, FromConnection: true}
	agent.Attributes = AttributesConfig{
		Metrics: []string{"status", "stuck", "reason"},
		Logs:    []string{"status", "stuck", "reason", "container", "message", "since", "hint"},
		Traces:  []string{"reason", "stuck"},
	}
	agent.Thresholds = podcache.ThresholdsConfig{Scheduling: 2 * time.Minute, Startup: 10 * time.Minute, NotReady: 3 * time.Minute,
		Terminating: 5 * time.Minute, RestartWindow: time.Hour}
	agent.MaxMessageLength = 256
	agent.RediagnoseInterval = 15 * time.Second
	agent.WaitForSync = true
	agent.WaitForSyncTimeout = 20 * time.Second

	kubeconfig := createDefaultConfig().(*Config)
	kubeconfig.APIConfig = kubeclient.APIConfig{AuthType: kubeclient.AuthTypeKubeConfig, Context: "kind-dev"}
	kubeconfig.Events.Enabled = false

	tests := []struct {
		id       component.ID
		expected *Config
		err      string
	}{
		{id: component.NewID(metadata.Type), expected: defaults},
		{id: component.NewIDWithName(metadata.Type, "agent"), expected: agent},
		{id: component.NewIDWithName(metadata.Type, "kubeconfig"), expected: kubeconfig},
		{id: component.NewIDWithName(metadata.Type, "bad_attribute"), err: `attributes.metrics[1]: unknown attribute "k8s.pod.diagnosis.reason" — use the short name "reason"`},
		{id: component.NewIDWithName(metadata.Type, "bad_selector"), err: `filter.labels: "app in (web" is not a label selector`},
		{id: component.NewIDWithName(metadata.Type, "bad_namespace"), err: `filter.namespaces[0]: "Shop_Prod" is not a namespace name`},
		{id: component.NewIDWithName(metadata.Type, "bad_auth"), err: `auth_type: unknown value "tls"`},
		{id: component.NewIDWithName(metadata.Type, "bad_interval"), err: "rediagnose_interval: must be positive, got 0s"},
		{id: component.NewIDWithName(metadata.Type, "bad_env_var"), err: "filter.node_from_env_var: \"${env:K8S_NODE_NAME}\" must be the bare name"},
		{id: component.NewIDWithName(metadata.Type, "bad_threshold"), err: "thresholds.startup: must not be negative, got -5m0s"},
		{id: component.NewIDWithName(metadata.Type, "bad_wait"), err: "wait_for_sync_timeout: must be positive when wait_for_sync is true"},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestDefaultConfigKeepsHighCardinalityOffMetrics(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	assert.Empty(t, cfg.Attributes.Metrics, "no diagnosis label on metrics: it would cut their series at every state change")
	assert.Len(t, cfg.Attributes.Logs, len(attributeNames))
	assert.Len(t, cfg.Attributes.Traces, len(attributeNames))
}
