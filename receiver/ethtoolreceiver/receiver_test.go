// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
)

// TestReceiverDeliversMetrics runs the receiver as the collector does, through
// the factory and the scraper controller, on the test's own namespace (no
// privilege needed): at least lo, with its link state, reaches the consumer.
func TestReceiverDeliversMetrics(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.CollectionInterval = 50 * time.Millisecond
	cfg.InitialDelay = 0
	cfg.Interfaces.IncludeLoopback = true
	cfg.Interfaces.IncludeVirtual = true
	require.NoError(t, cfg.Validate())

	sink := new(consumertest.MetricsSink)
	rcv, err := NewFactory().CreateMetrics(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	err = rcv.Start(context.Background(), componenttest.NewNopHost())
	if runtime.GOOS != "linux" {
		require.ErrorContains(t, err, "unsupported platform")
		return
	}
	require.NoError(t, err)
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()

	require.Eventually(t, func() bool { return sink.DataPointCount() > 0 }, 10*time.Second, 20*time.Millisecond)
	md := sink.AllMetrics()[0]
	found := false
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		ms := md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if ms.At(j).Name() != "ethtool.link.up" {
				continue
			}
			dps := ms.At(j).Gauge().DataPoints()
			for k := 0; k < dps.Len(); k++ {
				if dev, _ := dps.At(k).Attributes().Get("device"); dev.Str() == "lo" {
					found = true
				}
			}
		}
	}
	assert.True(t, found, "lo is reported (its link state; it has no ethtool statistics)")
}
