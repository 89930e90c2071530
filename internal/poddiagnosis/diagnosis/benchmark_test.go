// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import "testing"

// BenchmarkDiagnosePodUpdate measures what one pod update costs the cache:
// the informer transform (FromPod) and the diagnosis, per kind of pod.
func BenchmarkDiagnosePodUpdate(b *testing.B) {
	for _, name := range []string{"healthy_running", "healthy_native_sidecar", "crashloop_error_termination_message",
		"unschedulable_insufficient_cpu", "creating_multi_attach", "init_crashloop"} {
		pod := loadPod(b, name)
		events := leanEvents(loadEvents(b, name))
		o := DefaultOptions()
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lean := FromPod(pod, o.MaxMessageLength, nil)
				_ = Diagnose(&lean, events, testNow, o)
			}
		})
		b.Run(name+"/rediagnose", func(b *testing.B) {
			lean := FromPod(pod, o.MaxMessageLength, nil)
			b.ReportAllocs()
			for b.Loop() {
				_ = Diagnose(&lean, events, testNow, o)
			}
		})
	}
}
