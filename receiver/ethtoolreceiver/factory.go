// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
)

const (
	defaultCollectionInterval = 30 * time.Second
	defaultInfoRefreshScrapes = 10
	defaultSeriesBudget       = 5000
)

// NewFactory creates the ethtool receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetricsReceiver, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	cc := scraperhelper.NewDefaultControllerConfig()
	cc.CollectionInterval = defaultCollectionInterval
	return &Config{
		ControllerConfig:     cc,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		NetworkNamespaces:    NetworkNamespacesConfig{Host: true},
		InfoRefreshScrapes:   defaultInfoRefreshScrapes,
		SeriesBudget:         defaultSeriesBudget,
	}
}

func createMetricsReceiver(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	c := cfg.(*Config)
	s, err := newEthtoolScraper(c, set, newPlatformOS())
	if err != nil {
		return nil, err
	}
	sc, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return nil, err
	}
	return scraperhelper.NewMetricsController(&c.ControllerConfig, set, next, scraperhelper.AddMetricsScraper(metadata.Type, sc))
}
