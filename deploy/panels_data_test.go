// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/deploy/dashboards"
	"github.com/otelcol-sre/otelcol-sre/internal/promtest"
)

// recordedSeries are the series the cluster-health, Lambda and stuck-pods dashboards read, in the form they reach AMP:
// YACE's names and labels (aws_lambda_<metric>_<statistic>, dimension_FunctionName, name, region,
// account_id, tag_<Tag>, the scrape's job/instance) and our collectors' names after remote write
// (k8s_cluster, kubelet_stats volume group, the collectors' :8888 scraped by prometheus/self). Each line is
// one series; the value is constant (v) or, for counters, grows by v per minute (counter).
var recordedSeries = []struct {
	series  string
	v       float64
	counter bool
}{
	// k8s_cluster (gateway-slo): one node NotReady with memory pressure, one healthy.
	{`k8s_node_condition_ready{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_node_uid="n1"}`, 0, false},
	{`k8s_node_condition_ready{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-2",k8s_node_uid="n2"}`, 1, false},
	{`k8s_node_condition_memory_pressure{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_node_uid="n1"}`, 1, false},
	{`k8s_node_condition_disk_pressure{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_node_uid="n1"}`, 0, false},
	{`k8s_node_condition_pid_pressure{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_node_uid="n1"}`, 0, false},
	{`k8s_job_failed_pods{cluster="c1",k8s_cluster_name="c1",k8s_namespace_name="ops",k8s_job_name="backup-29400480",k8s_job_uid="j1"}`, 2, false},
	{`k8s_job_active_pods{cluster="c1",k8s_cluster_name="c1",k8s_namespace_name="ops",k8s_job_name="backup-29400480",k8s_job_uid="j1"}`, 0, false},
	{`k8s_job_successful_pods{cluster="c1",k8s_cluster_name="c1",k8s_namespace_name="ops",k8s_job_name="backup-29400480",k8s_job_uid="j1"}`, 0, false},
	{`k8s_hpa_current_replicas{cluster="c1",k8s_cluster_name="c1",k8s_namespace_name="shop",k8s_hpa_name="web",k8s_hpa_uid="h1"}`, 10, false},
	{`k8s_hpa_max_replicas{cluster="c1",k8s_cluster_name="c1",k8s_namespace_name="shop",k8s_hpa_name="web",k8s_hpa_uid="h1"}`, 10, false},
	// k8spoddiagnostics receiver (agent: pods of its node; gateway-slo: pods without a node), with amp.yaml's
	// external label cluster: one stuck pod per node state, one diagnosed but not stuck.
	{`k8s_pod_diagnosis{cluster="c1",k8s_cluster_name="c1",k8s_namespace_name="shop",k8s_pod_name="cart-7d9f-x2",k8s_pod_uid="u1",k8s_deployment_name="cart",status="Pending",stuck="true",reason="Unschedulable",message="0/3 nodes are available: 3 Insufficient cpu."}`, 1, false},
	{`k8s_pod_diagnosis_duration{cluster="c1",k8s_cluster_name="c1",k8s_namespace_name="shop",k8s_pod_name="cart-7d9f-x2",k8s_pod_uid="u1",k8s_deployment_name="cart",reason="Unschedulable"}`, 900, false},
	{`k8s_pod_diagnosis{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_namespace_name="data",k8s_pod_name="pg-0",k8s_pod_uid="p1",k8s_statefulset_name="pg",status="CrashLoopBackOff",stuck="true",reason="OOMKilled",container="postgres",message="OOMKilled (exit code 137)"}`, 1, false},
	{`k8s_pod_diagnosis_duration{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_namespace_name="data",k8s_pod_name="pg-0",k8s_pod_uid="p1",k8s_statefulset_name="pg",reason="OOMKilled"}`, 2400, false},
	{`k8s_pod_diagnosis{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-2",k8s_namespace_name="shop",k8s_pod_name="web-1",k8s_pod_uid="u2",k8s_deployment_name="web",status="Running",stuck="false",reason="NotReady",container="web",message="Readiness probe failed: HTTP probe failed with statuscode: 503"}`, 1, false},
	// kubelet_stats volume group (agent).
	{`k8s_volume_available{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_namespace_name="data",k8s_pod_name="pg-0",k8s_pod_uid="p1",k8s_volume_name="data"}`, 12e9, false},
	{`k8s_volume_capacity{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_namespace_name="data",k8s_pod_name="pg-0",k8s_pod_uid="p1",k8s_volume_name="data"}`, 100e9, false},
	{`k8s_volume_inodes_free{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_namespace_name="data",k8s_pod_name="pg-0",k8s_pod_uid="p1",k8s_volume_name="data"}`, 6e6, false},
	{`k8s_volume_inodes{cluster="c1",k8s_cluster_name="c1",k8s_node_name="ip-10-0-1-1",k8s_namespace_name="data",k8s_pod_name="pg-0",k8s_pod_uid="p1",k8s_volume_name="data"}`, 6.5e6, false},
	// The collectors' own telemetry (prometheus/self).
	{`otelcol_receiver_refused_metric_points{cluster="c1",job="otelcol-sre",instance="10.0.1.5:8888",k8s_pod_name="otelcol-sre-gateway-lb-x1",receiver="otlp",transport="grpc"}`, 600, true},
	{`otelcol_receiver_refused_spans{cluster="c1",job="otelcol-sre",instance="10.0.1.5:8888",k8s_pod_name="otelcol-sre-gateway-lb-x1",receiver="otlp",transport="grpc"}`, 60, true},
	{`otelcol_receiver_refused_log_records{cluster="c1",job="otelcol-sre",instance="10.0.1.5:8888",k8s_pod_name="otelcol-sre-gateway-lb-x1",receiver="otlp",transport="grpc"}`, 6, true},
	{`otelcol_exporter_sent_metric_points{cluster="c1",job="otelcol-sre",instance="10.0.1.7:8888",k8s_pod_name="otelcol-sre-gateway-slo-0",exporter="prometheus_remote_write/amp"}`, 60000, true},
	{`otelcol_exporter_send_failed_metric_points{cluster="c1",job="otelcol-sre",instance="10.0.1.7:8888",k8s_pod_name="otelcol-sre-gateway-slo-0",exporter="prometheus_remote_write/amp"}`, 60, true},
	{`otelcol_exporter_queue_size{cluster="c1",job="otelcol-sre",instance="10.0.2.9:8888",k8s_pod_name="otelcol-sre-agent-abcde",exporter="otlp_grpc/gateway",data_type="metrics"}`, 1800, false},
	{`otelcol_exporter_queue_capacity{cluster="c1",job="otelcol-sre",instance="10.0.2.9:8888",k8s_pod_name="otelcol-sre-agent-abcde",exporter="otlp_grpc/gateway",data_type="metrics"}`, 2000, false},
	{`otelcol_exporter_enqueue_failed_metric_points{cluster="c1",job="otelcol-sre",instance="10.0.2.9:8888",k8s_pod_name="otelcol-sre-agent-abcde",exporter="otlp_grpc/gateway"}`, 300, true},
	{`otelcol_exporter_enqueue_failed_spans{cluster="c1",job="otelcol-sre",instance="10.0.2.9:8888",k8s_pod_name="otelcol-sre-agent-abcde",exporter="otlp_grpc/gateway"}`, 30, true},
	{`otelcol_exporter_enqueue_failed_log_records{cluster="c1",job="otelcol-sre",instance="10.0.2.9:8888",k8s_pod_name="otelcol-sre-agent-abcde",exporter="otlp_grpc/gateway"}`, 3, true},
	// YACE (gateway-slo-0's prometheus/yace scrape): per function, per alias, account level, Lambda Insights.
	{yaceFn("aws_lambda_invocations_sum", "orders-worker", ""), 1000, false},
	{yaceFn("aws_lambda_errors_sum", "orders-worker", ""), 12, false},
	{yaceFn("aws_lambda_throttles_sum", "orders-worker", ""), 50, false},
	{yaceFn("aws_lambda_dead_letter_errors_sum", "orders-worker", ""), 3, false},
	{yaceFn("aws_lambda_destination_delivery_failures_sum", "orders-worker", ""), 2, false},
	{yaceFn("aws_lambda_async_events_dropped_sum", "orders-worker", ""), 5, false},
	{yaceFn("aws_lambda_duration_p99", "orders-worker", ""), 27000, false},
	{yaceFn("aws_lambda_duration_maximum", "orders-worker", ""), 29500, false},
	{yaceFn("aws_lambda_duration_sum", "orders-worker", ""), 600000, false},
	{yaceFn("aws_lambda_iterator_age_maximum", "orders-worker", ""), 600000, false},
	{yaceFn("aws_lambda_async_event_age_maximum", "orders-worker", ""), 900000, false},
	{yaceFn("aws_lambda_concurrent_executions_maximum", "orders-worker", ""), 80, false},
	{yaceFn("aws_lambda_provisioned_concurrency_utilization_maximum", "orders-worker", "orders-worker:live"), 0.97, false},
	{yaceFn("aws_lambda_provisioned_concurrency_spillover_invocations_sum", "orders-worker", "orders-worker:live"), 12, false},
	{yaceGlobal("aws_lambda_claimed_account_concurrency_maximum"), 950, false},
	{yaceGlobal("aws_lambda_concurrent_executions_maximum"), 900, false},
	{yaceInsights("aws_lambdainsights_init_duration_p90", "orders-worker"), 3500, false},
	{yaceInsights("aws_lambdainsights_init_duration_maximum", "orders-worker"), 5200, false},
	{yaceInsights("aws_lambdainsights_memory_utilization_maximum", "orders-worker"), 22, false},
	{yaceInsights("aws_lambdainsights_used_memory_max_maximum", "orders-worker"), 230, false},
	{yaceInsights("aws_lambdainsights_total_memory_maximum", "orders-worker"), 1024, false},
}

const yaceLabels = `cluster="c1",k8s_cluster_name="c1",job="yace",instance="otelcol-sre-yace:5000",region="us-east-1",account_id="111122223333"`

func yaceFn(name, fn, resource string) string {
	return fmt.Sprintf(`%s{%s,name="arn:aws:lambda:us-east-1:111122223333:function:%s",dimension_FunctionName=%q,dimension_Resource=%q,tag_team="shop"}`,
		name, yaceLabels, fn, fn, resource)
}

func yaceGlobal(name string) string {
	return fmt.Sprintf(`%s{%s,name="global",dimension_FunctionName="",dimension_Resource="",tag_team=""}`, name, yaceLabels)
}

func yaceInsights(name, fn string) string {
	return fmt.Sprintf(`%s{%s,name="global",dimension_function_name=%q}`, name, yaceLabels, fn)
}

// The settings the Lambda rules join on, as lambda-settings.yaml would record them for orders-worker.
const panelsSettingsRules = `groups:
  - name: test-lambda-settings
    rules:
      - record: lambda_account_concurrency_quota
        expr: vector(1000)
        labels: {account_id: "111122223333", region: us-east-1}
      - record: lambda_gb_second_price_usd
        expr: vector(0.0000166667)
      - record: lambda_function_timeout_seconds
        expr: vector(30)
        labels: {dimension_FunctionName: orders-worker}
      - record: lambda_function_memory_megabytes
        expr: vector(1024)
        labels: {dimension_FunctionName: orders-worker}
`

// Every query of the cluster-health, Lambda and stuck-pods dashboards returns data from a real Prometheus
// that holds the recorded series (written as OpenMetrics and loaded with `promtool tsdb create-blocks-from
// openmetrics`) and evaluates deploy/rules/lambda.yaml's recording rules itself.
// (test/e2e TestK8sPodDiagnosticsSeriesInPrometheus runs the stuck-pods queries against the built binary's
// own series too; here they also meet amp.yaml's cluster label and pods of several namespaces and nodes.)
func TestClusterHealthLambdaAndStuckPodsPanelsReturnData(t *testing.T) {
	// Samples every minute for the last 30 minutes, ending now: rules evaluated now see them.
	now := time.Now().Truncate(time.Second)
	var om strings.Builder
	sorted := append(recordedSeries[:0:0], recordedSeries...)
	sort.SliceStable(sorted, func(i, j int) bool { return metricName(sorted[i].series) < metricName(sorted[j].series) })
	for _, s := range sorted {
		for i := 30; i >= 0; i-- {
			v := s.v
			if s.counter {
				v = s.v * float64(30-i)
			}
			om.WriteString(promtest.OpenMetricsSample(s.series, v, now.Add(-time.Duration(i)*time.Minute)))
		}
	}
	om.WriteString("# EOF\n")

	settings := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(settings, []byte(panelsSettingsRules), 0o600); err != nil {
		t.Fatal(err)
	}
	lambdaRules, err := filepath.Abs("rules/lambda.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, om.String(), settings, lambdaRules)

	// The recording rules have evaluated once the memory cost exists.
	deadline := time.Now().Add(30 * time.Second)
	for len(prom.Query(t, "lambda_function:memory_cost_usd:5m", time.Now())) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("lambda_function:memory_cost_usd:5m not recorded within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, q := range qs {
		if q.Dashboard != "cluster-health.json" && q.Dashboard != "lambda.json" && q.Dashboard != "stuck-pods.json" {
			continue
		}
		checked++
		if res := prom.Query(t, q.Expr, time.Now()); len(res) == 0 {
			t.Errorf("%s %q returns no data:\n%s", q.Dashboard, q.Panel, q.Expr)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d queries checked", checked)
	}
	t.Logf("%d cluster-health, Lambda and stuck-pods dashboard queries returned data", checked)
}

func metricName(series string) string {
	name, _, _ := strings.Cut(series, "{")
	return name
}
