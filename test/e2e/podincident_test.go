// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

// incidentNote is what the test reads of the webhook document (version 1, schema in
// exporter/podincidentexporter/README.md), with the time the peer received it.
type incidentNote struct {
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Incidents []struct {
		ID        string `json:"id"`
		OwnerKind string `json:"owner_kind"`
		OwnerName string `json:"owner_name"`
		Reason    string `json:"reason"`
		PodCount  int    `json:"pod_count"`
	} `json:"incidents"`
	received time.Time
}

// webhookPeer is a loopback HTTP peer that keeps every document the pod_incident exporter posts.
type webhookPeer struct {
	mu    sync.Mutex
	notes []incidentNote
}

func (p *webhookPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n incidentNote
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.received = time.Now()
	p.mu.Lock()
	p.notes = append(p.notes, n)
	p.mu.Unlock()
}

func (p *webhookPeer) all() []incidentNote {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]incidentNote(nil), p.notes...)
}

// waitFor returns the first document of kind, waiting up to timeout.
func (p *webhookPeer) waitFor(t *testing.T, kind string, timeout time.Duration) incidentNote {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, n := range p.all() {
			if n.Kind == kind {
				return n
			}
		}
	}
	t.Fatalf("no %q notification within %s; the peer got %s", kind, timeout, p.summary())
	return incidentNote{}
}

func (p *webhookPeer) summary() string {
	var out []string
	for _, n := range p.all() {
		for _, i := range n.Incidents {
			out = append(out, fmt.Sprintf("%s %s/%s %s pods=%d id=%s", n.Kind, i.OwnerKind, i.OwnerName, i.Reason, i.PodCount, i.ID))
		}
	}
	return fmt.Sprint(out)
}

// setImagePull writes the kubelet's view of a pod: its container waiting in ImagePullBackOff, or running
// and ready once the image is fixed.
func setImagePull(t *testing.T, cluster *testcluster.Cluster, ns, name string, failing bool) {
	t.Helper()
	if !failing {
		writePodStatus(t, cluster, ns, name, corev1.ContainerStatus{Name: "app", Image: "registry.example/web:v2", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}})
		return
	}
	writePodStatus(t, cluster, ns, name, corev1.ContainerStatus{Name: "app", Image: "registry.example/web:v2-typo",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
			Message: `Back-off pulling image "registry.example/web:v2-typo"`}}})
}

// writePodStatus writes the kubelet's part of a pod through the status subresource: scheduled,
// initialized, its one container cs, Ready as cs is; phase Running, or Pending while cs waits for its
// first start (no last termination).
func writePodStatus(t *testing.T, cluster *testcluster.Cluster, ns, name string, cs corev1.ContainerStatus) {
	t.Helper()
	p, err := cluster.Client().CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	phase, ready := corev1.PodRunning, corev1.ConditionTrue
	if !cs.Ready {
		ready = corev1.ConditionFalse
	}
	if cs.State.Waiting != nil && cs.LastTerminationState.Terminated == nil {
		phase = corev1.PodPending
	}
	p.Status = corev1.PodStatus{Phase: phase, PodIP: "10.9.0.7", PodIPs: []corev1.PodIP{{IP: "10.9.0.7"}}, StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: ready, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{cs}}
	if _, err := cluster.Client().CoreV1().Pods(ns).UpdateStatus(t.Context(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createDeploymentPods creates a Deployment, its ReplicaSet and n pods owned by it (no controller-manager
// runs here, so the test plays the controllers), bound to node.
func createDeploymentPods(t *testing.T, cluster *testcluster.Cluster, ns, name, node string, n int) []string {
	t.Helper()
	const hash = "5d9f8c7b6d"
	labels := map[string]string{"app": name}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:v2-typo"}}}}
	replicas := int32(n)
	d, err := cluster.Client().AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rsLabels := map[string]string{"app": name, "pod-template-hash": hash}
	controller := true
	tmpl.Labels = rsLabels
	rs, err := cluster.Client().AppsV1().ReplicaSets(ns).Create(t.Context(), &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + hash, Labels: rsLabels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &controller}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: rsLabels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range n {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", rs.Name, i), Labels: rsLabels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &controller}}},
			Spec: *tmpl.Spec.DeepCopy()}
		pod.Spec.NodeName = node
		if _, err := cluster.Client().CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, pod.Name)
	}
	return names
}

// incidentRig is a Deployment's pods on the test control plane and a collector running the shipped
// deploy/configs/incidents.yaml plus test overrides, notifying a loopback webhook peer.
type incidentRig struct {
	peer  *webhookPeer
	start func() *collectortest.Process // on the same ports and file_storage directory every time
	// setAll puts every pod in ImagePullBackOff (failing) or running, and returns when that was written.
	setAll func(failing bool) time.Time
	pods   int
}

// newIncidentRig: 3 running pods of Deployment web; overrides are testdata files loaded after incidents.yaml.
func newIncidentRig(t *testing.T, overrides ...string) *incidentRig {
	t.Helper()
	cluster := testcluster.Start(t)
	ns := cluster.Namespace(t)
	node := cluster.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")})
	pods := createDeploymentPods(t, cluster, ns, "web", node.Name, 3)
	rig := &incidentRig{peer: &webhookPeer{}, pods: len(pods)}
	rig.setAll = func(failing bool) time.Time {
		for _, p := range pods {
			setImagePull(t, cluster, ns, p, failing)
		}
		return time.Now()
	}
	rig.setAll(false)
	srv := httptest.NewServer(rig.peer)
	t.Cleanup(srv.Close)
	env := map[string]string{
		"HEALTH_PORT": collectortest.Port(collectortest.FreePort(t)), "OTLP_PORT": collectortest.Port(collectortest.FreePort(t)),
		"KUBECONFIG": cluster.AdminKubeconfig(), "POD_NAMESPACE": ns, "CLUSTER_NAME": "e2e",
		"OTELCOL_SRE_DATA_DIR": t.TempDir(), "WEBHOOK_URL": srv.URL + "/incidents",
	}
	configs := []string{filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "incidents.yaml")}
	for _, o := range overrides {
		configs = append(configs, filepath.Join("testdata", o))
	}
	rig.start = func() *collectortest.Process {
		return collectortest.StartConfigs(t, configs, env, "http://127.0.0.1:"+env["HEALTH_PORT"]+"/")
	}
	return rig
}

// checkOpened: the "opened" is one incident of Deployment web, ImagePullBackOff, with every pod.
func (r *incidentRig) checkOpened(t *testing.T, opened incidentNote) {
	t.Helper()
	if len(opened.Incidents) != 1 || opened.Incidents[0].OwnerKind != "Deployment" || opened.Incidents[0].OwnerName != "web" ||
		opened.Incidents[0].Reason != "ImagePullBackOff" || opened.Incidents[0].PodCount != r.pods {
		t.Fatalf("opened: want one incident of Deployment web, ImagePullBackOff, %d pods; got %s", r.pods, r.peer.summary())
	}
}

// TestPodIncidentOpenedOnceAcrossSIGKILL: the built binary runs the shipped deploy/configs/incidents.yaml
// (all-pods k8spoddiagnostics receiver behind k8s_leader_elector, file_storage/incidents for the table and
// the persistent queue) with short timings against the real control plane and a loopback webhook peer.
// A Deployment's 3 pods go ImagePullBackOff (status subresource) -> exactly one "opened" for one incident
// of 3 pods; the collector is SIGKILLed while it is open and restarted on the same directory; the pods are
// fixed -> exactly one "resolved" and no second "opened". Logs the time from the pods' stuck moment
// (ImagePullBackOff is stuck at once: that is its threshold) to the "opened" at the peer.
func TestPodIncidentOpenedOnceAcrossSIGKILL(t *testing.T) {
	rig := newIncidentRig(t, "podincident.yaml", "podincident-fast.yaml")
	peer, start, setAll := rig.peer, rig.start, rig.setAll
	first := start()
	// Past startup_window (1s) and the first lease: the pods turn stuck on a running collector.
	time.Sleep(3 * time.Second)

	stuckAt := setAll(true)
	opened := peer.waitFor(t, "opened", 30*time.Second)
	t.Logf("time to notify: %.2fs from the pods' ImagePullBackOff (stuck at once) to \"opened\" at the peer (group_wait 2s, collection_interval 1s)",
		opened.received.Sub(stuckAt).Seconds())
	rig.checkOpened(t, opened)

	// The incident table is written right after the notification was queued: give it a moment, then kill.
	time.Sleep(2 * time.Second)
	first.Kill()
	t.Logf("SIGKILL with the incident open; restarting on the same file_storage directory")
	second := start()
	// The restarted collector waits out the dead one's lease (3s), then reports the still-stuck pods.
	time.Sleep(8 * time.Second)

	fixedAt := setAll(false)
	resolved := peer.waitFor(t, "resolved", 40*time.Second)
	if resolved.received.Before(fixedAt) {
		t.Fatalf("resolved before the fix: the restarted collector did not keep seeing the stuck pods\n%s", second.Output())
	}
	t.Logf("resolved %.2fs after the fix (hold_down 6s)", resolved.received.Sub(fixedAt).Seconds())
	// A second "resolved" or "opened" would come within a hold-down.
	time.Sleep(8 * time.Second)

	kinds := map[string]int{}
	for _, n := range peer.all() {
		kinds[n.Kind]++
		if n.Version != "1" {
			t.Errorf("document version %q, want 1", n.Version)
		}
	}
	t.Logf("notifications at the peer: %v (%s)", kinds, peer.summary())
	if kinds["opened"] != 1 || kinds["resolved"] != 1 || len(kinds) != 2 {
		t.Errorf("want exactly 1 opened and 1 resolved across the SIGKILL, got %v\nrestarted collector output:\n%s", kinds, second.Output())
	}
	if resolved.Incidents[0].ID != opened.Incidents[0].ID {
		t.Errorf("resolved incident %s is not the opened one %s", resolved.Incidents[0].ID, opened.Incidents[0].ID)
	}
}

// TestPodIncidentTimeToNotifyAtDeployTimings (OTELCOL_SRE_INCIDENT_TIMING=1, about 1.5 minutes): the same
// pods and config with deploy's timings (collection_interval 30s, group_wait 30s, tick 10s; only
// startup_window is shortened, so that pods stuck after the start are not an already-stuck digest):
// logs the time from the pods' ImagePullBackOff to "opened" at the peer.
func TestPodIncidentTimeToNotifyAtDeployTimings(t *testing.T) {
	if os.Getenv("OTELCOL_SRE_INCIDENT_TIMING") == "" {
		t.Skip("set OTELCOL_SRE_INCIDENT_TIMING=1 to measure the time to notify at deploy's timings (about 1.5 minutes)")
	}
	rig := newIncidentRig(t, "podincident.yaml")
	rig.start()
	time.Sleep(3 * time.Second)
	stuckAt := rig.setAll(true)
	opened := rig.peer.waitFor(t, "opened", 3*time.Minute)
	t.Logf("time to notify at deploy timings: %.1fs from the pods' ImagePullBackOff to \"opened\" at the peer", opened.received.Sub(stuckAt).Seconds())
	rig.checkOpened(t, opened)
}
