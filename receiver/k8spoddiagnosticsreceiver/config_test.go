// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/otelcol-sre/otelcol-sre/receiver/k8spoddiagnosticsreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	defaults := createDefaultConfig().(*Config)
	gateway := createDefaultConfig().(*Config)
	gateway.CollectionInterval = 15 * time.Second
	gateway.Pods = PodsUnscheduled
	elector := component.MustNewID("k8s_leader_elector")
	gateway.LeaderElector = &elector
	gateway.IncludeMessage = false
	gateway.MaxMessageLength = 256
	gateway.Thresholds.Scheduling = 2 * time.Minute
	agent := createDefaultConfig().(*Config)
	agent.Filter.NodeFromEnvVar = "K8S_NODE_NAME"

	tests := []struct {
		id       component.ID
		expected *Config
		err      string
	}{
		{id: component.NewID(metadata.Type), expected: defaults},
		{id: component.NewIDWithName(metadata.Type, "gateway"), expected: gateway},
		{id: component.NewIDWithName(metadata.Type, "agent"), expected: agent},
		{id: component.NewIDWithName(metadata.Type, "bad_pods"), err: `pods: unknown value "pending" — use all`},
		{id: component.NewIDWithName(metadata.Type, "bad_split"), err: "pods: unscheduled reports pods without a node, but filter.node_from_env_var"},
		{id: component.NewIDWithName(metadata.Type, "bad_shared"), err: `filter.labels: "app in (web" is not a label selector`},
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

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, xconfmap.Validate(cfg))
	assert.Equal(t, PodsAll, cfg.Pods)
	assert.True(t, cfg.IncludeMessage, "the message is on by default on this one series")
	assert.Equal(t, 30*time.Second, cfg.CollectionInterval)
	assert.Nil(t, cfg.LeaderElector)
}
