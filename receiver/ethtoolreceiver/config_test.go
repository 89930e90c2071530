// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, xconfmap.Validate(cfg))
	assert.Equal(t, NewFactory().CreateDefaultConfig(), cfg)
	assert.Equal(t, 30*time.Second, cfg.CollectionInterval)
	assert.True(t, cfg.NetworkNamespaces.Host)
	assert.Empty(t, cfg.NetworkNamespaces.Paths)
	assert.False(t, cfg.Interfaces.IncludeLoopback)
	assert.False(t, cfg.Interfaces.IncludeVirtual)
	assert.Equal(t, 10, cfg.InfoRefreshScrapes)
	assert.Equal(t, 5000, cfg.SeriesBudget)
	assert.False(t, cfg.Metrics.NodeNetEthtool.Enabled, "compatibility mode is opt-in")
	assert.True(t, cfg.Metrics.EthtoolEnaPpsAllowanceExceeded.Enabled)
}

func TestLoadConfigAllFields(t *testing.T) {
	cfg := loadConfig(t, "all")
	require.NoError(t, xconfmap.Validate(cfg))

	want := NewFactory().CreateDefaultConfig().(*Config)
	want.CollectionInterval = 15 * time.Second
	want.InitialDelay = 2 * time.Second
	want.Interfaces = InterfacesConfig{
		Include:         []string{"eth[0-9]+", "ens.*"},
		Exclude:         []string{"eth9"},
		Drivers:         []string{"ena"},
		IncludeLoopback: true,
		IncludeVirtual:  true,
	}
	want.Statistics = StatisticsConfig{
		Include: []string{".*allowance.*", "queue_[0-9]+_(rx|tx)_cnt"},
		Exclude: []string{".*xdp.*"},
	}
	want.NetworkNamespaces = NetworkNamespacesConfig{Paths: []string{"/var/run/netns/*", "/host/proc/[0-9]*/ns/net"}}
	want.InfoRefreshScrapes = 4
	want.SeriesBudget = 100
	assert.True(t, cfg.Metrics.NodeNetEthtool.Enabled)
	assert.False(t, cfg.Metrics.EthtoolQueueStatistic.Enabled)
	assert.False(t, cfg.ResourceAttributes.NetworkNamespace.Enabled)
	assert.True(t, cfg.Metrics.EthtoolStatistic.Enabled, "untouched metrics keep their default")
	want.MetricsBuilderConfig = cfg.MetricsBuilderConfig // compared field by field above (it records what the user set)
	assert.Equal(t, want, cfg)
}

func TestLoadConfigInvalidNamesEveryField(t *testing.T) {
	err := xconfmap.Validate(loadConfig(t, "invalid"))
	require.Error(t, err)
	for _, want := range []string{
		`interfaces.include[0]: "eth(0" is not an RE2 regular expression`,
		`interfaces.drivers[0]: " ena" is not a driver name`,
		`statistics.exclude[0]: "*" is not an RE2 regular expression`,
		`network_namespaces.paths[0]: "relative/*" must be an absolute path`,
		`network_namespaces.paths[1]: "/var/run/netns/[a" is not a valid glob pattern`,
		`info_refresh_scrapes: must be at least 1, got 0`,
		`series_budget: must be 0 (no check) or positive, got -1`,
	} {
		assert.ErrorContains(t, err, want)
	}
}

func TestValidateNothingToRead(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.NetworkNamespaces.Host = false
	assert.ErrorContains(t, cfg.Validate(), "network_namespaces: nothing to read")
}

// FuzzConfigValidate feeds arbitrary patterns to every validated field:
// Validate must never panic, and a configuration it accepts must compile into
// a selection that can be evaluated.
func FuzzConfigValidate(f *testing.F) {
	f.Add("eth[0-9]+", ".*allowance.*", "/var/run/netns/*", "ena", 10, 5000)
	f.Add("(", "*", "relative", " ", 0, -1)
	f.Add(`\`, "a{1000000}", "/proc/[", "", 1, 0)
	f.Fuzz(func(t *testing.T, ifPattern, statPattern, nsPath, driver string, refresh, budget int) {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		cfg.Interfaces.Include = []string{ifPattern}
		cfg.Interfaces.Exclude = []string{ifPattern}
		cfg.Interfaces.Drivers = []string{driver}
		cfg.Statistics.Include = []string{statPattern}
		cfg.Statistics.Exclude = []string{statPattern}
		cfg.NetworkNamespaces.Paths = []string{nsPath}
		cfg.InfoRefreshScrapes = refresh
		cfg.SeriesBudget = budget
		if cfg.Validate() != nil {
			return
		}
		sel, err := newSelection(cfg)
		require.NoError(t, err)
		assert.False(t, sel.link(ifPattern, false, false), "exclude wins over include")
		sel.statistic(statPattern)
	})
}
