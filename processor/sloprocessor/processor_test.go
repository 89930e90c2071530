// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloprocessor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-sre/otelcol-sre/internal/storageclient/storageclienttest"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/internal/metadata"
)

// clock is a settable clock for processors under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// host hands extensions to components.

func TestProcessorPassesInputThroughAndEmitsOnItsTimer(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	cfg := ratioConfig(nil)
	cfg.EvaluationInterval = 20 * time.Millisecond
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	now := time.Now()
	in := requests(pmetric.AggregationTemporalityDelta, counterPoint{"/a", "200", "shop", now.Sub(t0) - time.Second, now.Sub(t0), 5})
	want := pmetric.NewMetrics()
	in.CopyTo(want)
	require.NoError(t, p.ConsumeMetrics(context.Background(), in))
	assert.Equal(t, want, in, "input unchanged")

	// The input arrives first, then the processor's own SLO metrics.
	require.Eventually(t, func() bool {
		for _, md := range sink.AllMetrics() {
			for _, pt := range flatten(md) {
				if pt.metric == MetricSLI && pt.attrs == "slo.service=shop,slo.window=5m" && pt.value == 1 {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, want, sink.AllMetrics()[0])
}

func TestProcessorStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cum := pmetric.AggregationTemporalityCumulative
	run := func(storage bool, c *clock, sink *consumertest.MetricsSink, steps func(p *sloProcessor)) {
		cfg := ratioConfig(nil)
		cfg.EvaluationInterval = time.Hour // evaluations are driven by the test
		var h component.Host = componenttest.NewNopHost()
		var ext extension.Extension
		if storage {
			var id component.ID
			id, ext = storageclienttest.FileStorage(t, dir)
			cfg.Storage = &id
			h = storageclienttest.Host{id: ext}
		}
		require.NoError(t, cfg.Validate())
		p, err := newSLOProcessor(processortest.NewNopSettings(metadata.Type), cfg, sink, c.now)
		require.NoError(t, err)
		require.NoError(t, p.start(context.Background(), h))
		steps(p)
		require.NoError(t, p.shutdown(context.Background()))
		if ext != nil {
			require.NoError(t, ext.Shutdown(context.Background()))
		}
	}
	feed := func(p *sloProcessor, c *clock, at time.Duration, good, bad int64, start time.Duration) {
		c.set(t0.Add(at))
		_, err := p.processMetrics(context.Background(), requests(cum,
			counterPoint{"/a", "200", "shop", start, at, good},
			counterPoint{"/a", "500", "shop", start, at, bad}))
		require.NoError(t, err)
	}
	lastSLI := func(sink *consumertest.MetricsSink, window string) (float64, bool) {
		all := sink.AllMetrics()
		return find(flatten(all[len(all)-1]), MetricSLI, "slo.service=shop,slo.window="+window)
	}
	lastValue := func(sink *consumertest.MetricsSink, metric, attrs string) float64 {
		all := sink.AllMetrics()
		v, ok := find(flatten(all[len(all)-1]), metric, attrs)
		require.True(t, ok, "%s %s", metric, attrs)
		return v
	}

	// First life: baseline at 0, then 90 good and 10 bad.
	c := &clock{t: t0}
	first := new(consumertest.MetricsSink)
	run(true, c, first, func(p *sloProcessor) {
		feed(p, c, 0, 1000, 100, -time.Hour)
		feed(p, c, 30*time.Second, 1090, 110, -time.Hour)
		c.set(t0.Add(time.Minute))
		p.evaluate(context.Background(), c.now())
	})
	v, ok := lastSLI(first, "1h")
	require.True(t, ok)
	assert.InDelta(t, 0.9, v, 1e-12)

	// Second life, 2 minutes later, with storage: the series goes on from
	// its stored baseline (10 good, 0 bad since), and the windows hold
	// both lives' events.
	c.set(t0.Add(2 * time.Minute))
	second := new(consumertest.MetricsSink)
	run(true, c, second, func(p *sloProcessor) {
		feed(p, c, 3*time.Minute, 1100, 110, -time.Hour)
		c.set(t0.Add(4 * time.Minute))
		p.evaluate(context.Background(), c.now())
	})
	v, ok = lastSLI(second, "1h")
	require.True(t, ok)
	assert.InDelta(t, 100.0/110, v, 1e-12)
	assert.Equal(t, 100.0, lastValue(second, MetricEvents, "slo.outcome=good,slo.service=shop"))
	assert.Equal(t, 10.0, lastValue(second, MetricEvents, "slo.outcome=bad,slo.service=shop"))
	assert.InDelta(t, 0.8, lastValue(second, MetricCoverage, "slo.service=shop,slo.window=5m"), 1e-12,
		"observed since the first life began")

	// Without storage the same restart starts over: the series is a
	// baseline again, no window has events, and coverage says the windows
	// are warming up.
	c.set(t0.Add(2 * time.Minute))
	third := new(consumertest.MetricsSink)
	run(false, c, third, func(p *sloProcessor) {
		feed(p, c, 3*time.Minute, 1100, 110, -time.Hour)
		c.set(t0.Add(4 * time.Minute))
		p.evaluate(context.Background(), c.now())
	})
	_, ok = lastSLI(third, "1h")
	assert.False(t, ok)
	assert.InDelta(t, 0.4, lastValue(third, MetricCoverage, "slo.service=shop,slo.window=5m"), 1e-12)
}

func TestProcessorStorageErrors(t *testing.T) {
	id := component.MustNewID("file_storage")
	nf := extensiontest.NewNopFactory()
	nop, err := nf.Create(context.Background(), extensiontest.NewNopSettings(nf.Type()), nf.CreateDefaultConfig())
	require.NoError(t, err)
	tests := []struct {
		name string
		ext  map[component.ID]component.Component
		want string
	}{
		{"extension missing", nil, `storage: extension "file_storage" not found — add it under extensions and service.extensions`},
		{"not a storage extension", map[component.ID]component.Component{id: nop}, `storage: extension "file_storage" is not a storage extension — use file_storage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ratioConfig(nil)
			cfg.Storage = &id
			p, err := newSLOProcessor(processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop(), time.Now)
			require.NoError(t, err)
			assert.EqualError(t, p.start(context.Background(), storageclienttest.Host(tt.ext)), tt.want)
		})
	}
}

func TestProcessorCorruptStateStartsFresh(t *testing.T) {
	id, ext := storageclienttest.FileStorage(t, t.TempDir())
	defer func() { require.NoError(t, ext.Shutdown(context.Background())) }()
	set := processortest.NewNopSettings(metadata.Type)
	client, err := ext.(storage.Extension).GetClient(context.Background(), component.KindProcessor, set.ID, "")
	require.NoError(t, err)
	require.NoError(t, client.Set(context.Background(), stateKey, []byte{stateVersion, 1, 3, 'a', 'p', 'i'}))
	require.NoError(t, client.Close(context.Background()))

	cfg := ratioConfig(nil)
	cfg.Storage = &id
	c := &clock{t: t0}
	sink := new(consumertest.MetricsSink)
	p, err := newSLOProcessor(set, cfg, sink, c.now)
	require.NoError(t, err)
	require.NoError(t, p.start(context.Background(), storageclienttest.Host{id: ext}))
	_, err = p.processMetrics(context.Background(), requests(pmetric.AggregationTemporalityDelta, counterPoint{"/a", "200", "shop", -time.Second, 0, 5}))
	require.NoError(t, err)
	c.set(t0.Add(time.Minute))
	p.evaluate(context.Background(), c.now())
	v, ok := find(flatten(sink.AllMetrics()[0]), MetricSLI, "slo.service=shop,slo.window=5m")
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)
	require.NoError(t, p.shutdown(context.Background()))
}

func TestUntilNextTick(t *testing.T) {
	tests := []struct {
		name     string
		now      time.Time
		interval time.Duration
		want     time.Duration
	}{
		{"mid-minute waits for the whole minute", t0.Add(20 * time.Second), time.Minute, 40 * time.Second},
		{"on a whole minute waits a full interval", t0, time.Minute, time.Minute},
		{"just after a whole minute", t0.Add(time.Millisecond), time.Minute, time.Minute - time.Millisecond},
		{"5m interval ends at multiples of 5m", t0.Add(7 * time.Minute), 5 * time.Minute, 3 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, untilNextTick(tt.now, tt.interval))
		})
	}
}
