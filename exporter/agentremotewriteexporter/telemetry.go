// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"context"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/metric"
)

// The engine's own metrics (storage/remote, prometheus_remote_storage_*) that the exporter's telemetry
// reports; float samples and native histograms are added up.
var engineMetrics = []struct {
	families []string
	register func(*agentExporter, metric.Int64Callback) error
}{
	{[]string{"prometheus_remote_storage_samples_total", "prometheus_remote_storage_histograms_total"},
		func(e *agentExporter, cb metric.Int64Callback) error {
			return e.telemetry.RegisterExporterAgentRemoteWriteSamplesSentCallback(cb)
		}},
	{[]string{"prometheus_remote_storage_samples_failed_total", "prometheus_remote_storage_histograms_failed_total"},
		func(e *agentExporter, cb metric.Int64Callback) error {
			return e.telemetry.RegisterExporterAgentRemoteWriteSamplesFailedCallback(cb)
		}},
	{[]string{"prometheus_remote_storage_samples_retried_total", "prometheus_remote_storage_histograms_retried_total"},
		func(e *agentExporter, cb metric.Int64Callback) error {
			return e.telemetry.RegisterExporterAgentRemoteWriteSamplesRetriedCallback(cb)
		}},
	{[]string{"prometheus_remote_storage_samples_pending", "prometheus_remote_storage_histograms_pending"},
		func(e *agentExporter, cb metric.Int64Callback) error {
			return e.telemetry.RegisterExporterAgentRemoteWriteSamplesPendingCallback(cb)
		}},
	{[]string{"prometheus_remote_storage_shards"},
		func(e *agentExporter, cb metric.Int64Callback) error {
			return e.telemetry.RegisterExporterAgentRemoteWriteShardsCallback(cb)
		}},
}

func (e *agentExporter) registerEngineTelemetry() error {
	for _, m := range engineMetrics {
		families := m.families
		if err := m.register(e, func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(e.engineValue(families)))
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// engineValue sums the named counter or gauge families of the engine's registry.
func (e *agentExporter) engineValue(families []string) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		for _, name := range families {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				sum += value(m)
			}
		}
	}
	return sum
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
