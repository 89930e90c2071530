// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/cwlogspeer"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

// fluentBitRecord is the JSON record Container Insights' Fluent Bit writes for a container log line (built-in
// cri multiline parser, kubernetes filter with Labels and Annotations off). Decoded strictly: a field more
// or less is a different shape.
type fluentBitRecord struct {
	Time       string `json:"time"`
	Stream     string `json:"stream"`
	P          string `json:"_p"`
	Log        string `json:"log"`
	Kubernetes struct {
		PodName        string `json:"pod_name"`
		NamespaceName  string `json:"namespace_name"`
		PodID          string `json:"pod_id"`
		Host           string `json:"host"`
		ContainerName  string `json:"container_name"`
		DockerID       string `json:"docker_id"`
		ContainerImage string `json:"container_image"`
	} `json:"kubernetes"`
}

// criLine is one line of a container log file as containerd writes it.
type criLine struct {
	at     time.Time
	stream string
	text   string
}

// logPod creates a pod bound to node with one container per name and gives each a running status with a
// containerd id, as the kubelet would; it returns the pod and the container ids by name.
func logPod(t *testing.T, cluster *testcluster.Cluster, ns, name, node string, containers map[string]string) (*corev1.Pod, map[string]string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	for c, image := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: image})
	}
	pod, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = cluster.Client().CoreV1().Pods(ns).Delete(t.Context(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	ids := map[string]string{}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now}
	for _, c := range pod.Spec.Containers {
		sum := sha256.Sum256([]byte(ns + "/" + name + "/" + c.Name)) // containerd ids are 64 hex digits
		ids[c.Name] = hex.EncodeToString(sum[:])
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image,
			ContainerID: "containerd://" + ids[c.Name], Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	if pod, err = cluster.Client().CoreV1().Pods(ns).UpdateStatus(t.Context(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return pod, ids
}

// writeFile writes lines to root/rel, creating directories.
func writeFile(t *testing.T, root, rel string, lines []string) {
	t.Helper()
	path := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestContainerInsightsLogsFluentBitShape: pod log files in the kubelet's /var/log/pods layout and the node's
// dmesg/messages/secure go through the agent's file_log + k8s_attributes (real control plane, pods with
// containerd ids in their status) and deploy/configs/cloudwatch.yaml's Container Insights routing, transforms
// and exporters, to the local CloudWatch Logs peer. Every record must be in Fluent Bit's shape with the pod's
// identity, in the group and stream Container Insights uses, and a Logs Insights query written for Fluent
// Bit's records must count them by namespace.
func TestContainerInsightsLogsFluentBitShape(t *testing.T) {
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	const nodeName, clusterName = "ip-10-0-1-23.ec2.internal", "e2e-cluster"
	cluster.CreateNode(t, nodeName, nil)
	if _, err := cluster.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	web, webIDs := logPod(t, cluster, ns, "web-7d9f8b6c5-x2x9z", nodeName,
		map[string]string{"app": "public.ecr.aws/nginx/nginx:1.27", "istio-proxy": "docker.io/istio/proxyv2:1.24.0"})
	cni, cniIDs := logPod(t, cluster, "kube-system", "aws-node-"+ns[len(ns)-5:], nodeName,
		map[string]string{"aws-node": "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.0"})

	root := t.TempDir()
	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	files := map[*corev1.Pod]map[string][]criLine{
		web: {
			"app": {{t0, "stdout", `10.0.1.5 - - "GET / HTTP/1.1" 200`}, {t0.Add(time.Second), "stdout", `10.0.1.5 - - "GET /cart HTTP/1.1" 200`},
				{t0.Add(2 * time.Second), "stderr", `upstream timed out (110: Connection timed out)`}, {t0.Add(3 * time.Second), "stdout", `{"level":"info","msg":"json body stays a string"}`}},
			"istio-proxy": {{t0, "stdout", `[2026-11-27T15:00:00.000Z] "GET / HTTP/1.1" 200 - via_upstream`}, {t0.Add(time.Second), "stderr", `warning envoy config`}},
		},
		cni: {"aws-node": {{t0, "stdout", `{"level":"info","msg":"Starting IPAM daemon"}`}, {t0.Add(time.Second), "stdout", `{"level":"info","msg":"IPAM ready"}`}}},
	}
	want := map[string][]fluentBitRecord{} // by stream name
	wantGroup := map[string]string{}
	for pod, containers := range files {
		ids := webIDs
		group, tag := "application", "application.var.log.containers."
		if pod == cni {
			ids, group, tag = cniIDs, "dataplane", "dataplane.tail.var.log.containers."
		}
		for c, lines := range containers {
			var text []string
			stream := fmt.Sprintf("%s-%s%s_%s_%s-%s.log", nodeName, tag, pod.Name, pod.Namespace, c, ids[c])
			wantGroup[stream] = "/aws/containerinsights/" + clusterName + "/" + group
			for _, l := range lines {
				text = append(text, l.at.Format(time.RFC3339Nano)+" "+l.stream+" F "+l.text)
				var r fluentBitRecord
				r.Time, r.Stream, r.P, r.Log = l.at.Format(time.RFC3339Nano), l.stream, "F", l.text // the line's own text, as cri parses it
				r.Kubernetes.PodName, r.Kubernetes.NamespaceName, r.Kubernetes.PodID = pod.Name, pod.Namespace, string(pod.UID)
				r.Kubernetes.Host, r.Kubernetes.ContainerName, r.Kubernetes.DockerID = nodeName, c, ids[c]
				for _, sc := range pod.Spec.Containers {
					if sc.Name == c {
						r.Kubernetes.ContainerImage = sc.Image
					}
				}
				want[stream] = append(want[stream], r)
			}
			writeFile(t, root, filepath.Join("var/log/pods", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID), c, "0.log"), text)
		}
	}
	host := map[string][]string{
		"dmesg":    {`[    0.000000] Linux version 6.1.112-124.190.amzn2023.x86_64`, `[    2.131415] ena 0000:00:05.0: ENA device version: 0.10`},
		"messages": {`Nov 27 15:00:01 ip-10-0-1-23 kubelet[2345]: I1127 15:00:01.000000 2345 kubelet.go:2345] "SyncLoop ADD"`, `Nov  7 15:00:02 ip-10-0-1-23 systemd: Started containerd.service.`},
		"secure":   {`Nov 27 15:00:03 ip-10-0-1-23 sshd[998]: Accepted publickey for ec2-user from 10.0.0.9 port 51234`},
	}
	wantHost := map[string][]map[string]string{
		nodeName + ".host.dmesg": {{"message": host["dmesg"][0]}, {"message": host["dmesg"][1]}},
		nodeName + ".host.messages": {
			{"host": "ip-10-0-1-23", "ident": "kubelet", "pid": "2345", "message": `I1127 15:00:01.000000 2345 kubelet.go:2345] "SyncLoop ADD"`},
			{"host": "ip-10-0-1-23", "ident": "systemd", "message": "Started containerd.service."}},
		nodeName + ".host.secure": {{"host": "ip-10-0-1-23", "ident": "sshd", "pid": "998", "message": "Accepted publickey for ec2-user from 10.0.0.9 port 51234"}},
	}
	for f, lines := range host {
		writeFile(t, root, "var/log/"+f, lines)
		wantGroup[nodeName+".host."+f] = "/aws/containerinsights/" + clusterName + "/host"
	}

	peer, endpoint := cloudWatchPeer(t)
	healthPort := collectortest.Port(collectortest.FreePort(t))
	proc := collectortest.Start(t, filepath.Join("testdata", "containerinsights-logs.yaml"), map[string]string{
		"HEALTH_PORT": healthPort, "CWL_ENDPOINT": endpoint, "KUBECONFIG": cluster.AdminKubeconfig(), "LOG_ROOT": root,
		"K8S_NODE_NAME": nodeName, "CLUSTER_NAME": clusterName, "K8S_POD_NAME": "otelcol-sre-agent-e2e",
		"OTEL_RESOURCE_ATTRIBUTES": "k8s.cluster.name=" + clusterName + ",k8s.node.name=" + nodeName,
		"OTELCOL_SRE_DATA_DIR":     t.TempDir(), "OTELCOL_SRE_EMF_QUEUE_PORT": collectortest.Port(collectortest.FreePort(t)),
	}, "http://127.0.0.1:"+healthPort+"/",
		"--config", filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "cloudwatch.yaml"), "--config", filepath.Join("testdata", "aws-endpoints.yaml"))

	total := 0
	for _, rs := range want {
		total += len(rs)
	}
	for _, rs := range wantHost {
		total += len(rs)
	}
	var events []cwlogspeer.Event
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if events = peer.Events(); len(events) >= total || time.Now().After(deadline) {
			break
		}
	}
	if len(events) != total {
		t.Fatalf("the peer got %d events, want %d\n%s", len(events), total, proc.Output())
	}

	got := map[string][]fluentBitRecord{}
	gotHost := map[string][]map[string]string{}
	for _, e := range events {
		if g, ok := wantGroup[e.Stream]; !ok || g != e.Group {
			t.Errorf("event in group %q, stream %q: want one of the Container Insights streams %v", e.Group, e.Stream, wantGroup)
			continue
		}
		if strings.Contains(e.Stream, ".host.") {
			var r map[string]string
			if err := json.Unmarshal([]byte(e.Message), &r); err != nil {
				t.Errorf("host record is not a flat JSON object of strings: %v\n%s", err, e.Message)
			}
			gotHost[e.Stream] = append(gotHost[e.Stream], r)
			continue
		}
		var r fluentBitRecord
		dec := json.NewDecoder(bytes.NewReader([]byte(e.Message)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Errorf("record not in Fluent Bit's shape: %v\n%s", err, e.Message)
			continue
		}
		if ts, err := time.Parse(time.RFC3339Nano, r.Time); err != nil || ts.UnixMilli() != e.Timestamp {
			t.Errorf("record time %q (%v) is not the event timestamp %d", r.Time, err, e.Timestamp)
		}
		got[e.Stream] = append(got[e.Stream], r)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pod records by stream:\ngot  %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(gotHost, wantHost) {
		t.Errorf("host records by stream:\ngot  %v\nwant %v", gotHost, wantHost)
	}

	// Logs Insights queries as Container Insights users write them, over the application group.
	var app []cwlogspeer.Event
	for _, e := range events {
		if e.Group == "/aws/containerinsights/"+clusterName+"/application" {
			app = append(app, e)
		}
	}
	for _, q := range []struct {
		query string
		want  []map[string]string
	}{
		{`filter kubernetes.pod_name = "` + web.Name + `" | stats count(*) as n by kubernetes.namespace_name`,
			[]map[string]string{{"kubernetes.namespace_name": ns, "n": "6"}}},
		{`filter kubernetes.namespace_name = "` + ns + `" | filter stream = "stderr" | stats count(*) as errors by kubernetes.container_name | sort kubernetes.container_name`,
			[]map[string]string{{"kubernetes.container_name": "app", "errors": "1"}, {"kubernetes.container_name": "istio-proxy", "errors": "1"}}},
		{`filter log like /GET \/cart/ | stats count(*) by kubernetes.pod_name, kubernetes.host`,
			[]map[string]string{{"kubernetes.pod_name": web.Name, "kubernetes.host": nodeName, "count(*)": "1"}}},
	} {
		rows, err := cwlogspeer.Query(q.query, app)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rows, q.want) {
			t.Errorf("%s\ngot  %v\nwant %v", q.query, rows, q.want)
		}
	}
}
