// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
)

// Config is the ethtool receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`

	// Interfaces selects the interfaces to read.
	Interfaces InterfacesConfig `mapstructure:"interfaces"`
	// Statistics selects the driver statistics reported besides the ENA
	// allowance metrics, which are always reported for ENA interfaces.
	Statistics StatisticsConfig `mapstructure:"statistics"`
	// NetworkNamespaces selects the network namespaces to read.
	NetworkNamespaces NetworkNamespacesConfig `mapstructure:"network_namespaces"`
	// InfoRefreshScrapes is how often, in scrapes, driver information and
	// link settings are read again when nothing changed.
	InfoRefreshScrapes int `mapstructure:"info_refresh_scrapes"`
	// SeriesBudget logs a warning when one scrape records more data points;
	// 0 disables the check.
	SeriesBudget int `mapstructure:"series_budget"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// InterfacesConfig selects interfaces. Regular expressions use RE2 syntax and
// must match the whole interface name; exclude wins over include.
type InterfacesConfig struct {
	// Include lists name patterns to read; empty reads every interface.
	Include []string `mapstructure:"include"`
	// Exclude lists name patterns never to read.
	Exclude []string `mapstructure:"exclude"`
	// Drivers lists driver names (as `ethtool -i` prints them, e.g. ena) to
	// read; empty reads every driver.
	Drivers []string `mapstructure:"drivers"`
	// IncludeLoopback reads loopback interfaces (IFF_LOOPBACK).
	IncludeLoopback bool `mapstructure:"include_loopback"`
	// IncludeVirtual reads interfaces without a parent device, those under
	// /sys/devices/virtual (veth, bridges, tunnels, dummy, ifb).
	IncludeVirtual bool `mapstructure:"include_virtual"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// StatisticsConfig selects statistics by the raw name the driver reports
// (as `ethtool -S` prints it). Exclude wins over include.
type StatisticsConfig struct {
	// Include lists statistic name patterns to report; empty reports all.
	Include []string `mapstructure:"include"`
	// Exclude lists statistic name patterns never to report.
	Exclude []string `mapstructure:"exclude"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// NetworkNamespacesConfig selects network namespaces.
type NetworkNamespacesConfig struct {
	// Host reads the collector's own network namespace.
	Host bool `mapstructure:"host"`
	// Paths are glob patterns of namespace files, for example
	// /var/run/netns/* or /host/proc/[0-9]*/ns/net; several paths of one
	// namespace are read once. Entering them needs CAP_SYS_ADMIN.
	Paths []string `mapstructure:"paths"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; every error names the field and the fix.
func (cfg *Config) Validate() error {
	var errs []error
	_, err := newSelection(cfg)
	errs = append(errs, err)
	for i, d := range cfg.Interfaces.Drivers {
		if strings.TrimSpace(d) == "" || d != strings.TrimSpace(d) {
			errs = append(errs, fmt.Errorf("interfaces.drivers[%d]: %q is not a driver name; use the name `ethtool -i <interface>` prints, e.g. ena", i, d))
		}
	}
	for i, p := range cfg.NetworkNamespaces.Paths {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("network_namespaces.paths[%d]: %q must be an absolute path such as /var/run/netns/* or /host/proc/[0-9]*/ns/net", i, p))
		} else if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("network_namespaces.paths[%d]: %q is not a valid glob pattern (%w); escape literal [, *, ? and \\ with \\", i, p, err))
		}
	}
	if !cfg.NetworkNamespaces.Host && len(cfg.NetworkNamespaces.Paths) == 0 {
		errs = append(errs, errors.New("network_namespaces: nothing to read; set network_namespaces.host: true or add network_namespaces.paths"))
	}
	if cfg.InfoRefreshScrapes < 1 {
		errs = append(errs, fmt.Errorf("info_refresh_scrapes: must be at least 1, got %d (1 reads driver information on every scrape)", cfg.InfoRefreshScrapes))
	}
	if cfg.SeriesBudget < 0 {
		errs = append(errs, fmt.Errorf("series_budget: must be 0 (no check) or positive, got %d", cfg.SeriesBudget))
	}
	return errors.Join(errs...)
}
