// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/k8sattributesprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podtest"
)

const (
	benchPods  = 10_000
	benchBatch = 1_000
)

// benchFleet is benchPods pods, one in five stuck in some way.
func benchFleet(b *testing.B) []*corev1.Pod {
	templates := []*corev1.Pod{
		podtest.Pod(b, "healthy_running"), podtest.Pod(b, "healthy_native_sidecar"), podtest.Pod(b, "healthy_running"),
		podtest.Pod(b, "restarted_long_ago_healthy"), podtest.Pod(b, "crashloop_error_termination_message"),
	}
	pods := make([]*corev1.Pod, benchPods)
	for i := range pods {
		pods[i] = podtest.Clone(templates[i%len(templates)], i)
	}
	return pods
}

// newBenchProcessors builds our processor and k8sattributesprocessor from
// the same kubeconfig (the list server), each for the given signal.
func newBenchProcessors(b *testing.B) map[string]struct {
	f   processor.Factory
	cfg component.Config
} {
	ours := NewFactory()
	oursCfg := ours.CreateDefaultConfig()
	mustUnmarshal(b, oursCfg, map[string]any{"auth_type": "kubeConfig", "wait_for_sync": true, "wait_for_sync_timeout": "60s",
		"events": map[string]any{"enabled": false},
		// Four attributes on metrics (the old default; none by default now), so
		// that the figures measure the annotation itself.
		"attributes": map[string]any{"metrics": []any{"status", "stuck", "reason", "container"}}})
	k8sattr := k8sattributesprocessor.NewFactory()
	k8sattrCfg := k8sattr.CreateDefaultConfig()
	mustUnmarshal(b, k8sattrCfg, map[string]any{
		"auth_type":                 "kubeConfig",
		"wait_for_metadata":         true,
		"wait_for_metadata_timeout": "60s",
		"extract": map[string]any{
			"metadata":                        []any{"k8s.pod.name", "k8s.namespace.name", "k8s.node.name", "k8s.pod.start_time"},
			"deployment_name_from_replicaset": false,
		},
		"pod_association": []any{map[string]any{"sources": []any{map[string]any{"from": "resource_attribute", "name": "k8s.pod.uid"}}}},
	})
	return map[string]struct {
		f   processor.Factory
		cfg component.Config
	}{"ours": {ours, oursCfg}, "k8sattributes": {k8sattr, k8sattrCfg}}
}

func mustUnmarshal(b *testing.B, cfg component.Config, raw map[string]any) {
	if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAnnotate: one batch of benchBatch resources, each naming a pod by
// k8s.pod.uid, through our processor and through k8sattributesprocessor,
// both holding the same benchPods pods. Reported: ns per resource.
func BenchmarkAnnotate(b *testing.B) {
	pods := benchFleet(b)
	srv := newListServer(b, pods)
	srv.kubeconfig(b)
	procs := newBenchProcessors(b)

	uids := make([]string, benchBatch)
	for i := range uids {
		uids[i] = string(pods[(i*7919)%len(pods)].UID)
	}
	md := pmetric.NewMetrics()
	ld := plog.NewLogs()
	td := ptrace.NewTraces()
	for _, uid := range uids {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("k8s.pod.uid", uid)
		rm.Resource().Attributes().PutStr("service.name", "checkout")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("http.server.request.duration")
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(0.12)
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("k8s.pod.uid", uid)
		rl.Resource().Attributes().PutStr("service.name", "checkout")
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("GET /cart 200")
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("k8s.pod.uid", uid)
		rs.Resource().Attributes().PutStr("service.name", "checkout")
		rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("GET /cart")
	}

	for _, signal := range []string{"metrics", "logs", "traces"} {
		for _, name := range []string{"ours", "k8sattributes"} {
			prepare, run := startBenchProcessor(b, procs[name].f, procs[name].cfg, signal, md, ld, td)
			b.Run(signal+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					prepare()
					b.StartTimer()
					if err := run(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/resource")
			})
		}
	}
}

// startBenchProcessor creates and starts a processor for signal; prepare
// copies a fresh batch (untimed) and run processes it.
func startBenchProcessor(b *testing.B, f processor.Factory, cfg component.Config, signal string,
	md pmetric.Metrics, ld plog.Logs, td ptrace.Traces,
) (prepare func(), run func(context.Context) error) {
	set := processortest.NewNopSettings(f.Type())
	var comp component.Component
	var err error
	switch signal {
	case "metrics":
		var p processor.Metrics
		p, err = f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
		batch := pmetric.NewMetrics()
		comp, prepare, run = p, func() { batch = pmetric.NewMetrics(); md.CopyTo(batch) },
			func(ctx context.Context) error { return p.ConsumeMetrics(ctx, batch) }
	case "logs":
		var p processor.Logs
		p, err = f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
		batch := plog.NewLogs()
		comp, prepare, run = p, func() { batch = plog.NewLogs(); ld.CopyTo(batch) },
			func(ctx context.Context) error { return p.ConsumeLogs(ctx, batch) }
	default:
		var p processor.Traces
		p, err = f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
		batch := ptrace.NewTraces()
		comp, prepare, run = p, func() { batch = ptrace.NewTraces(); td.CopyTo(batch) },
			func(ctx context.Context) error { return p.ConsumeTraces(ctx, batch) }
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := comp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = comp.Shutdown(context.Background()) })
	return prepare, run
}
