// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/resourcetotelemetry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	minimal := createDefaultConfig().(*Config)
	minimal.Endpoint = "http://127.0.0.1:9009/api/v1/write"
	minimal.WAL.Directory = "/var/lib/otelcol-sre/agent-wal"

	full := &Config{
		Endpoint:             "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write",
		Timeout:              15 * time.Second,
		Headers:              map[string]string{"X-Scope": "shop"},
		SigV4:                &SigV4Config{Region: "us-east-1", Service: "aps", RoleARN: "arn:aws:iam::123456789012:role/amp-writer"},
		ExternalLabels:       map[string]string{"cluster": "prod"},
		Namespace:            "app",
		TranslationStrategy:  "UnderscoreEscapingWithoutSuffixes",
		ResourceToTelemetry:  resourcetotelemetry.Settings{Enabled: true},
		TargetInfo:           TargetInfoConfig{Enabled: false},
		DisableScopeInfo:     true,
		SendExemplars:        false,
		SendNativeHistograms: false,
		WAL:                  WALConfig{Directory: "/data/agent-wal", TruncateFrequency: 10 * time.Minute, MinTime: time.Minute, MaxTime: 30 * time.Minute},
		QueueConfig: QueueConfig{Capacity: 2500, MinShards: 2, MaxShards: 200, MaxSamplesPerSend: 1000,
			BatchSendDeadline: 2 * time.Second, MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second,
			RetryOnHTTP429: false, SampleAgeLimit: time.Hour},
	}

	for _, tt := range []struct {
		id      component.ID
		want    *Config
		wantErr []string
	}{
		{id: component.NewID(metadata.Type), want: minimal},
		{id: component.NewIDWithName(metadata.Type, "amp"), want: full},
		{id: component.NewIDWithName(metadata.Type, "bad"), wantErr: []string{
			`endpoint: "ftp://nowhere" is not an http(s) URL with a host`,
			"timeout: must be positive, got 0s",
			`translation_strategy: "Underscores" is not one of`,
			"wal.directory: required",
			"wal.min_time (3h0m0s) must not exceed wal.max_time (2h0m0s)",
			"queue_config.min_shards (10) must not exceed queue_config.max_shards (2)",
			"queue_config.max_samples_per_send (20000) must not exceed queue_config.capacity (10000)",
		}},
	} {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					assert.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestValidateEveryField(t *testing.T) {
	valid := func() *Config {
		c := createDefaultConfig().(*Config)
		c.Endpoint = "http://127.0.0.1:9/api/v1/write"
		c.WAL.Directory = t.TempDir()
		return c
	}
	require.NoError(t, valid().Validate())
	for _, tt := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint: required"},
		{"endpoint without host", func(c *Config) { c.Endpoint = "http:///write" }, "endpoint:"},
		{"empty external label value", func(c *Config) { c.ExternalLabels = map[string]string{"cluster": ""} }, "external_labels:"},
		{"zero truncate frequency", func(c *Config) { c.WAL.TruncateFrequency = 0 }, "wal.truncate_frequency: must be positive"},
		{"zero capacity", func(c *Config) { c.QueueConfig.Capacity = 0 }, "queue_config.capacity: must be positive"},
		{"zero deadline", func(c *Config) { c.QueueConfig.BatchSendDeadline = 0 }, "queue_config.batch_send_deadline: must be positive"},
		{"backoff inverted", func(c *Config) { c.QueueConfig.MinBackoff = time.Minute }, "queue_config.min_backoff (1m0s) must not exceed"},
		{"negative age limit", func(c *Config) { c.QueueConfig.SampleAgeLimit = -time.Second }, "queue_config.sample_age_limit: must not be negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.modify(c)
			assert.ErrorContains(t, c.Validate(), tt.want)
		})
	}
}
