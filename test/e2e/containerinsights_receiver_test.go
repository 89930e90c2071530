// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/internal/collectortest"
	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// TestContainerInsightsReceiverLive runs the container-insights option as shipped (its awscontainerinsightreceiver,
// persistent queue and awsemf) in the built binary, as far as this machine allows:
//
//   - in-cluster: the receiver's pod ServiceAccount files (the real test control plane's CA and a real token of a
//     ServiceAccount holding exactly the shipped agent + option RBAC) are bind-mounted at
//     /var/run/secrets/kubernetes.io/serviceaccount in a private mount namespace (unshare -m), with
//     KUBERNETES_SERVICE_HOST/PORT at the real API server: leader election on a Lease, the node, pod and
//     EndpointSlice informers, the cluster-level metrics, all real;
//
//   - cAdvisor in-process on this machine's cgroups and /proc (node CPU, memory, network, filesystem);
//
//   - stand-ins, named as such, where no real part can run here: EC2 instance metadata (IMDS) and the EC2 API
//     (DescribeTags gives the cluster name, SigV4 checked) on loopback, and the kubelet's /pods (HTTPS, serving
//     the real API server's pods of the node after authenticating the receiver's token with a TokenReview and
//     authorizing nodes/proxy with a SubjectAccessReview, as the kubelet does).
//
//   - the pods' containers are real: Debian's containerd and runc run each pod's sandbox and app container (a
//     static busybox) in /kubepods/burstable/pod<uid>/<id> with the CRI's labels, the sandbox's network namespace
//     holding a veth as eth0; the receiver reaches containerd at /run/containerd/containerd.sock in its mount
//     namespace, as the DaemonSet mounts it (containerRuntime).
//
// The EMF records reaching the loopback CloudWatch Logs peer are checked with the console's checks
// (waitForConsoleMetrics, checkConsoleDimensions: all 25 console metrics) and their values against this
// machine, the pods' requests and the cluster.
func TestContainerInsightsReceiverLive(t *testing.T) {
	t.Parallel() // mostly waiting for the receiver's collections
	testenv.NeedRoot(t, "bind-mount the ServiceAccount files in a private mount namespace")
	unshare := testenv.LookPath(t, "unshare", "util-linux")
	runtime := newContainerRuntime(t)
	cluster := testcluster.Start(t)
	client := cluster.Client()
	ns := cluster.Namespace(t)
	const clusterName, node, instanceID = "e2e-live", "ip-10-0-7-42.ec2.internal", "i-0a1b2c3d4e5f60718"
	cluster.CreateNode(t, node, nil)

	// Two Running pods of a Service on the node (no kubelet or endpoints controller runs: the test writes the
	// status and the EndpointSlice they would write).
	var slice []discoveryv1.Endpoint
	for _, name := range []string{"web-1", "web-2"} {
		p, err := client.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "public.ecr.aws/docker/library/nginx:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"),
					corev1.ResourceMemory: resource.MustParse("128Mi")}, Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"),
					corev1.ResourceMemory: resource.MustParse("256Mi")}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.7." + strconv.Itoa(10+len(slice)),
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, Image: p.Spec.Containers[0].Image,
				ContainerID: "containerd://" + strings.Repeat(strconv.Itoa(len(slice)+1), 64),
				State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}}
		if _, err := client.CoreV1().Pods(ns).UpdateStatus(t.Context(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		runtime.runPodContainer(t, p, strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://"))
		slice = append(slice, discoveryv1.Endpoint{Addresses: []string{p.Status.PodIP}, NodeName: &p.Spec.NodeName,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name, UID: p.UID}})
	}
	if _, err := client.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Create(t.Context(), &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4, Endpoints: slice,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The agent's ServiceAccount with the shipped RBAC, and its token and the cluster's CA as a pod has them.
	token := shippedAgentServiceAccount(t, cluster, ns)
	hostIP := loopbackHostIP(t)
	kubelet := newKubeletStandIn(t, client, node, hostIP)
	saDir := t.TempDir()
	for name, content := range map[string]string{"token": token, "namespace": ns,
		"ca.crt": string(cluster.Config().CAData) + kubelet.caPEM} {
		if err := os.WriteFile(filepath.Join(saDir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	apiURL, err := url.Parse(cluster.Host())
	if err != nil {
		t.Fatal(err)
	}
	imds := httptest.NewServer(imdsStandIn(instanceID, hostIP))
	t.Cleanup(imds.Close)
	ec2 := newEC2StandIn(t, instanceID, clusterName)

	peer, cwl := cloudWatchPeer(t)
	ci := newContainerInsightsAgent(t, cwl)
	for k, v := range map[string]string{
		"HOST_NAME": node, "HOST_IP": hostIP, "K8S_NAMESPACE": ns, "HOME": t.TempDir(), // no kubeconfig: in-cluster only
		// The node's /proc: the DaemonSet mounts the node's / at /rootfs, the receiver's default (/rootfs/proc).
		"HOST_PROC":               "/proc",
		"KUBERNETES_SERVICE_HOST": apiURL.Hostname(), "KUBERNETES_SERVICE_PORT": apiURL.Port(), "OTELCOL_SRE_SA_DIR": saDir,
		"OTELCOL_SRE_CONTAINERD_DIR": runtime.dir,
		// The receiver asks IMDS (identity document) and EC2 (tags, volumes): both at their loopback stand-ins;
		// AWS_ENDPOINT_URL sends any other AWS service there too, so nothing can leave loopback.
		"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.URL,
		"AWS_ENDPOINT_URL_EC2": ec2.url, "AWS_ENDPOINT_URL": ec2.url,
	} {
		ci.env[k] = v
	}
	// The pod's view of the node: its ServiceAccount files, and the node's containerd socket where the DaemonSet
	// mounts it (/run/containerd/containerd.sock), on a /run of its own.
	mountSA := `mount -t tmpfs -o mode=0755 otelcol-sre-e2e /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount /run/containerd && ` +
		`mount --bind "$OTELCOL_SRE_SA_DIR" /run/secrets/kubernetes.io/serviceaccount && ` +
		`mount --bind "$OTELCOL_SRE_CONTAINERD_DIR" /run/containerd && exec "$@"`
	proc := collectortest.StartConfigsWrapped(t, []string{unshare, "-m", "--propagation", "private", "sh", "-c", mountSA, "sh"},
		[]string{filepath.Join("testdata", "containerinsights-emf.yaml"),
			filepath.Join(collectortest.RepoRoot(), "deploy", "configs", "container-insights.yaml"),
			filepath.Join("testdata", "containerinsights-receiver-override.yaml")},
		ci.env, "http://127.0.0.1:"+ci.env["HEALTH_PORT"]+"/")

	want := []string{
		"node_cpu_utilization", "node_memory_utilization", "node_network_total_bytes", "node_cpu_reserved_capacity",
		"node_memory_reserved_capacity", "node_number_of_running_pods", "node_number_of_running_containers",
		"node_cpu_usage_total", "node_cpu_limit", "node_memory_working_set", "node_memory_limit", "node_filesystem_utilization",
		"cluster_node_count", "cluster_failed_node_count", "service_number_of_running_pods", "namespace_number_of_running_pods",
		"pod_cpu_utilization", "pod_memory_utilization", "pod_network_rx_bytes", "pod_network_tx_bytes",
		"pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit", "pod_cpu_reserved_capacity",
		"pod_memory_reserved_capacity", "pod_number_of_container_restarts",
	}
	got := waitForConsoleMetrics(t, peer, clusterName, node, want, 100*time.Second)
	checkConsoleDimensions(t, peer, got, want)

	// The values: this machine's capacity, the cluster's objects (every event of the metric), and this
	// machine's usage (some event above zero: per-device filesystem events include empty ones).
	cores, memTotal := machineCapacity(t)
	values := map[string][]float64{}
	for _, e := range peer.Events() {
		var ev map[string]any
		if err := json.Unmarshal([]byte(e.Message), &ev); err != nil {
			t.Fatal(err)
		}
		if ev["Type"] == "ClusterService" && ev["Service"] != "web" || ev["Type"] == "ClusterNamespace" && ev["Namespace"] != ns {
			continue
		}
		for _, m := range want {
			if v, ok := ev[m].(float64); ok {
				values[m] = append(values[m], v)
			}
		}
	}
	t.Logf("live values: %v", values)
	// Container metrics have no declaration (the console reads them from the performance log events).
	containers := 0
	for _, e := range peer.Events() {
		var ev struct {
			Type                      string
			ContainerMemoryWorkingSet float64 `json:"container_memory_working_set"`
			Kubernetes                struct {
				ContainerName string `json:"container_name"`
			}
		}
		if json.Unmarshal([]byte(e.Message), &ev) == nil && ev.Type == "Container" && ev.Kubernetes.ContainerName == "app" && ev.ContainerMemoryWorkingSet > 0 {
			containers++
		}
	}
	if containers == 0 {
		t.Error("no Container event of the pods' app containers with their memory working set")
	}
	for metric, v := range map[string]float64{"node_cpu_limit": float64(cores * 1000), "node_memory_limit": float64(memTotal),
		"node_number_of_running_pods": 2, "node_number_of_running_containers": 2, "cluster_node_count": 1,
		"cluster_failed_node_count": 0, "service_number_of_running_pods": 2, "namespace_number_of_running_pods": 2,
		// 2 x 250m of the node's cores*1000 millicores, 2 x 128 MiB of its memory
		"node_cpu_reserved_capacity": 500 / float64(cores*1000) * 100, "node_memory_reserved_capacity": 256 << 20 / float64(memTotal) * 100,
		// each pod: 250m, 128 MiB, never restarted
		"pod_cpu_reserved_capacity": 250 / float64(cores*1000) * 100, "pod_memory_reserved_capacity": 128 << 20 / float64(memTotal) * 100,
		"pod_number_of_container_restarts": 0,
	} {
		if len(values[metric]) == 0 {
			t.Errorf("%s: no value", metric)
		}
		for _, g := range values[metric] {
			if fmt.Sprintf("%.6g", g) != fmt.Sprintf("%.6g", v) {
				t.Errorf("%s = %v, want %v", metric, g, v)
			}
		}
	}
	for _, metric := range []string{"node_cpu_usage_total", "node_memory_working_set", "node_cpu_utilization", "node_memory_utilization",
		"node_filesystem_utilization", "pod_memory_utilization", "pod_memory_utilization_over_pod_limit"} {
		if len(values[metric]) == 0 || slices.Max(values[metric]) <= 0 {
			t.Errorf("%s = %v, want this machine's (> 0)", metric, values[metric])
		}
	}
	if kubelet.authorized() == 0 {
		t.Error("the kubelet stand-in authorized no /pods request")
	}
	if actions := ec2.seen(); !strings.Contains(actions, "DescribeTags") {
		t.Errorf("EC2 stand-in saw %q, want DescribeTags", actions)
	}
	if lease, err := client.CoordinationV1().Leases(ns).Get(t.Context(), "otel-container-insight-clusterleader", metav1.GetOptions{}); err != nil ||
		lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != node {
		t.Errorf("leader Lease: %v %v, want held by %s", lease, err, node)
	}
	// Least privilege, observed: the API server refused the receiver only what the option does not grant on
	// purpose (the legacy lock ConfigMap and leader-election Events, components/container-insights/rbac.yaml).
	for _, m := range regexp.MustCompile(`cannot ([a-z]+) resource \\?"([a-z.]+)\\?" in API group \\?"([a-z0-9.]*)\\?"`).FindAllStringSubmatch(proc.Output(), -1) {
		if m[2] != "configmaps" && m[2] != "events" {
			t.Errorf("the shipped RBAC denied the receiver %s %s (API group %q)", m[1], m[2], m[3])
		}
	}
	if t.Failed() {
		t.Logf("collector output:\n%s", proc.Output())
	}
}

// shippedAgentServiceAccount creates the agent's ServiceAccount in ns holding exactly the rules of the shipped
// agent overlay and container-insights component (their ClusterRoles' rules in one ClusterRole, the leader
// Role in ns), and returns a token of it from the TokenRequest API.
func shippedAgentServiceAccount(t *testing.T, cluster *testcluster.Cluster, ns string) string {
	t.Helper()
	var clusterRules, nsRules []rbacv1.PolicyRule
	for _, f := range []string{"overlays/agent/rbac.yaml", "components/container-insights/rbac.yaml"} {
		b, err := os.ReadFile(filepath.Join(collectortest.RepoRoot(), "deploy", "kustomize", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---") {
			var obj struct {
				Kind  string              `json:"kind"`
				Rules []rbacv1.PolicyRule `json:"rules"`
			}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch obj.Kind {
			case "ClusterRole":
				clusterRules = append(clusterRules, obj.Rules...)
			case "Role":
				nsRules = append(nsRules, obj.Rules...)
			}
		}
	}
	client := cluster.Client()
	ctx := t.Context()
	const sa = "otelcol-sre-agent"
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}
	name := "otelcol-sre-agent-ci-" + ns
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: clusterRules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "leader"}, Rules: nsRules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "leader"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "leader"}, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := cluster.ServiceAccountConfig(t, ns, sa)
	cluster.WaitForAccess(t, authorizationv1.SubjectAccessReviewSpec{User: testcluster.ServiceAccountUser(ns, sa),
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: ns}})
	return cfg.BearerToken
}

// loopbackHostIP is a random 127.x.y.z: the node's HOST_IP, where the kubelet stand-in listens on the
// kubelet's port 10250 without meeting another test's listener.
func loopbackHostIP(t *testing.T) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.%d.%d.%d", 1+b[0]%250, b[1], 1+b[2]%250)
}

// kubeletStandIn is a STAND-IN for the kubelet's authenticated /pods endpoint (no kubelet runs here): HTTPS on
// hostIP:10250 with a certificate of its own CA (added to the ServiceAccount's ca.crt, as a node's serving
// certificate is trusted there), the bearer token checked with a TokenReview and nodes/proxy with a
// SubjectAccessReview against the real API server (the kubelet's webhook authn/authz), and the pods the real
// API server has on the node.
type kubeletStandIn struct {
	caPEM string
	mu    sync.Mutex
	ok    int
}

func newKubeletStandIn(t *testing.T, client kubernetes.Interface, node, hostIP string) *kubeletStandIn {
	t.Helper()
	k := &kubeletStandIn{}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubelet stand-in CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: node},
		IPAddresses: []net.IP{net.ParseIP(hostIP)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	k.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	l, err := net.Listen("tcp", hostIP+":10250")
	if err != nil {
		testenv.Unavailable(t, "the kubelet stand-in cannot listen on %s:10250: %v", hostIP, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pods" {
			http.NotFound(w, r)
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		tr, err := client.AuthenticationV1().TokenReviews().Create(r.Context(), &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tok}}, metav1.CreateOptions{})
		if err != nil || !tr.Status.Authenticated {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		sar, err := client.AuthorizationV1().SubjectAccessReviews().Create(r.Context(), &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: tr.Status.User.Username, Groups: tr.Status.User.Groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "nodes", Subresource: "proxy", Name: node}}}, metav1.CreateOptions{})
		if err != nil || !sar.Status.Allowed {
			http.Error(w, "Forbidden (user="+tr.Status.User.Username+", verb=get, resource=nodes, subresource=proxy)", http.StatusForbidden)
			return
		}
		pods, err := client.CoreV1().Pods("").List(r.Context(), metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		pods.APIVersion, pods.Kind = "v1", "PodList"
		k.mu.Lock()
		k.ok++
		k.mu.Unlock()
		_ = json.NewEncoder(w).Encode(pods)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return k
}

func (k *kubeletStandIn) authorized() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ok
}

// imdsStandIn is a STAND-IN for EC2 instance metadata (IMDSv2: a session token, then the identity document
// with the token), on loopback.
func imdsStandIn(instanceID, privateIP string) http.Handler {
	const token = "imds-stand-in-session-token"
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
		_, _ = io.WriteString(w, token)
	})
	mux.HandleFunc("GET /latest/dynamic/instance-identity/document", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != token {
			http.Error(w, "no IMDSv2 token", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"instanceId": instanceID, "instanceType": "m6i.large", "region": "us-east-1",
			"privateIp": privateIP, "availabilityZone": "us-east-1a", "accountId": "123456789012", "imageId": "ami-0123456789abcdef0"})
	})
	return mux
}

// ec2StandIn is a STAND-IN for the EC2 API on loopback (Query protocol, SigV4 for service ec2 checked):
// DescribeTags answers the instance's EKS tags (the receiver's only source of the cluster name), DescribeVolumes
// no volumes.
type ec2StandIn struct {
	url     string
	mu      sync.Mutex
	actions []string
}

func newEC2StandIn(t *testing.T, instanceID, clusterName string) *ec2StandIn {
	t.Helper()
	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, Region: "us-east-1", Service: "ec2"})
	if err != nil {
		t.Fatal(err)
	}
	e := &ec2StandIn{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := v.Verify(r, body); err != nil {
			http.Error(w, "<Response><Errors><Error><Code>AuthFailure</Code><Message>"+err.Error()+"</Message></Error></Errors></Response>", http.StatusUnauthorized)
			return
		}
		form, _ := url.ParseQuery(string(body))
		action := form.Get("Action")
		e.mu.Lock()
		e.actions = append(e.actions, action)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		switch action {
		case "DescribeTags":
			item := func(k, v string) string {
				return "<item><resourceId>" + instanceID + "</resourceId><resourceType>instance</resourceType><key>" + k + "</key><value>" + v + "</value></item>"
			}
			_, _ = io.WriteString(w, `<DescribeTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId><tagSet>`+
				item("kubernetes.io/cluster/"+clusterName, "owned")+item("aws:autoscaling:groupName", "eks-ng-live")+`</tagSet></DescribeTagsResponse>`)
		case "DescribeVolumes":
			_, _ = io.WriteString(w, `<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>2</requestId><volumeSet/></DescribeVolumesResponse>`)
		default:
			http.Error(w, "<Response><Errors><Error><Code>InvalidAction</Code><Message>"+action+"</Message></Error></Errors></Response>", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *ec2StandIn) seen() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.actions, ",")
}

// machineCapacity is this machine's logical CPUs and MemTotal in bytes, from /proc as the receiver reads them.
func machineCapacity(t *testing.T) (cores, memTotal int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "processor") {
			cores++
		}
	}
	b, err = os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			memTotal = kb << 10
		}
	}
	return cores, memTotal
}

// containerRuntime is a real containerd (Debian's) on a private socket, root and state, running each pod's
// container with runc the way the kubelet's CRI does it for cAdvisor: in the cgroup
// /kubepods/burstable/pod<uid>/<container id>, in containerd's k8s.io namespace, labelled with the pod's name,
// namespace and uid and the container's name. The container is a static busybox shell that sleeps.
type containerRuntime struct {
	dir, ctr, rootfs string
}

func newContainerRuntime(t *testing.T) *containerRuntime {
	t.Helper()
	containerd := testenv.LookPath(t, "containerd", "containerd")
	r := &containerRuntime{ctr: testenv.LookPath(t, "ctr", "containerd")}
	busybox := testenv.LookPath(t, "busybox", "busybox-static")
	base, err := os.MkdirTemp("", "otelcol-sre-ctd-") // short: the socket path must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	r.dir, r.rootfs = filepath.Join(base, "run"), filepath.Join(base, "rootfs")
	for _, d := range []string{r.dir, filepath.Join(r.rootfs, "bin"), filepath.Join(r.rootfs, "proc"), filepath.Join(r.rootfs, "dev"), filepath.Join(r.rootfs, "sys")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.rootfs, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(base, "config.toml")
	if err := os.WriteFile(config, []byte("version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(containerd, "--config", config, "--address", r.socket(), "--root", filepath.Join(base, "root"), "--state", filepath.Join(base, "state"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(base)
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(r.socket()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not serve %s:\n%s", r.socket(), log.String())
		}
	}
	return r
}

func (r *containerRuntime) socket() string { return filepath.Join(r.dir, "containerd.sock") }

func (r *containerRuntime) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(r.ctr, append([]string{"--address", r.socket(), "--namespace", "k8s.io"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ctr %v: %v\n%s", args, err, out)
	}
}

// runPodContainer starts pod's sandbox ("POD", the infra container whose network namespace holds the pod's eth0,
// a veth whose peer stays on the host) and its first container as containerID in that namespace; cleanup stops
// both and removes their cgroups and the namespace.
func (r *containerRuntime) runPodContainer(t *testing.T, pod *corev1.Pod, containerID string) {
	t.Helper()
	ip := testenv.LookPath(t, "ip", "iproute2")
	uid := string(pod.UID)
	netns, veth := "otelcol-sre-"+uid[:8], "ocs"+uid[:8]
	for _, args := range [][]string{{"netns", "add", netns}, {"link", "add", veth, "type", "veth", "peer", "name", veth + "p"},
		{"link", "set", veth + "p", "netns", netns}, {"-n", netns, "link", "set", veth + "p", "name", "eth0"},
		{"-n", netns, "link", "set", "eth0", "up"}, {"link", "set", veth, "up"}} {
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	podCgroup := "/kubepods/burstable/pod" + uid
	sandboxID := "f" + containerID[1:]
	// The CRI plugin's labels: cAdvisor keeps network statistics only for the sandbox (io.cri-containerd.kind).
	for _, c := range []struct{ id, name, kind string }{{sandboxID, "POD", "sandbox"}, {containerID, pod.Spec.Containers[0].Name, "container"}} {
		r.run(t, "run", "-d", "--rootfs", "--cgroup", podCgroup+"/"+c.id, "--with-ns", "network:/run/netns/"+netns,
			"--label", "io.kubernetes.pod.name="+pod.Name, "--label", "io.kubernetes.pod.namespace="+pod.Namespace,
			"--label", "io.kubernetes.pod.uid="+uid, "--label", "io.kubernetes.container.name="+c.name, "--label", "io.cri-containerd.kind="+c.kind,
			r.rootfs, c.id, "/bin/busybox", "sh", "-c", "while :; do sleep 1; done")
	}
	t.Cleanup(func() {
		for _, id := range []string{containerID, sandboxID} {
			r.run(t, "task", "kill", "--signal", "SIGKILL", id)
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if err := exec.Command(r.ctr, "--address", r.socket(), "--namespace", "k8s.io", "task", "rm", id).Run(); err == nil {
					break
				}
			}
			r.run(t, "container", "rm", id)
		}
		_ = exec.Command(ip, "link", "del", veth).Run()
		_ = exec.Command(ip, "netns", "del", netns).Run()
		// runc removes the containers' cgroups; the pod's and the empty /kubepods ones above it are the test's.
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + podCgroup)
		for _, d := range dirs {
			_ = os.Remove(d)
			_ = os.Remove(filepath.Dir(d))
			_ = os.Remove(filepath.Dir(filepath.Dir(d)))
		}
	})
}
