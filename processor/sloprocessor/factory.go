// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/metadata"
)

// NewFactory returns the factory of the slo processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetricsProcessor, metadata.MetricsStability))
}

// DefaultWindows are the SLI and burn rate windows of the SRE workbook's
// multi-window multi-burn-rate alerts.
var DefaultWindows = []Duration{
	Duration(5 * time.Minute), Duration(30 * time.Minute), Duration(time.Hour), Duration(2 * time.Hour),
	Duration(6 * time.Hour), Duration(24 * time.Hour), Duration(72 * time.Hour),
}

// DefaultAlertRules is the SRE workbook's table for a 30-day SLO: page at
// 14.4x over 1h and 5m and 6x over 6h and 30m; ticket at 3x over 1d and 2h
// and 1x over 3d and 6h.
var DefaultAlertRules = []AlertRule{
	{Severity: "page", Factor: 14.4, LongWindow: Duration(time.Hour), ShortWindow: Duration(5 * time.Minute)},
	{Severity: "page", Factor: 6, LongWindow: Duration(6 * time.Hour), ShortWindow: Duration(30 * time.Minute)},
	{Severity: "ticket", Factor: 3, LongWindow: Duration(24 * time.Hour), ShortWindow: Duration(2 * time.Hour)},
	{Severity: "ticket", Factor: 1, LongWindow: Duration(72 * time.Hour), ShortWindow: Duration(6 * time.Hour)},
}

func createDefaultConfig() component.Config {
	return &Config{
		EvaluationInterval: time.Minute,
		PersistInterval:    5 * time.Minute,
		Resolution:         Duration(time.Minute),
		BudgetResolution:   Duration(15 * time.Minute),
		Windows:            append([]Duration(nil), DefaultWindows...),
		InitialValue:       "auto",
		StaleAfter:         15 * time.Minute,
		MaxSeries:          10000,
		MaxGroups:          100,
		MaxFutureSkew:      time.Minute,
		Alerting: AlertingConfig{
			MinEvents: 10,
			Rules:     append([]AlertRule(nil), DefaultAlertRules...),
		},
	}
}

func createMetricsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newSLOProcessor(set, cfg.(*Config), next, time.Now)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}
