// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/resourcetotelemetry"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/metadata"
)

// NewFactory returns the agent_remote_write exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithMetrics(createMetricsExporter, metadata.MetricsStability))
}

// createDefaultConfig: Prometheus' remote_write and agent defaults, except where noted.
func createDefaultConfig() component.Config {
	return &Config{
		Timeout:              30 * time.Second,
		TranslationStrategy:  "UnderscoreEscapingWithSuffixes", // what prometheus_remote_write does by default
		TargetInfo:           TargetInfoConfig{Enabled: true},
		SendExemplars:        true, // prometheus_remote_write sends what the translation produces
		SendNativeHistograms: true,
		WAL: WALConfig{
			// Prometheus' agent truncates every 2h and keeps up to 4h; a collector's volume is smaller:
			// checkpoint every 5m, keep unsent data for at most 2h.
			TruncateFrequency: 5 * time.Minute,
			MinTime:           5 * time.Minute,
			MaxTime:           2 * time.Hour,
		},
		QueueConfig: QueueConfig{
			Capacity:          10000,
			MinShards:         1,
			MaxShards:         50,
			MaxSamplesPerSend: 2000,
			// Prometheus waits up to 5s to fill a batch; 1s keeps low-volume series under 5s end to end.
			BatchSendDeadline: time.Second,
			MinBackoff:        30 * time.Millisecond,
			MaxBackoff:        5 * time.Second,
			// Off in Prometheus; AMP answers 429 above the workspace's ingestion quota, with Retry-After.
			RetryOnHTTP429: true,
		},
	}
}

func createMetricsExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c := cfg.(*Config)
	e, err := newExporter(set, c)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewMetrics(ctx, set, cfg, e.pushMetrics,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		// No exporterhelper queue or retry: the WAL is the queue, and OTLP is acknowledged once the samples
		// are committed to it.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	)
	if err != nil {
		return nil, err
	}
	return resourcetotelemetry.WrapMetricsExporter(c.ResourceToTelemetry, exp), nil
}
