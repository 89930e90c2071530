// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package ethtoolreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
)

// TestRecordENAStatistics checks the pdata side of an ENA interface, which
// the build host has no hardware for: the planned statistics of a real ENA
// name set land in the typed metrics, per queue and in compatibility mode.
func TestRecordENAStatistics(t *testing.T) {
	names := []string{
		"tx_timeout", "bw_in_allowance_exceeded", "bw_out_allowance_exceeded", "pps_allowance_exceeded",
		"conntrack_allowance_exceeded", "linklocal_allowance_exceeded", "conntrack_allowance_available",
		"queue_0_tx_cnt", "queue_1_tx_cnt", "queue_1_rx_xdp_drop",
	}
	values := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

	cfg := createDefaultConfig().(*Config)
	cfg.Metrics.NodeNetEthtool.Enabled = true
	cfg.Statistics.Exclude = []string{".*xdp.*", ".*allowance.*"}
	sel, err := newSelection(cfg)
	assert.NoError(t, err)
	s := &ethtoolScraper{cfg: cfg, sel: sel, compatOn: true, mb: metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, receivertest.NewNopSettings(metadata.Type))}

	ifc := &iface{name: "eth0", info: nicInfo{driver: "ena"}}
	var disambiguated []string
	ifc.plan, ifc.compatPlan, disambiguated = s.planStats("ena", names)
	assert.Empty(t, disambiguated)
	now := pcommon.NewTimestampFromTime(time.Unix(1700000000, 0))
	assert.Equal(t, 2*9, s.recordStats(ifc, values, now), "9 planned statistics, typed and compat")
	points := flatten(t, s.mb.Emit())

	byMetric := map[string][]point{}
	for _, p := range points {
		byMetric[p.metric] = append(byMetric[p.metric], p)
	}
	for metric, want := range map[string]float64{
		"ethtool.ena.bw_in_allowance_exceeded":      2,
		"ethtool.ena.bw_out_allowance_exceeded":     3,
		"ethtool.ena.pps_allowance_exceeded":        4,
		"ethtool.ena.conntrack_allowance_exceeded":  5,
		"ethtool.ena.linklocal_allowance_exceeded":  6,
		"ethtool.ena.conntrack_allowance_available": 7,
	} {
		if assert.Len(t, byMetric[metric], 1, metric) {
			assert.Equal(t, want, byMetric[metric][0].value, metric)
			assert.Equal(t, "eth0", byMetric[metric][0].device, metric)
		}
	}
	assert.ElementsMatch(t, []point{{metric: "ethtool.statistic", device: "eth0", statistic: "tx_timeout", queue: -1, value: 1}}, byMetric["ethtool.statistic"])
	assert.ElementsMatch(t, []point{
		{metric: "ethtool.queue.statistic", device: "eth0", statistic: "tx_cnt", queue: 0, value: 8},
		{metric: "ethtool.queue.statistic", device: "eth0", statistic: "tx_cnt", queue: 1, value: 9},
	}, byMetric["ethtool.queue.statistic"], "the xdp statistic is excluded")
	compatValues := compat(points, "eth0")
	assert.Equal(t, float64(4), compatValues["pps_allowance_exceeded"], "allowance statistics ignore statistics.exclude")
	assert.Len(t, compatValues, 9)
}
