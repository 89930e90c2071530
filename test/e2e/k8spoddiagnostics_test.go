// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

// podMetric is one gauge point from a pod, identified the way k8sattributes and the OTel SDK's k8s resource
// detector identify it.
func podMetric(namespace, pod string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("k8s.namespace.name", namespace)
	rm.Resource().Attributes().PutStr("k8s.pod.name", pod)
	rm.Resource().Attributes().PutStr("service.name", "stuck-app")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("e2e.pod.heartbeat")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	dp.SetIntValue(1)
	return md
}

// TestK8sPodDiagnosticsSeriesInPrometheus: a pod that asks for more CPU than the only node has is marked
// Unschedulable by the real kube-scheduler of the test control plane; metrics of that pod, sent over OTLP,
// must reach Prometheus labelled with the diagnosis (reason Unschedulable, stuck true, status Pending).
func TestK8sPodDiagnosticsSeriesInPrometheus(t *testing.T) {
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	cluster.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	pod := testcluster.PodRequestingCPU("too-big", "4")
	if _, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	prom := startPrometheus(t, 0)
	proc, otlp := collector(t, "k8spoddiagnostics.yaml", map[string]string{"RW_ENDPOINT": prom.url() + "/api/v1/write",
		"KUBECONFIG": cluster.AdminKubeconfig(), "POD_NAMESPACE": ns})

	// The diagnosis needs the scheduler's verdict and the threshold to pass: keep sending until it shows.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			exportQuiet(ctx, otlp, podMetric(ns, "too-big"))
			time.Sleep(500 * time.Millisecond)
		}
	}()
	q := `count(e2e_pod_heartbeat{k8s_namespace_name="` + ns + `",k8s_pod_name="too-big",k8s_pod_diagnosis_reason="Unschedulable",k8s_pod_diagnosis_stuck="true",k8s_pod_diagnosis_status="Pending"})`
	if got := prom.waitScalar(t, q, 1, 60*time.Second); got != 1 {
		got := prom.query(t, `e2e_pod_heartbeat`)
		t.Fatalf("no diagnosis-labelled series; e2e_pod_heartbeat series: %v\ncollector output:\n%s", got, proc.Output())
	}
	for _, s := range prom.query(t, `e2e_pod_heartbeat{k8s_pod_diagnosis_reason="Unschedulable"}`) {
		t.Logf("diagnosed series: %v", s.Metric)
	}
	// The same diagnosis on k8s_cluster's k8s.pod.phase, which every stuck-pods panel reads.
	q = `count(k8s_pod_phase{k8s_namespace_name="` + ns + `",k8s_pod_name="too-big",k8s_pod_diagnosis_reason="Unschedulable",k8s_pod_diagnosis_stuck="true"})`
	if got := prom.waitScalar(t, q, 1, 60*time.Second); got != 1 {
		t.Fatalf("k8s_pod_phase of the pod is not diagnosed: %v\ncollector output:\n%s", prom.query(t, `k8s_pod_phase`), proc.Output())
	}
	checkDashboardHasData(t, prom, "stuck-pods.json")
}
