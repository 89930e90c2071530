// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/kubeclient"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
	"github.com/otelcol-sre/otelcol-sre/receiver/k8spoddiagnosticsreceiver/internal/metadata"
)

// ClientProvider builds the Kubernetes client for a receiver configuration
// when no other pod-diagnosis component holds a cache for the same settings.
type ClientProvider func(*Config) (kubernetes.Interface, error)

// NewFactory returns the factory of the k8spoddiagnostics receiver; its
// receivers share caches with the k8spoddiagnostics processors of the same
// collector.
func NewFactory() receiver.Factory {
	return NewFactoryWithRegistry(func(cfg *Config) (kubernetes.Interface, error) {
		return kubeclient.New(cfg.APIConfig)
	}, podcache.Shared())
}

// NewFactoryWithRegistry returns a factory whose receivers get their client
// from provider and share caches through reg.
func NewFactoryWithRegistry(provider ClientProvider, reg *podcache.Registry) receiver.Factory {
	f := &factory{provider: provider, registry: reg, now: time.Now}
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithMetrics(f.createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	cc := scraperhelper.NewDefaultControllerConfig()
	cc.CollectionInterval = 30 * time.Second
	return &Config{
		ControllerConfig:     cc,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		ComponentConfig:      podcache.DefaultComponentConfig(),
		IncludeMessage:       true,
		Pods:                 PodsAll,
	}
}

type factory struct {
	provider ClientProvider
	registry *podcache.Registry
	now      func() time.Time
}

func (f *factory) createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	c := cfg.(*Config)
	s := newDiagnosisScraper(c, set, f.provider, f.registry, f.now)
	sc, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return nil, err
	}
	return scraperhelper.NewMetricsController(&c.ControllerConfig, set, next, scraperhelper.AddMetricsScraper(metadata.Type, sc))
}
