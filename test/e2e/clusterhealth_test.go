// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-sre/otelcol-sre/deploy/dashboards"
	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

// TestClusterHealthSeriesInPrometheus: the built binary's k8s_cluster, watching the test control plane, and its
// own telemetry scraped by prometheus/self reach Prometheus with the names deploy/rules/cluster-health.yaml and
// deploy/dashboards/cluster-health.json read: a NotReady node under memory pressure, a failed CronJob Job, an
// HPA at its maximum, refused points, failed sends, a full queue and dropped items. Every dashboard query that
// does not need a kubelet (the volume panels read kubelet_stats, which has no kubelet here) returns data.
func TestClusterHealthSeriesInPrometheus(t *testing.T) {
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	ctx := t.Context()
	node := cluster.CreateNode(t, "", nil, func(n *corev1.Node) {
		n.Status.Conditions = []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory"},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse},
		}
	})

	// A CronJob's Job (<cronjob>-<scheduled minute>) whose pods failed; no job controller runs here, so the
	// status is what the kubelet and job controller would have reported.
	backoff := int32(1)
	job, err := cluster.Client().BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "backup-29400480"},
		Spec: batchv1.JobSpec{BackoffLimit: &backoff, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "backup", Image: "busybox"}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &start, Failed: 2}
	if _, err := cluster.Client().BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	minReplicas := int32(2)
	hpa, err := cluster.Client().AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    &minReplicas, MaxReplicas: 10,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 10, DesiredReplicas: 10}
	if _, err := cluster.Client().AutoscalingV2().HorizontalPodAutoscalers(ns).UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	prom := startPrometheus(t, 0)
	proc, otlp := collector(t, "clusterhealth.yaml", map[string]string{
		"RW_ENDPOINT": prom.url() + "/api/v1/write", "KUBECONFIG": cluster.AdminKubeconfig(),
		"METRICS_PORT": collectortest.Port(collectortest.FreePort(t)), "DEAD_PORT": collectortest.Port(collectortest.FreePort(t)),
	})
	// Points for the always-refusing OTLP pipeline.
	sendCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for sendCtx.Err() == nil {
			exportQuiet(sendCtx, otlp, podMetric(ns, "refused"))
			time.Sleep(200 * time.Millisecond)
		}
	}()

	waitForData(t, prom, `otelcol_exporter_queue_size{k8s_pod_name="otelcol-sre-e2e"}`, 60*time.Second, proc)
	time.Sleep(15 * time.Second) // the dead exporter's queue fills, its retries give up
	for _, s := range prom.query(t, `count by (__name__) ({__name__=~"otelcol_.*", k8s_pod_name="otelcol-sre-e2e"})`) {
		t.Logf("self-telemetry series: %s", s.Labels["__name__"])
	}
	for _, q := range []string{
		`max(k8s_node_condition_ready{k8s_node_name="` + node.Name + `"}) == 0`,
		`max(k8s_node_condition_memory_pressure{k8s_node_name="` + node.Name + `"}) == 1`,
		`max(k8s_job_failed_pods{k8s_namespace_name="` + ns + `", k8s_job_name="backup-29400480"}) == 2`,
		`max(k8s_hpa_current_replicas{k8s_namespace_name="` + ns + `", k8s_hpa_name="web"}) == 10`,
		`sum(rate(otelcol_receiver_refused_metric_points{k8s_pod_name="otelcol-sre-e2e", receiver="otlp"}[1m])) > 0`,
		`sum(otelcol_exporter_send_failed_metric_points{k8s_pod_name="otelcol-sre-e2e", exporter="otlp_grpc/dead"}) > 0`,
		`max(otelcol_exporter_queue_capacity{k8s_pod_name="otelcol-sre-e2e", exporter="otlp_grpc/dead"}) == 3`,
		`sum(otelcol_exporter_enqueue_failed_metric_points{k8s_pod_name="otelcol-sre-e2e", exporter="otlp_grpc/dead"}) > 0`,
	} {
		waitForData(t, prom, q, 60*time.Second, proc)
	}
	for _, name := range []string{"k8s_node_condition_ready", "k8s_job_failed_pods", "otelcol_exporter_queue_size"} {
		for _, s := range prom.query(t, name) {
			t.Logf("%s %v", name, s.Labels)
			break
		}
	}

	queries, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	// A panel has data when one of its targets has (the refused/dropped panels have a target per signal;
	// this collector only carries metrics).
	panels := map[string][]string{}
	for _, q := range queries {
		if q.Dashboard != "cluster-health.json" {
			continue
		}
		if strings.Contains(q.Expr, "k8s_volume_") {
			t.Logf("skipped (needs a kubelet): %s %q", q.Dashboard, q.Panel)
			continue
		}
		panels[q.Panel] = append(panels[q.Panel], q.Expr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for panel, exprs := range panels {
		for !slices.ContainsFunc(exprs, func(e string) bool { return len(prom.query(t, e)) > 0 }) {
			if time.Now().After(deadline) {
				t.Errorf("cluster-health.json panel %q returns no data: %v", panel, exprs)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	t.Logf("%d cluster-health panels and variables returned data from the built binary's series", len(panels))
}

func waitForData(t *testing.T, prom *prometheusServer, q string, timeout time.Duration, proc *collectortest.Process) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(prom.query(t, q)) == 0 {
		if time.Now().After(deadline) {
			t.Errorf("no data for %s within %s\ncollector output:\n%s", q, timeout, proc.Output())
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
