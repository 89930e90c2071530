// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	minimal := createDefaultConfig().(*Config)
	minimal.Sinks = []SinkConfig{{Name: "ops", Webhook: &WebhookConfig{}}}
	minimal.Sinks[0].Webhook.Endpoint = "https://incidents.example.com/hook"

	storageID := component.MustNewID("file_storage")
	full := createDefaultConfig().(*Config)
	full.Cluster = "prod-eu"
	full.GroupBy = []string{"namespace", "owner", "reason"}
	full.GroupWait = time.Minute
	full.Resolve.HoldDown = 10 * time.Minute
	full.Renotify = RenotifyConfig{Interval: 2 * time.Hour, Max: 5}
	full.Storm = StormConfig{MaxNew: 20, Window: 2 * time.Minute}
	full.Startup = "silent"
	full.StartupWindow = 2 * time.Minute
	full.Filters = FiltersConfig{
		Include: MatchConfig{Namespaces: []string{"shop", "pay"}},
		Exclude: MatchConfig{Reasons: []string{"NotReady"}, Messages: []string{`^Back-off pulling image "registry.example/scratch`}},
	}
	full.TickInterval = 5 * time.Second
	full.RunbookURL = "https://runbooks.example.com/{{.Reason}}"
	full.DashboardURL = "https://grafana.example.com/d/stuck-pods?var-namespace={{.Namespace}}"
	full.Storage = &storageID
	am := &AlertmanagerConfig{ResendInterval: 2 * time.Minute, Labels: map[string]string{"severity": "warning"}}
	am.Endpoint = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/alertmanager"
	am.Auth = configoptional.Some(configauth.Config{AuthenticatorID: component.MustNewID("sigv4auth")})
	full.Sinks = []SinkConfig{
		{Name: "team-shop", Slack: &SlackConfig{WebhookURL: "https://hooks.slack.com/services/T000/B000/XXXX", MaxPods: 5}},
		{Name: "amp", Alertmanager: am},
	}
	full.Routes = []RouteConfig{{Namespaces: []string{"shop"}, Sinks: []string{"team-shop", "amp"}}, {Sinks: []string{"amp"}}}
	q := full.QueueConfig.Get()
	q.StorageID = &storageID
	q.QueueSize = 500
	full.BackOffConfig.MaxElapsedTime = time.Hour
	full.Timeout = 5 * time.Second

	for name, want := range map[string]*Config{"": minimal, "full": full} {
		t.Run(name, func(t *testing.T) {
			cfg := loadConfig(t, name)
			assert.Equal(t, want, cfg)
			assert.NoError(t, xconfmap.Validate(cfg))
		})
	}
}

func TestValidateNamesFieldAndFix(t *testing.T) {
	err := xconfmap.Validate(loadConfig(t, "invalid"))
	require.Error(t, err)
	for _, want := range []string{
		`group_by[1]: unknown dimension "team" — use one of [namespace owner reason container node]`,
		`startup: unknown mode "loud" — use digest, silent or notify`,
		`sinks[0].name: "two words" — use letters, digits, '-' and '_' only`,
		`sinks[0].webhook.endpoint: "ftp://example.com" is not an http(s) URL`,
		`sinks[1].alertmanager.endpoint: give the base URL without /api/v2/alerts (it is appended)`,
		`sinks[1].alertmanager.labels: "bad-label" is not a Prometheus label name`,
		`sinks[2]: set exactly one of slack, webhook or alertmanager (got 2)`,
		`routes[0].sinks[0]: no sink named "nobody"`,
	} {
		assert.ErrorContains(t, err, want)
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"no sinks", func(c *Config) { c.Sinks = nil }, "sinks: none configured"},
		{"hold-down zero", func(c *Config) { c.Resolve.HoldDown = 0 }, "resolve.hold_down: must be positive"},
		{"reminders without interval", func(c *Config) { c.Renotify.Interval = 0 }, "renotify: max 3 with interval 0s"},
		{"storm without window", func(c *Config) { c.Storm.Window = 0 }, "storm: max_new 10 with window 0s"},
		{"bad message regex", func(c *Config) { c.Filters.Include.Messages = []string{"("} }, "filters.include.messages[0]: not a valid regular expression"},
		{"bad template", func(c *Config) { c.RunbookURL = "{{.Reason" }, "runbook_url: not a valid template"},
		{"two consumers", func(c *Config) { c.QueueConfig.Get().NumConsumers = 2 }, "sending_queue.num_consumers: must be 1, got 2"},
		{"duplicate sink", func(c *Config) { c.Sinks = append(c.Sinks, c.Sinks[0]) }, `sinks[1].name: "ops" is used twice`},
		{"slack url not absolute", func(c *Config) { c.Sinks = []SinkConfig{{Name: "s", Slack: &SlackConfig{WebhookURL: "/services/x"}}} },
			"sinks[0].slack.webhook_url: must be an absolute URL"},
		{"empty route", func(c *Config) { c.Routes = []RouteConfig{{Namespaces: []string{"a"}}} }, "routes[0].sinks: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, "")
			tt.modify(cfg)
			assert.ErrorContains(t, xconfmap.Validate(cfg), tt.want)
		})
	}
}

func TestDefaultConfigValidatesOnceASinkIsSet(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.ErrorContains(t, xconfmap.Validate(cfg), "sinks: none configured")
	cfg.Sinks = []SinkConfig{{Name: "a", Webhook: &WebhookConfig{}}}
	cfg.Sinks[0].Webhook.Endpoint = "http://127.0.0.1:9/x"
	assert.NoError(t, xconfmap.Validate(cfg))
	assert.True(t, cfg.QueueConfig.HasValue())
	assert.False(t, cfg.QueueConfig.Get().Batch.HasValue(), "no batching by default")
}
