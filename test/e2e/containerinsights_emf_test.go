// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/cwlogspeer"
)

// ciMetric is one batch of metrics as awscontainerinsightreceiver emits it (v0.152.0,
// internal/aws/containerinsight.ConvertToOTLPMetrics): its tags as resource attributes (Type, ClusterName,
// NodeName, ..., the JSON-encoded Sources and kubernetes), one gauge per field, Container Insights' units
// (millicore values carry none: CloudWatch has no such unit).
type ciMetric struct {
	tags   map[string]string
	fields map[string]float64
}

var ciUnits = map[string]string{"cpu_utilization": "Percent", "memory_utilization": "Percent", "cpu_reserved_capacity": "Percent",
	"memory_reserved_capacity": "Percent", "cpu_utilization_over_pod_limit": "Percent", "memory_utilization_over_pod_limit": "Percent",
	"network_total_bytes": "Bytes/Second", "network_rx_bytes": "Bytes/Second", "network_tx_bytes": "Bytes/Second",
	"memory_working_set": "Bytes", "memory_limit": "Bytes", "filesystem_utilization": "Percent",
	"number_of_running_pods": "Count", "number_of_running_containers": "Count", "number_of_container_restarts": "Count",
	"node_count": "Count", "failed_node_count": "Count"}

func (m ciMetric) otlp(ts time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	for k, v := range m.tags {
		rm.Resource().Attributes().PutStr(k, v)
	}
	prefix := strings.ToLower(m.tags["Type"]) + "_"
	if m.tags["Type"] == "ClusterNamespace" {
		prefix = "namespace_"
	} else if m.tags["Type"] == "ClusterService" {
		prefix = "service_"
	} else if m.tags["Type"] == "NodeFS" {
		prefix = "node_"
	}
	for name, v := range m.fields {
		sm := rm.ScopeMetrics().AppendEmpty()
		metric := sm.Metrics().AppendEmpty()
		metric.SetName(name)
		metric.SetUnit(ciUnits[strings.TrimPrefix(name, prefix)])
		dp := metric.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetDoubleValue(v)
		dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	}
	return md
}

// consoleDimensions is what the Container Insights console queries in the ContainerInsights namespace: per
// metric, the dimension sets (keys sorted, as awsemf writes them). From the console's cluster, node, pod,
// service and namespace views (ADOT's shipped metric declarations encode the same).
var consoleDimensions = map[string][][]string{
	"node_cpu_utilization":                  {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"node_memory_utilization":               {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"node_network_total_bytes":              {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"node_cpu_reserved_capacity":            {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"node_memory_reserved_capacity":         {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"node_number_of_running_pods":           {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"node_number_of_running_containers":     {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"node_cpu_usage_total":                  {{"ClusterName"}},
	"node_cpu_limit":                        {{"ClusterName"}},
	"node_memory_working_set":               {{"ClusterName"}},
	"node_memory_limit":                     {{"ClusterName"}},
	"node_filesystem_utilization":           {{"ClusterName", "InstanceId", "NodeName"}, {"ClusterName"}},
	"pod_cpu_utilization":                   {{"ClusterName", "Namespace", "PodName"}, {"ClusterName", "Namespace", "Service"}, {"ClusterName", "Namespace"}, {"ClusterName"}},
	"pod_memory_utilization":                {{"ClusterName", "Namespace", "PodName"}, {"ClusterName", "Namespace", "Service"}, {"ClusterName", "Namespace"}, {"ClusterName"}},
	"pod_network_rx_bytes":                  {{"ClusterName", "Namespace", "PodName"}, {"ClusterName", "Namespace", "Service"}, {"ClusterName", "Namespace"}, {"ClusterName"}},
	"pod_network_tx_bytes":                  {{"ClusterName", "Namespace", "PodName"}, {"ClusterName", "Namespace", "Service"}, {"ClusterName", "Namespace"}, {"ClusterName"}},
	"pod_cpu_utilization_over_pod_limit":    {{"ClusterName", "Namespace", "PodName"}, {"ClusterName", "Namespace", "Service"}, {"ClusterName", "Namespace"}, {"ClusterName"}},
	"pod_memory_utilization_over_pod_limit": {{"ClusterName", "Namespace", "PodName"}, {"ClusterName", "Namespace", "Service"}, {"ClusterName", "Namespace"}, {"ClusterName"}},
	"pod_cpu_reserved_capacity":             {{"ClusterName", "Namespace", "PodName"}, {"ClusterName"}},
	"pod_memory_reserved_capacity":          {{"ClusterName", "Namespace", "PodName"}, {"ClusterName"}},
	"pod_number_of_container_restarts":      {{"ClusterName", "Namespace", "PodName"}},
	"cluster_node_count":                    {{"ClusterName"}},
	"cluster_failed_node_count":             {{"ClusterName"}},
	"service_number_of_running_pods":        {{"ClusterName", "Namespace", "Service"}, {"ClusterName"}},
	"namespace_number_of_running_pods":      {{"ClusterName", "Namespace"}, {"ClusterName"}},
}

// containerInsightsAgent is the built binary with the container-insights option merged into an agent-like
// config on loopback, its receiver replaced by OTLP (testdata/containerinsights-emf*.yaml); start again = a
// new process on the same ports and data directory (an agent restart on the same node).
type containerInsightsAgent struct{ env map[string]string }

func newContainerInsightsAgent(t *testing.T, cwlEndpoint string) *containerInsightsAgent {
	return &containerInsightsAgent{env: map[string]string{"HEALTH_PORT": freePort(t), "OTLP_PORT": freePort(t),
		"OTELCOL_SRE_CI_QUEUE_PORT": freePort(t), "CWL_ENDPOINT": cwlEndpoint, "OTELCOL_SRE_DATA_DIR": t.TempDir(),
		"OTELCOL_SRE_HOST_ROOT": t.TempDir()}}
}

func (a *containerInsightsAgent) start(t *testing.T) *collectortest.Process {
	t.Helper()
	return collectortest.StartConfigs(t, []string{filepath.Join("testdata", "containerinsights-emf.yaml"),
		filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "container-insights.yaml"),
		filepath.Join("testdata", "containerinsights-emf-override.yaml")}, a.env, "http://127.0.0.1:"+a.env["HEALTH_PORT"]+"/")
}

// TestContainerInsightsEMFForTheConsole: the container-insights option's awsemf/containerinsights
// (deploy/configs/container-insights.yaml, loaded as the agent loads it) turns metrics shaped exactly as
// awscontainerinsightreceiver emits them (cluster, node, node filesystem, pod, service, namespace) into EMF
// events in the performance log group: every event valid against the EMF JSON schema, in the
// ContainerInsights namespace, each console metric under exactly the console's dimension sets (no rollup
// sets added), Sources and kubernetes as JSON objects (parse_json_encoded_attr_values) as the console's
// performance-log queries read them. The metrics go the option's way: its persistent queue, then awsemf.
func TestContainerInsightsEMFForTheConsole(t *testing.T) {
	peer, endpoint := cloudWatchPeer(t)
	const clusterName, node, instance = "e2e-cluster", "ip-10-0-1-23.ec2.internal", "i-0123456789abcdef0"
	ci := newContainerInsightsAgent(t, endpoint)
	proc := ci.start(t)
	otlpPort := ci.env["OTLP_PORT"]

	nodeTags := map[string]string{"Type": "Node", "ClusterName": clusterName, "NodeName": node, "InstanceId": instance,
		"InstanceType": "m6i.large", "AutoScalingGroupName": "eks-ng-1", "Version": "0", "Sources": `["cadvisor","/proc","pod","calculated"]`,
		"kubernetes": `{"host":"` + node + `"}`}
	podTags := map[string]string{"Type": "Pod", "ClusterName": clusterName, "NodeName": node, "InstanceId": instance,
		"Namespace": "shop", "PodName": "web", "FullPodName": "web-7d9f8b6c5-x2x9z", "Service": "web", "Version": "0",
		"Sources":    `["cadvisor","pod","calculated"]`,
		"kubernetes": `{"host":"` + node + `","labels":{"app":"web"},"namespace_name":"shop","pod_id":"99e29e76-06ec-47f2-948e-36ff8adb931f","pod_name":"web-7d9f8b6c5-x2x9z","pod_owners":[{"owner_kind":"ReplicaSet","owner_name":"web-7d9f8b6c5"}],"service_name":"web"}`}
	batches := []ciMetric{
		{tags: nodeTags, fields: map[string]float64{"node_cpu_utilization": 12.5, "node_memory_utilization": 40, "node_network_total_bytes": 123456,
			"node_cpu_reserved_capacity": 35, "node_memory_reserved_capacity": 50, "node_number_of_running_pods": 11, "node_number_of_running_containers": 17,
			"node_cpu_usage_total": 250, "node_cpu_limit": 2000, "node_memory_working_set": 3.2e9, "node_memory_limit": 8e9}},
		{tags: map[string]string{"Type": "NodeFS", "ClusterName": clusterName, "NodeName": node, "InstanceId": instance, "device": "/dev/nvme0n1p1",
			"fstype": "xfs", "Version": "0", "Sources": `["cadvisor"]`, "kubernetes": `{"host":"` + node + `"}`},
			fields: map[string]float64{"node_filesystem_utilization": 31.5}},
		{tags: podTags, fields: map[string]float64{"pod_cpu_utilization": 1.5, "pod_memory_utilization": 2.5, "pod_network_rx_bytes": 1000,
			"pod_network_tx_bytes": 2000, "pod_cpu_utilization_over_pod_limit": 30, "pod_memory_utilization_over_pod_limit": 45,
			"pod_cpu_reserved_capacity": 5, "pod_memory_reserved_capacity": 6, "pod_number_of_container_restarts": 3}},
		{tags: map[string]string{"Type": "Cluster", "ClusterName": clusterName, "NodeName": node, "Version": "0", "Sources": `["apiserver"]`},
			fields: map[string]float64{"cluster_node_count": 3, "cluster_failed_node_count": 0}},
		{tags: map[string]string{"Type": "ClusterService", "ClusterName": clusterName, "NodeName": node, "Namespace": "shop", "Service": "web",
			"Version": "0", "Sources": `["apiserver"]`, "kubernetes": `{"namespace_name":"shop","service_name":"web"}`},
			fields: map[string]float64{"service_number_of_running_pods": 2}},
		{tags: map[string]string{"Type": "ClusterNamespace", "ClusterName": clusterName, "NodeName": node, "Namespace": "shop",
			"Version": "0", "Sources": `["apiserver"]`, "kubernetes": `{"namespace_name":"shop"}`},
			fields: map[string]float64{"namespace_number_of_running_pods": 2}},
	}
	conn, err := grpc.NewClient("127.0.0.1:"+otlpPort, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	for _, b := range batches {
		if _, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(b.otlp(now))); err != nil {
			t.Fatalf("OTLP export: %v", err)
		}
	}

	got := waitForConsoleMetrics(t, peer, clusterName, node, slices.Collect(maps.Keys(consoleDimensions)), 30*time.Second)
	checkConsoleDimensions(t, peer, got, slices.Collect(maps.Keys(consoleDimensions)))
	if t.Failed() {
		t.Logf("metrics with declarations: %v\n%s", slices.Sorted(maps.Keys(got)), proc.Output())
	}
}

// waitForConsoleMetrics reads the peer's events as the Container Insights console reads them, until every
// metric of want has a metric directive (or timeout passes): each event in clusterName's performance group,
// in the stream of node, sent as EMF, with Sources a JSON array and kubernetes a JSON object, every directive
// in the ContainerInsights namespace. It returns each declared metric's dimension sets.
func waitForConsoleMetrics(t *testing.T, peer *cwlogspeer.Server, clusterName, node string, want []string, timeout time.Duration) map[string][][]string {
	t.Helper()
	got := map[string][][]string{}
	all := func() bool {
		for _, m := range want {
			if _, ok := got[m]; !ok {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(timeout); !all() && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got = map[string][][]string{}
		for _, e := range peer.Events() {
			var ev struct {
				AWS        cwlogspeer.EMFMetadata `json:"_aws"`
				Kubernetes any                    `json:"kubernetes"`
				Sources    any
			}
			if err := json.Unmarshal([]byte(e.Message), &ev); err != nil {
				t.Fatalf("EMF event is not JSON: %v", err)
			}
			if e.Group != "/aws/containerinsights/"+clusterName+"/performance" || e.Stream != node || !e.EMF {
				t.Fatalf("event in group %q stream %q (EMF header %v), want the performance group, one stream per node", e.Group, e.Stream, e.EMF)
			}
			if _, ok := ev.Sources.([]any); !ok {
				t.Errorf("Sources is %T, want the JSON array the console reads: %s", ev.Sources, e.Message)
			}
			if _, ok := ev.Kubernetes.(map[string]any); ev.Kubernetes != nil && !ok {
				t.Errorf("kubernetes is %T, want a JSON object: %s", ev.Kubernetes, e.Message)
			}
			for _, d := range ev.AWS.CloudWatchMetrics {
				if d.Namespace != "ContainerInsights" {
					t.Fatalf("namespace %q, want ContainerInsights", d.Namespace)
				}
				for _, m := range d.Metrics {
					got[m.Name] = append(got[m.Name], d.Dimensions...)
				}
			}
		}
	}
	return got
}

// checkConsoleDimensions: the peer holds no invalid EMF, each metric of want is declared under exactly the
// console's dimension sets (consoleDimensions: no rollup sets added), and no metric the console does not
// read has a declaration. An event without `_aws` is not EMF but a performance log event: awsemf writes the
// receiver's metrics that no declaration names (e.g. Type NodeNet, per interface) as plain JSON, as ADOT
// does, and Logs Insights queries read them; it must still be a JSON object with Type.
func checkConsoleDimensions(t *testing.T, peer *cwlogspeer.Server, got map[string][][]string, want []string) {
	t.Helper()
	for _, inv := range peer.InvalidEMF() {
		var ev map[string]any
		if err := json.Unmarshal([]byte(inv.Event.Message), &ev); err == nil && ev["_aws"] == nil && ev["Type"] != nil {
			continue
		}
		t.Errorf("invalid EMF: %v\n%s", inv.Err, inv.Event.Message)
	}
	norm := func(sets [][]string) []string {
		var out []string
		for _, s := range sets {
			s = slices.Clone(s)
			sort.Strings(s)
			out = append(out, strings.Join(s, ","))
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	for _, metric := range want {
		if g := norm(got[metric]); !slices.Equal(g, norm(consoleDimensions[metric])) {
			t.Errorf("%s: dimension sets %v, want the console's %v", metric, g, norm(consoleDimensions[metric]))
		}
	}
	for metric := range got {
		if _, ok := consoleDimensions[metric]; !ok {
			t.Errorf("%s has a metric declaration the console does not read", metric)
		}
	}
}

// TestContainerInsightsEMFQueueKeepsWhatCloudWatchMissed: the option's metrics while CloudWatch Logs is down
// (connection refused), with the agent SIGKILLed and started again on the same data directory mid-outage.
// The receiver is a scraper: it never retries a collection its consumer refused, so every batch must be
// acknowledged at its first attempt (no refusal, no retry) and, once CloudWatch is back, arrive in the
// performance group as valid EMF. Without the persistent queue the first attempts fail (awsemf answers the
// outage); with a queue in memory the SIGKILL loses what it held.
func TestContainerInsightsEMFQueueKeepsWhatCloudWatchMissed(t *testing.T) {
	t.Parallel() // mostly waiting
	peer := cloudWatchPeerServer(t)
	srv := newLoopbackHTTP(t, peer)
	srv.down()
	ci := newContainerInsightsAgent(t, srv.url())
	proc := ci.start(t)
	const clusterName, node = "e2e-cluster", "ip-10-0-1-23.ec2.internal"
	// A node batch as the receiver emits it: node_cpu_utilization = the tick number.
	s := newSeqSender(t, "127.0.0.1:"+ci.env["OTLP_PORT"], "ci-queue", 1)
	s.metric, s.resource = "node_cpu_utilization", map[string]string{"Type": "Node", "ClusterName": clusterName,
		"NodeName": node, "InstanceId": "i-0123456789abcdef0", "Version": "0", "Sources": `["cadvisor","/proc","pod","calculated"]`}
	// A batch not acknowledged within 10 s counts as refused (the sender's retries then end).
	send := func(d time.Duration, phase string) {
		ctx, cancel := context.WithTimeout(t.Context(), d+10*time.Second)
		defer cancel()
		for _, err := range s.sendFor(ctx, d, 100*time.Millisecond) {
			t.Errorf("%s: %v", phase, err)
		}
	}
	send(4*time.Second, "CloudWatch down")
	time.Sleep(6 * time.Second) // past the queue's 5 s batch flush: the batches are on the volume, not in a batcher
	proc.Kill()
	t.Log("agent SIGKILLed while CloudWatch Logs is down; starting a new process on the same data directory")
	proc = ci.start(t)
	send(3*time.Second, "CloudWatch down, after the restart")
	srv.up(t)
	t.Log("CloudWatch Logs is back")

	sent, refused := s.counts()
	s.mu.Lock()
	attempts := s.attempts
	s.mu.Unlock()
	acked := s.ackedList()
	var got, dup int
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		got, dup = emfTallyMetric(t, peerMessages(peer, node), s.run, s.metric)
		if got >= sent || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("CloudWatch Logs down, agent SIGKILLed mid-outage: sent %d, acknowledged %d (attempts %d), refused %d, received %d, lost %d, duplicated %d",
		sent, len(acked), attempts, refused, got, sent-got, dup)
	if refused != 0 || attempts != sent || len(acked) != sent {
		t.Errorf("%d batches refused, %d attempts for %d batches: a scraper's collection would have been dropped", refused, attempts, sent)
	}
	if got != sent {
		t.Errorf("%d of %d batches never reached CloudWatch Logs\n%s", sent-got, sent, proc.Output())
	}
	for _, e := range peer.Events() {
		if e.Group != "/aws/containerinsights/"+clusterName+"/performance" || !e.EMF {
			t.Errorf("event in group %q (EMF header %v), want the performance group", e.Group, e.EMF)
		}
	}
	for _, inv := range peer.InvalidEMF() {
		t.Errorf("invalid EMF: %v\n%s", inv.Err, inv.Event.Message)
	}
}
