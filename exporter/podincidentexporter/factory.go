// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/incident"
	"github.com/otelcol-sre/otelcol-sre/exporter/podincidentexporter/internal/metadata"
)

// NewFactory returns the factory of the pod_incident exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithMetrics(createMetricsExporter, metadata.MetricsStability))
}

// Defaults of a sink, applied by the config's Unmarshal to sinks the user
// lists.
const (
	defaultSlackMaxPods   = 10
	defaultResendInterval = time.Minute
)

func createDefaultConfig() component.Config {
	s := incident.DefaultSettings()
	groupBy := make([]string, 0, len(s.GroupBy))
	for _, g := range s.GroupBy {
		groupBy = append(groupBy, string(g))
	}
	queue := exporterhelper.NewDefaultQueueConfig()
	// One consumer: a sink gets an incident's edges in order.
	queue.NumConsumers = 1
	retry := configretry.NewDefaultBackOffConfig()
	retry.MaxElapsedTime = 30 * time.Minute
	return &Config{
		GroupBy:       groupBy,
		GroupWait:     s.GroupWait,
		Resolve:       ResolveConfig{HoldDown: s.HoldDown},
		Renotify:      RenotifyConfig{Interval: s.RenotifyInterval, Max: s.RenotifyMax},
		Storm:         StormConfig{MaxNew: s.StormMaxNew, Window: s.StormWindow},
		Startup:       string(s.Startup),
		StartupWindow: s.StartupWindow,
		TickInterval:  10 * time.Second,
		QueueConfig:   configoptional.Some(queue),
		BackOffConfig: retry,
		Timeout:       10 * time.Second,
	}
}

func createMetricsExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c := cfg.(*Config)
	e, err := newExporter(set, c, time.Now)
	if err != nil {
		return nil, err
	}
	// No queue or retry here: consuming only updates the incident table
	// and queues documents per sink, which never waits for a peer.
	return exporterhelper.NewMetrics(ctx, set, cfg, e.consume,
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithQueue(configoptional.None[exporterhelper.QueueBatchConfig]()),
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{}),
		exporterhelper.WithRetry(configretry.BackOffConfig{Enabled: false}))
}
