// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/statname"
)

// builderRecorder is the receiver's previous recording path, through the
// metrics builder mdatagen generates (quadratic in the points of a metric):
// the reference the direct recorder is compared and benchmarked against.
type builderRecorder struct {
	mb        *metadata.MetricsBuilder
	now       pcommon.Timestamp
	recordENA map[statname.Metric]func(pcommon.Timestamp, int64, string)
}

func newBuilderRecorder(cfg *Config, set receiver.Settings, start pcommon.Timestamp) *builderRecorder {
	mb := metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, set, metadata.WithStartTime(start))
	return &builderRecorder{mb: mb, recordENA: map[statname.Metric]func(pcommon.Timestamp, int64, string){
		statname.BwInAllowanceExceeded:       mb.RecordEthtoolEnaBwInAllowanceExceededDataPoint,
		statname.BwOutAllowanceExceeded:      mb.RecordEthtoolEnaBwOutAllowanceExceededDataPoint,
		statname.PPSAllowanceExceeded:        mb.RecordEthtoolEnaPpsAllowanceExceededDataPoint,
		statname.ConntrackAllowanceExceeded:  mb.RecordEthtoolEnaConntrackAllowanceExceededDataPoint,
		statname.LinklocalAllowanceExceeded:  mb.RecordEthtoolEnaLinklocalAllowanceExceededDataPoint,
		statname.ConntrackAllowanceAvailable: mb.RecordEthtoolEnaConntrackAllowanceAvailableDataPoint,
	}}
}

func (b *builderRecorder) begin(now pcommon.Timestamp) { b.now = now }

func (b *builderRecorder) statistic(v int64, device, statistic string) {
	b.mb.RecordEthtoolStatisticDataPoint(b.now, v, device, statistic)
}

func (b *builderRecorder) queueStatistic(v int64, device string, queue int64, statistic string) {
	b.mb.RecordEthtoolQueueStatisticDataPoint(b.now, v, device, queue, statistic)
}

func (b *builderRecorder) ena(m statname.Metric, v int64, device string) {
	b.recordENA[m](b.now, v, device)
}

func (b *builderRecorder) compat(v float64, device, typ string) {
	b.mb.RecordNodeNetEthtoolDataPoint(b.now, v, device, typ)
}

func (b *builderRecorder) linkUp(v int64, device string) {
	b.mb.RecordEthtoolLinkUpDataPoint(b.now, v, device)
}

func (b *builderRecorder) linkSpeed(v int64, device string) {
	b.mb.RecordEthtoolLinkSpeedDataPoint(b.now, v, device)
}

func (b *builderRecorder) interfaceInfo(device string, info *nicInfo) {
	b.mb.RecordEthtoolInterfaceInfoDataPoint(b.now, 1, device, info.driver, info.version, info.firmware, info.bus)
}

func (b *builderRecorder) endNamespace(label string) {
	rb := b.mb.NewResourceBuilder()
	if label != "" {
		rb.SetNetworkNamespace(label)
	}
	b.mb.EmitForResource(metadata.WithResource(rb.Emit()))
}

func (b *builderRecorder) emit() pmetric.Metrics { return b.mb.Emit() }

// teeRecorder records every point on two recorders, so that one scrape of
// real interfaces gives both paths the same values. The scrape returns the
// first one's metrics; the second one's are kept in second.
type teeRecorder struct {
	a, b   pointRecorder
	second pmetric.Metrics
}

func (t *teeRecorder) begin(now pcommon.Timestamp) { t.a.begin(now); t.b.begin(now) }
func (t *teeRecorder) statistic(v int64, device, statistic string) {
	t.a.statistic(v, device, statistic)
	t.b.statistic(v, device, statistic)
}

func (t *teeRecorder) queueStatistic(v int64, device string, queue int64, statistic string) {
	t.a.queueStatistic(v, device, queue, statistic)
	t.b.queueStatistic(v, device, queue, statistic)
}
func (t *teeRecorder) ena(m statname.Metric, v int64, device string) {
	t.a.ena(m, v, device)
	t.b.ena(m, v, device)
}
func (t *teeRecorder) compat(v float64, device, typ string) {
	t.a.compat(v, device, typ)
	t.b.compat(v, device, typ)
}
func (t *teeRecorder) linkUp(v int64, device string) { t.a.linkUp(v, device); t.b.linkUp(v, device) }
func (t *teeRecorder) linkSpeed(v int64, device string) {
	t.a.linkSpeed(v, device)
	t.b.linkSpeed(v, device)
}
func (t *teeRecorder) interfaceInfo(device string, info *nicInfo) {
	t.a.interfaceInfo(device, info)
	t.b.interfaceInfo(device, info)
}
func (t *teeRecorder) endNamespace(label string) { t.a.endNamespace(label); t.b.endNamespace(label) }

func (t *teeRecorder) emit() pmetric.Metrics {
	t.second = t.b.emit()
	return t.a.emit()
}
