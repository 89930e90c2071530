// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
)

var testStart = pcommon.NewTimestampFromTime(time.Unix(1_699_999_000, 0))

// startCompared starts a scraper whose every point goes to the direct
// recorder and to the generated builder.
func startCompared(t *testing.T, o netOS, cfg *Config) (*ethtoolScraper, *teeRecorder) {
	t.Helper()
	set := receivertest.NewNopSettings(metadata.Type)
	set.BuildInfo.Version = "v1.2.3"
	direct, err := newDirectRecorder(cfg.MetricsBuilderConfig, set.BuildInfo, testStart)
	require.NoError(t, err)
	tee := &teeRecorder{a: direct, b: newBuilderRecorder(cfg, set, testStart)}
	s, err := newEthtoolScraper(cfg, set, o)
	require.NoError(t, err)
	s.rec = tee
	require.NoError(t, s.start(context.Background(), nil))
	t.Cleanup(func() { assert.NoError(t, s.shutdown(context.Background())) })
	return s, tee
}

// requireSameMetrics compares the two recorders' output of one scrape as
// OTLP JSON: resources, scopes, metrics, descriptions, units, types, data
// point order, attributes, timestamps and values.
func requireSameMetrics(t *testing.T, s *ethtoolScraper, tee *teeRecorder) pmetric.Metrics {
	t.Helper()
	direct, err := s.scrape(context.Background())
	require.NoError(t, err)
	var m pmetric.JSONMarshaler
	want, err := m.MarshalMetrics(tee.second)
	require.NoError(t, err)
	got, err := m.MarshalMetrics(direct)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
	require.Equal(t, string(want), string(got), "same order")
	return direct
}

// scriptedNode is a node with an ENA interface (allowance statistics, queues,
// a repeated name), an mlx5 one, a veth and a bridge without statistics in its
// own namespace, and two pod namespaces.
func scriptedNode(t *testing.T) (o *scriptedOS, paths []string) {
	o = newScriptedOS(t)
	own := o.spaces[""]
	own.add(2, "eth0", "ena", []string{
		"tx_timeout", "bw_in_allowance_exceeded", "bw_out_allowance_exceeded", "pps_allowance_exceeded",
		"conntrack_allowance_exceeded", "linklocal_allowance_exceeded", "conntrack_allowance_available",
		"queue_0_tx_cnt", "queue_0_rx_cnt", "queue_1_tx_cnt", "queue_1_rx_cnt", "pps_allowance_exceeded",
	}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	own.add(3, "eth1", "mlx5_core", []string{"rx_packets", "rx0_packets", "rx1_packets", "ch0_events", "tx0_packets"},
		[]uint64{100, 60, 40, 3, 1<<63 + 5})
	own.add(4, "veth1", "veth", vethNames, []uint64{9, 8, 7})
	br := own.add(5, "br0", "bridge", nil, nil)
	br.openErr, br.info.speedBits = syscall.EOPNOTSUPP, -1
	for i, name := range []string{"pod-a", "pod-b"} {
		path, ns := o.namespace(name, uint64(100+i))
		ns.add(2, "eth0", "veth", vethNames, []uint64{uint64(i), 2, 3})
		paths = append(paths, path)
	}
	return o, paths
}

func TestDirectRecorderEqualsGeneratedBuilder(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config func(*Config)
		points int
	}{
		{name: "defaults", config: func(*Config) {}, points: 40},
		{name: "compatibility metric", config: func(c *Config) { c.Metrics.NodeNetEthtool.Enabled = true }, points: 40 + 26},
		{name: "queue dropped, summed over queues", config: func(c *Config) {
			c.Metrics.EthtoolQueueStatistic.EnabledAttributes = []metadata.EthtoolQueueStatisticMetricAttributeKey{"device", "statistic"}
		}},
		{name: "device dropped, averaged", config: func(c *Config) {
			c.Metrics.EthtoolLinkSpeed.EnabledAttributes = nil
			c.Metrics.EthtoolInterfaceInfo.EnabledAttributes = []metadata.EthtoolInterfaceInfoMetricAttributeKey{"driver"}
			c.Metrics.NodeNetEthtool.Enabled = true
			c.Metrics.NodeNetEthtool.EnabledAttributes = []metadata.NodeNetEthtoolMetricAttributeKey{"type"}
		}},
		{name: "min and max", config: func(c *Config) {
			c.Metrics.EthtoolQueueStatistic.EnabledAttributes = []metadata.EthtoolQueueStatisticMetricAttributeKey{"queue"}
			c.Metrics.EthtoolQueueStatistic.AggregationStrategy = metadata.AggregationStrategyMax
			c.Metrics.EthtoolStatistic.EnabledAttributes = []metadata.EthtoolStatisticMetricAttributeKey{"device"}
			c.Metrics.EthtoolStatistic.AggregationStrategy = metadata.AggregationStrategyMin
			c.Metrics.NodeNetEthtool.Enabled = true
			c.Metrics.NodeNetEthtool.EnabledAttributes = []metadata.NodeNetEthtoolMetricAttributeKey{"device"}
			c.Metrics.NodeNetEthtool.AggregationStrategy = metadata.AggregationStrategyMax
		}},
		{name: "metrics disabled", config: func(c *Config) {
			c.Metrics.EthtoolQueueStatistic.Enabled = false
			c.Metrics.EthtoolEnaPpsAllowanceExceeded.Enabled = false
			c.Metrics.EthtoolInterfaceInfo.Enabled = false
		}},
		{name: "namespaces filtered", config: func(c *Config) {
			c.ResourceAttributes.NetworkNamespace.MetricsInclude = []filter.Config{{Regex: "net:.*"}}
			c.ResourceAttributes.NetworkNamespace.MetricsExclude = []filter.Config{{Strict: "net:[101]"}}
		}},
		{name: "namespace attribute disabled", config: func(c *Config) {
			c.ResourceAttributes.NetworkNamespace.Enabled = false
			c.ResourceAttributes.NetworkNamespace.MetricsExclude = []filter.Config{{Regex: ".*"}}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, paths := scriptedNode(t)
			cfg := createDefaultConfig().(*Config)
			cfg.NetworkNamespaces.Paths = paths
			cfg.Interfaces.IncludeVirtual = true
			tt.config(cfg)
			require.NoError(t, cfg.Validate())
			s, tee := startCompared(t, o, cfg)
			for range 3 { // the recorders reuse their state across scrapes
				md := requireSameMetrics(t, s, tee)
				if tt.points != 0 {
					assert.Equal(t, tt.points, md.DataPointCount())
				}
			}
		})
	}
}

// TestRecordENAStatistics checks the pdata side of an ENA interface, which
// the build host has no hardware for: the planned statistics of a real ENA
// name set land in the typed metrics, per queue and in compatibility mode.
func TestRecordENAStatistics(t *testing.T) {
	o := newScriptedOS(t)
	o.spaces[""].add(2, "eth0", "ena", []string{
		"tx_timeout", "bw_in_allowance_exceeded", "bw_out_allowance_exceeded", "pps_allowance_exceeded",
		"conntrack_allowance_exceeded", "linklocal_allowance_exceeded", "conntrack_allowance_available",
		"queue_0_tx_cnt", "queue_1_tx_cnt", "queue_1_rx_xdp_drop",
	}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	cfg := scriptedConfig()
	cfg.Statistics.Exclude = []string{".*xdp.*", ".*allowance.*"}
	s, _ := startScripted(t, o, cfg, nil)
	points := scrapeOK(t, s)["eth0"]

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
