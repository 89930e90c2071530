// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/cwlogspeer"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
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
// Unschedulable by the real kube-scheduler of the test control plane. With gateway-slo.yaml's settings (the
// processor's defaults) its metrics reach Prometheus with stable labels only; the diagnosis is the
// receiver's own k8s_pod_diagnosis series, which a join puts next to them, which exactly one of the
// stuck-pods alert rules selects, and which every stuck-pods dashboard panel reads.
func TestK8sPodDiagnosticsSeriesInPrometheus(t *testing.T) {
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	cluster.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	pod := testcluster.PodRequestingCPU("too-big", "4")
	if _, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	prom := startPrometheus(t, 0)
	env := map[string]string{"RW_ENDPOINT": prom.url() + "/api/v1/write", "KUBECONFIG": cluster.AdminKubeconfig(),
		"POD_NAMESPACE": ns, "HEALTH_PORT": collectortest.Port(collectortest.FreePort(t)), "OTLP_PORT": collectortest.Port(collectortest.FreePort(t)),
		"OTEL_RESOURCE_ATTRIBUTES": "k8s.cluster.name=e2e", "CLUSTER_NAME": "e2e", "K8S_POD_NAME": "otelcol-sre-gateway-slo-0"}
	proc := collectortest.StartConfigs(t, []string{deployFragment(t, "cloudwatch.yaml", "exporters::awsemf"),
		filepath.Join("testdata", "k8spoddiagnostics.yaml")}, env, "http://127.0.0.1:"+env["HEALTH_PORT"]+"/")
	otlp := "127.0.0.1:" + env["OTLP_PORT"]

	// The diagnosis needs the scheduler's verdict and the threshold to pass: keep sending meanwhile.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			exportQuiet(ctx, otlp, podMetric(ns, "too-big"))
			time.Sleep(500 * time.Millisecond)
		}
	}()
	pods := `k8s_namespace_name="` + ns + `",k8s_pod_name="too-big"`
	q := `count(k8s_pod_diagnosis{` + pods + `,reason="Unschedulable",stuck="true",status="Pending"})`
	if got := prom.waitScalar(t, q, 1, 60*time.Second); got != 1 {
		t.Fatalf("no k8s_pod_diagnosis series of the pod: %v\ncollector output:\n%s", prom.query(t, `k8s_pod_diagnosis`), proc.Output())
	}
	// The names the receiver's series get through remote write (deploy/configs/amp.yaml's translation).
	for _, s := range prom.query(t, `{__name__=~"k8s_pod_diagnosis.*",`+pods+`}`) {
		t.Logf("receiver series: %v", s.Labels)
	}
	if got := prom.waitScalar(t, `count(k8s_pod_diagnosis_duration{`+pods+`,reason="Unschedulable"} > 0)`, 1, 10*time.Second); got != 1 {
		t.Errorf("no k8s_pod_diagnosis_duration of the pod: %v", prom.query(t, `{__name__=~"k8s_pod_diagnosis.*"}`))
	}

	// Metrics of the pod keep stable labels: the app's own and k8s_cluster's k8s_pod_phase.
	for _, metric := range []string{"e2e_pod_heartbeat", "k8s_pod_phase"} {
		if got := prom.waitScalar(t, `count(`+metric+`{`+pods+`})`, 1, 30*time.Second); got != 1 {
			t.Fatalf("%s of the pod: %v series, want 1", metric, got)
		}
		for k := range prom.query(t, metric+`{`+pods+`}`)[0].Labels {
			if strings.HasPrefix(k, "k8s_pod_diagnosis") {
				t.Errorf("%s carries the diagnosis label %s (metrics get none)", metric, k)
			}
		}
	}
	// The join the READMEs show: the diagnosis and Kubernetes' message next to the pod's own metric.
	join := `e2e_pod_heartbeat{` + pods + `} * on (k8s_namespace_name, k8s_pod_name) group_left (reason, message) k8s_pod_diagnosis{stuck="true"}`
	joined := prom.query(t, join)
	if len(joined) != 1 || joined[0].Labels["reason"] != "Unschedulable" || !strings.Contains(joined[0].Labels["message"], "Insufficient cpu") {
		t.Errorf("%s\n= %v, want one series with reason Unschedulable and the scheduler's message", join, joined)
	} else {
		t.Logf("joined: %v", joined[0].Labels)
	}

	// The stuck-pods alert rules: exactly PodUnschedulable selects the pod.
	b, err := os.ReadFile(filepath.Join(collectortest.RepoRoot(), "deploy", "rules", "stuck-pods.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts++
			got := prom.query(t, r.Expr)
			if want := r.Alert == "PodUnschedulable"; (len(got) == 1) != want || len(got) > 1 {
				t.Errorf("alert %s selects %v (want the pod: %v)", r.Alert, got, want)
			} else if want {
				t.Logf("alert %s selects %v", r.Alert, got[0].Labels)
			}
		}
	}
	if alerts < 8 {
		t.Errorf("read %d alert rules from deploy/rules/stuck-pods.yaml, want 8", alerts)
	}
	checkDashboardHasData(t, prom, "stuck-pods.json")
	checkStuckPodEMF(t, proc, ns)
}

// checkStuckPodEMF finds, on the collector's stdout, an EMF event of the pod's k8s.pod.diagnosis made with
// cloudwatch.yaml's declaration: valid EMF, the metric under its dimension sets (namespace and reason, never
// the pod or the message), the message a plain field.
func checkStuckPodEMF(t *testing.T, proc *collectortest.Process, ns string) {
	t.Helper()
	type event struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		} `json:"_aws"`
		Namespace string  `json:"k8s.namespace.name"`
		Reason    string  `json:"reason"`
		Message   string  `json:"message"`
		Value     float64 `json:"k8s.pod.diagnosis"`
	}
	var found *event
	var line string
	for deadline := time.Now().Add(20 * time.Second); found == nil && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		for _, l := range strings.Split(proc.Output(), "\n") {
			var ev event
			if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &ev) != nil || ev.Namespace != ns || len(ev.AWS.CloudWatchMetrics) != 1 ||
				!slices.ContainsFunc(ev.AWS.CloudWatchMetrics[0].Metrics, func(m struct{ Name string }) bool { return m.Name == diagnosis.MetricDiagnosis }) {
				continue
			}
			found, line = &ev, l
		}
	}
	if found == nil {
		t.Fatalf("no EMF event with a %s metric for namespace %s on stdout:\n%s", diagnosis.MetricDiagnosis, ns, proc.Output())
	}
	t.Logf("EMF: %s", line)
	if err := cwlogspeer.ValidateEMF(line); err != nil {
		t.Errorf("invalid EMF: %v", err)
	}
	want := [][]string{{"k8s.cluster.name", "k8s.namespace.name", diagnosis.PointReason}, {"k8s.cluster.name", diagnosis.PointReason}}
	if got := found.AWS.CloudWatchMetrics[0].Dimensions; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("dimension sets %v, want %v", got, want)
	}
	if found.Reason != "Unschedulable" || found.Value != 1 || !strings.Contains(found.Message, "Insufficient cpu") {
		t.Errorf("event reason %q value %v message %q, want Unschedulable, 1 and the scheduler's message", found.Reason, found.Value, found.Message)
	}
}

// podCounter is a cumulative counter of a pod (value v), identified by namespace and name.
func podCounter(namespace, pod string, start time.Time, v int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("k8s.namespace.name", namespace)
	rm.Resource().Attributes().PutStr("k8s.pod.name", pod)
	rm.Resource().Attributes().PutStr("service.name", "flappy-app")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("e2e.requests")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := sum.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	dp.SetIntValue(v)
	return md
}

// setPodStatus writes the kubelet's part of a pod through the status subresource.
func setPodStatus(t *testing.T, cluster *testcluster.Cluster, ns, name string, crashLooping bool) {
	t.Helper()
	now := metav1.Now()
	cs := corev1.ContainerStatus{Name: "app", Image: "app:1", Ready: true, RestartCount: 3,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}
	if crashLooping {
		cs.Ready = false
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: "back-off 40s restarting failed container=app"}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
			Message: "panic: DATABASE_URL is not set", StartedAt: now, FinishedAt: now}}
	}
	writePodStatus(t, cluster, ns, name, cs)
}

// TestK8sPodDiagnosisSeriesIdentity: on the real control plane a pod goes Running -> CrashLoopBackOff ->
// Running (status subresource) while the pipeline carries a counter of that pod through the processor with
// its defaults. The counter stays one series whose increase is what was sent; k8s_pod_diagnosis with
// reason CrashLoopBackOff is present while the pod is stuck and gets no sample after it recovers.
func TestK8sPodDiagnosisSeriesIdentity(t *testing.T) {
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	node := cluster.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "flappy"},
		Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
	if _, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	setPodStatus(t, cluster, ns, "flappy", false)

	prom := startPrometheus(t, 0)
	proc, otlp := collector(t, "k8spoddiagnosis-series.yaml", map[string]string{"RW_ENDPOINT": prom.url() + "/api/v1/write",
		"KUBECONFIG": cluster.AdminKubeconfig(), "POD_NAMESPACE": ns})

	// The counter: +1 every 500 ms, from 1, one export at a time.
	start := time.Now()
	var sent atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			v := sent.Load() + 1
			if exportOnce(ctx, otlp, podCounter(ns, "flappy", start, v)) == nil {
				sent.Store(v)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	stopSender := func() { cancel(); <-done }
	defer stopSender()

	sel := `{k8s_namespace_name="` + ns + `",k8s_pod_name="flappy"}`
	crash := `count(count_over_time(k8s_pod_diagnosis{k8s_namespace_name="` + ns + `",k8s_pod_name="flappy",reason="CrashLoopBackOff"}[3s]))`
	time.Sleep(5 * time.Second)
	if got := prom.scalar(t, crash); got != 0 {
		t.Fatalf("a CrashLoopBackOff diagnosis before the pod crash-looped: %v", prom.query(t, "k8s_pod_diagnosis"))
	}
	setPodStatus(t, cluster, ns, "flappy", true)
	if got := prom.waitScalar(t, crash, 1, 60*time.Second); got != 1 {
		t.Fatalf("no k8s_pod_diagnosis{reason=CrashLoopBackOff}: %v\ncollector output:\n%s", prom.query(t, "k8s_pod_diagnosis"), proc.Output())
	}
	time.Sleep(5 * time.Second)
	setPodStatus(t, cluster, ns, "flappy", false)
	if got := prom.waitScalar(t, crash, 0, 60*time.Second); got != 0 {
		t.Fatalf("k8s_pod_diagnosis{reason=CrashLoopBackOff} still gets samples after the pod recovered: %v", prom.query(t, "k8s_pod_diagnosis"))
	}
	time.Sleep(3 * time.Second)
	stopSender()
	last := sent.Load()
	// Let the last export reach Prometheus.
	prom.waitScalar(t, `max(max_over_time(e2e_requests`+sel+`[10m]))`, float64(last), 30*time.Second)

	series := prom.query(t, `count_over_time(e2e_requests`+sel+`[10m])`)
	if len(series) != 1 {
		t.Fatalf("the counter was cut into %d series across the state changes: %v", len(series), series)
	}
	t.Logf("counter series: %v", series[0].Labels)
	for k := range series[0].Labels {
		if strings.HasPrefix(k, "k8s_pod_diagnosis") {
			t.Errorf("the counter carries diagnosis label %s (metrics get none by default)", k)
		}
	}
	first := prom.scalar(t, `min_over_time(e2e_requests`+sel+`[10m])`)
	lastSeen := prom.scalar(t, `max_over_time(e2e_requests`+sel+`[10m])`)
	if resets := prom.scalar(t, `resets(e2e_requests`+sel+`[10m])`); resets != 0 {
		t.Errorf("resets() = %v, want 0", resets)
	}
	if lastSeen != float64(last) || first != 1 {
		t.Errorf("stored counter runs from %v to %v, sent 1 to %d", first, lastSeen, last)
	}
	// increase() over the whole span: Prometheus extrapolates to the range's edges (here, back toward the
	// counter's zero before the first sample and forward past the last), at most one increment on each
	// side at one increment per sample. The stored values above are the exact check.
	inc := prom.scalar(t, `increase(e2e_requests`+sel+`[10m])`)
	t.Logf("sent %d increments; stored first %v last %v; increase()[10m] = %.2f", last, first, lastSeen, inc)
	if inc < float64(last)-1 || inc > float64(last)+2 {
		t.Errorf("increase() = %.2f, want what was sent (%d) within the extrapolation of one increment each side", inc, last)
	}
}

// TestK8sPodDiagnosisLeaderElection: two built collectors with the gateway's receiver settings (pods without
// a node, the real k8s_leader_elector) against the real control plane. Only the lease holder reports: every
// pod has one k8s_pod_diagnosis series, from one collector. When the leader stops, the other takes the lease
// over and reports the same pods, again once.
func TestK8sPodDiagnosisLeaderElection(t *testing.T) {
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	cluster.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	for _, name := range []string{"too-big-a", "too-big-b"} {
		if _, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), testcluster.PodRequestingCPU(name, "4"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	prom := startPrometheus(t, 0)
	procs := map[string]*collectortest.Process{}
	for _, name := range []string{"a", "b"} {
		procs[name], _ = collector(t, "k8spoddiagnosis-leader.yaml", map[string]string{"RW_ENDPOINT": prom.url() + "/api/v1/write",
			"KUBECONFIG": cluster.AdminKubeconfig(), "POD_NAMESPACE": ns, "COLLECTOR_NAME": name})
	}
	sel := `k8s_pod_diagnosis{k8s_namespace_name="` + ns + `",reason="Unschedulable"}`
	// Series that got a sample in the last window, per pod and collector.
	recent := func(window string) map[string][]string {
		byPod := map[string][]string{}
		for _, s := range prom.query(t, `count by (k8s_pod_name, collector) (count_over_time(`+sel+`[`+window+`]))`) {
			byPod[s.Labels["k8s_pod_name"]] = append(byPod[s.Labels["k8s_pod_name"]], s.Labels["collector"])
		}
		return byPod
	}
	// onlyFrom waits until both pods are reported (by want, if set) and then checks that over the last 8 s
	// (eight collection intervals) each was reported by one collector, the same one. It returns that
	// collector and when the wait ended.
	onlyFrom := func(want string) (string, time.Time) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for now := recent("2s"); len(now) < 2 || (want != "" && !slices.Equal(now["too-big-a"], []string{want})); now = recent("2s") {
			if time.Now().After(deadline) {
				t.Fatalf("both pods not reported (by %q) within 60s: %v\na:\n%s\nb:\n%s", want, now, procs["a"].Output(), procs["b"].Output())
			}
			time.Sleep(500 * time.Millisecond)
		}
		seen := time.Now()
		time.Sleep(8 * time.Second)
		got := recent("8s")
		leader := got["too-big-a"][0]
		for _, pod := range []string{"too-big-a", "too-big-b"} {
			if len(got[pod]) != 1 || got[pod][0] != leader {
				t.Errorf("%s reported by %v over the last 8s, want one collector (%s)", pod, got[pod], leader)
			}
		}
		if n := prom.scalar(t, `count(last_over_time(`+sel+`[8s]))`); n != 2 {
			t.Errorf("%v k8s_pod_diagnosis series over the last 8s, want 2 (one per pod)", n)
		}
		return leader, seen
	}
	leader, _ := onlyFrom("")
	lease, err := cluster.Client().CoordinationV1().Leases(ns).Get(t.Context(), "otelcol-sre-e2e-diagnosis", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collector %s reports both pods alone; lease holder %s", leader, *lease.Spec.HolderIdentity)

	other := map[string]string{"a": "b", "b": "a"}[leader]
	stopped := time.Now()
	if err := procs[leader].Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	_, tookOver := onlyFrom(other)
	t.Logf("after %s stopped, %s reported both pods within %s (lease_duration 3s, the stopped leader does not release it)",
		leader, other, tookOver.Sub(stopped).Round(100*time.Millisecond))
}

// apiServerWatches reads the control plane's own count of open WATCH requests for pods and events in one
// namespace (apiserver_longrunning_requests, namespaced scope: the scheduler's cluster-wide watch is not in it).
func apiServerWatches(t *testing.T, cluster *testcluster.Cluster) (pods, events int) {
	t.Helper()
	b, err := cluster.Client().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "apiserver_longrunning_requests{") || !strings.Contains(line, `scope="namespace"`) || !strings.Contains(line, `verb="WATCH"`) {
			continue
		}
		fields := strings.Fields(line)
		n, err := strconv.Atoi(fields[len(fields)-1])
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch {
		case strings.Contains(line, `resource="pods"`):
			pods += n
		case strings.Contains(line, `resource="events"`):
			events += n
		}
	}
	return pods, events
}

// TestK8sPodDiagnosisOneSetOfWatches: the receiver and the processor in one built collector with the same
// settings open one watch of pods and one of events on the API server, by the API server's own count; with
// one setting apart (the processor's max_message_length) they open two of each. Stopping the collector
// closes them.
func TestK8sPodDiagnosisOneSetOfWatches(t *testing.T) {
	cluster := testcluster.Start(t)
	for _, tc := range []struct {
		length string
		want   int
	}{{"512", 1}, {"100", 2}} {
		ns := cluster.Namespace(t)
		pods0, events0 := apiServerWatches(t, cluster)
		proc, _ := collector(t, "k8spoddiagnosis-watches.yaml", map[string]string{"KUBECONFIG": cluster.AdminKubeconfig(),
			"POD_NAMESPACE": ns, "PROCESSOR_MAX_MESSAGE_LENGTH": tc.length})
		// Healthy means both components started and waited for their caches' first sync.
		pods, events := apiServerWatches(t, cluster)
		t.Logf("max_message_length %s: the API server counts %d watch(es) of pods and %d of events opened by the collector",
			tc.length, pods-pods0, events-events0)
		if pods-pods0 != tc.want || events-events0 != tc.want {
			t.Errorf("max_message_length %s: %d pod and %d event watches, want %d of each\n%s", tc.length, pods-pods0, events-events0, tc.want, proc.Output())
		}
		if err := proc.Stop(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for pods, events = apiServerWatches(t, cluster); (pods != pods0 || events != events0) && time.Now().Before(deadline); pods, events = apiServerWatches(t, cluster) {
			time.Sleep(200 * time.Millisecond)
		}
		if pods != pods0 || events != events0 {
			t.Errorf("after the collector stopped: %d pod and %d event watches, want the %d and %d from before", pods, events, pods0, events0)
		}
	}
}
