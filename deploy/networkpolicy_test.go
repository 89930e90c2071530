// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The labels other workloads carry to be admitted by the gateway's NetworkPolicies (deploy/README.md
// "Secure install"): pods running an otelcol-sre sidecar that sends to the gateway, and Prometheus-style
// scrapers of the collectors' self-telemetry port.
const (
	gatewayClientLabel = "otelcol-sre.io/gateway-client"
	scraperLabel       = "otelcol-sre.io/scraper"
)

// NetworkPolicy enforcement needs a CNI, which the test control plane has none of: what can be checked is
// what the policies say. Each gateway overlay is installed next to the agent and both sidecar flavours, plus
// pods that must stay out (a scraper, an unlabelled pod in the gateway's namespace and elsewhere, a pod
// that looks like the stateless tier in another namespace). For every pod and every TCP port of every pod
// a policy isolates, the policies admit exactly the pods that use that port:
//   - a Service's ports: the pods whose collector env or config files name the Service (GATEWAY_ENDPOINT,
//     SLO_TIER_HEADLESS_SERVICE, gateway-lambda.yaml's YACE target); the host-network agent by its node's
//     address (NODE_CIDR from settings.env);
//   - a collector's port named metrics (:8888): pods labelled scraperLabel;
//   - nothing else (health_check is for the kubelet's probes, from the pod's own node: always admitted).
func TestNetworkPoliciesAdmitExactlyWhoUsesEachPort(t *testing.T) {
	nodeCIDR := settingsEnv(t)["NODE_CIDR"]
	if nodeCIDR == "" {
		t.Fatal("settings.env has no NODE_CIDR (the nodes' subnets, admitted to the gateway's OTLP ports)")
	}
	for _, gateway := range []string{"gateway", "gateway-lambda", "gateway-incidents-slack", "gateway-tls"} {
		t.Run(gateway, func(t *testing.T) {
			c := installCluster(t, gateway, "agent", "sidecar", "sidecar-operator")
			c.addPod("monitoring", "prometheus", map[string]string{scraperLabel: "true"})
			c.addPod("monitoring", "unlabelled", nil)
			c.addPod("otelcol-sre", "intruder", nil)
			c.addPod("demo", "unlabelled", nil)
			c.addPod("other", "lb-look-alike", map[string]string{"app.kubernetes.io/name": "otelcol-sre-gateway-lb"})
			if len(c.policies) == 0 {
				t.Fatal("no NetworkPolicy rendered")
			}
			checked := 0
			for _, dst := range c.pods {
				if !c.isolated(dst) {
					if dst.namespace == "otelcol-sre" && !dst.spec.HostNetwork && !dst.synthetic {
						t.Errorf("%s: no NetworkPolicy selects it", dst.name)
					}
					continue
				}
				if dst.spec.HostNetwork {
					t.Errorf("%s: a NetworkPolicy selects a host-network pod, where it does not apply", dst.name)
				}
				for _, port := range containerPorts(dst.spec) {
					if port.Protocol != corev1.ProtocolTCP {
						continue
					}
					for _, src := range c.pods {
						if src.name == dst.name {
							continue
						}
						want := c.uses(src, dst, port)
						if got := c.admitted(src, dst, port, nodeCIDR); got != want {
							t.Errorf("%s -> %s port %s (%d): admitted %v, want %v", src.name, dst.name, port.Name, port.ContainerPort, got, want)
						}
						if want {
							checked++
						}
					}
				}
			}
			// The agent and both sidecars reach the stateless tier; the stateless tier its SLO tier.
			if checked < 4 {
				t.Errorf("only %d admitted (pod, port) pairs: the senders were not recognised", checked)
			}
		})
	}
}

// Every port a policy names is a container port of every pod it selects: a named port that no container
// has matches nothing, and the traffic it was meant for is dropped.
func TestNetworkPolicyPortsExist(t *testing.T) {
	for _, overlay := range []string{"gateway", "gateway-lambda"} {
		c := installCluster(t, overlay)
		for _, np := range c.policies {
			selected := 0
			for _, p := range c.pods {
				if p.namespace != np.Namespace || !selectorMatches(t, &np.Spec.PodSelector, p.labels) {
					continue
				}
				selected++
				for _, rule := range np.Spec.Ingress {
					for _, pp := range rule.Ports {
						if !slices.ContainsFunc(containerPorts(p.spec), func(cp corev1.ContainerPort) bool { return portMatches([]networkingv1.NetworkPolicyPort{pp}, cp) }) {
							t.Errorf("%s: NetworkPolicy %s names port %s, which %s has not", overlay, np.Name, pp.Port, p.name)
						}
					}
				}
			}
			if selected == 0 {
				t.Errorf("%s: NetworkPolicy %s selects no pod", overlay, np.Name)
			}
		}
	}
}

// The pods that must be admitted carry the documented labels: every sidecar's pod the gateway client
// label (the operator injects into pods that already have it), no collector the scraper label.
func TestSenderPodsCarryTheGatewayClientLabel(t *testing.T) {
	for _, overlay := range []string{"sidecar", "sidecar-operator"} {
		c := installCluster(t, overlay)
		n := 0
		for _, p := range c.pods {
			if c.sendsTo(p, "otelcol-sre-gateway-lb", "otelcol-sre") {
				n++
				if p.labels[gatewayClientLabel] != "true" {
					t.Errorf("%s: %s sends to the gateway without the %s=true label", overlay, p.name, gatewayClientLabel)
				}
			}
			if _, ok := p.labels[scraperLabel]; ok {
				t.Errorf("%s: %s has the %s label", overlay, p.name, scraperLabel)
			}
		}
		if n == 0 {
			t.Errorf("%s: no pod sends to the gateway", overlay)
		}
	}
}

// The checks above are only as good as the evaluator: each rule of NetworkPolicy semantics it models.
func TestNetworkPolicyEvaluator(t *testing.T) {
	tcp := corev1.ProtocolTCP
	udp := corev1.ProtocolUDP
	grpc := corev1.ContainerPort{Name: "otlp-grpc", ContainerPort: 4317, Protocol: tcp}
	named := intstr.FromString("otlp-grpc")
	number := intstr.FromInt32(4317)
	other := intstr.FromString("metrics")
	byLabel := &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}
	prod := &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	c := &policyCluster{nsLabels: map[string]map[string]string{
		"gw":   {"kubernetes.io/metadata.name": "gw"},
		"app":  {"kubernetes.io/metadata.name": "app", "env": "prod"},
		"test": {"kubernetes.io/metadata.name": "test"},
	}}
	dst := clusterPod{name: "dst", namespace: "gw", labels: map[string]string{"app": "gw"}}
	client := func(ns string) clusterPod {
		return clusterPod{name: ns + "/client", namespace: ns, labels: map[string]string{"role": "client"}}
	}
	node := clusterPod{name: "node-agent", namespace: "gw", spec: corev1.PodSpec{HostNetwork: true}}
	policy := func(types []networkingv1.PolicyType, rules ...networkingv1.NetworkPolicyIngressRule) networkingv1.NetworkPolicy {
		return networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: "gw"},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "gw"}}, PolicyTypes: types, Ingress: rules,
			},
		}
	}
	rule := func(port *intstr.IntOrString, proto *corev1.Protocol, peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicyIngressRule {
		r := networkingv1.NetworkPolicyIngressRule{From: peers}
		if port != nil || proto != nil {
			r.Ports = []networkingv1.NetworkPolicyPort{{Port: port, Protocol: proto}}
		}
		return r
	}
	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	for _, tc := range []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		src      clusterPod
		want     bool
	}{
		{"no policy selects the pod", nil, client("test"), true},
		{"selected, no rules", []networkingv1.NetworkPolicy{policy(ingress)}, client("gw"), false},
		{"egress-only policy does not isolate ingress", []networkingv1.NetworkPolicy{policy([]networkingv1.PolicyType{networkingv1.PolicyTypeEgress})}, client("gw"), true},
		{"policyTypes omitted means Ingress", []networkingv1.NetworkPolicy{policy(nil)}, client("gw"), false},
		{"rule without from or ports admits all", []networkingv1.NetworkPolicy{policy(ingress, rule(nil, nil))}, client("test"), true},
		{"pod selector alone: same namespace only", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{PodSelector: byLabel}))}, client("gw"), true},
		{"pod selector alone: other namespace refused", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{PodSelector: byLabel}))}, client("app"), false},
		{"empty namespace selector: any namespace", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: byLabel}))}, client("app"), true},
		{"namespace selector and pod selector: both", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: prod, PodSelector: byLabel}))}, client("test"), false},
		{"namespace selector alone: every pod there", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: prod}))}, clusterPod{name: "app/x", namespace: "app"}, true},
		{"label missing", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: byLabel}))}, clusterPod{name: "gw/x", namespace: "gw"}, false},
		{"port by number", []networkingv1.NetworkPolicy{policy(ingress, rule(&number, nil, networkingv1.NetworkPolicyPeer{PodSelector: byLabel}))}, client("gw"), true},
		{"other port name", []networkingv1.NetworkPolicy{policy(ingress, rule(&other, nil, networkingv1.NetworkPolicyPeer{PodSelector: byLabel}))}, client("gw"), false},
		{"other protocol", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, &udp, networkingv1.NetworkPolicyPeer{PodSelector: byLabel}))}, client("gw"), false},
		{"protocol only", []networkingv1.NetworkPolicy{policy(ingress, rule(nil, &tcp, networkingv1.NetworkPolicyPeer{PodSelector: byLabel}))}, client("gw"), true},
		{"rules add up across policies", []networkingv1.NetworkPolicy{policy(ingress), policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{PodSelector: byLabel}))}, client("gw"), true},
		{"host network: a pod selector does not see it", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}))}, node, false},
		{"host network: the node CIDR admits it", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16"}}))}, node, true},
		{"host network: another CIDR does not", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.1.0.0/16"}}))}, node, false},
		{"pod: an ipBlock does not admit it", []networkingv1.NetworkPolicy{policy(ingress, rule(&named, nil, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16"}}))}, client("gw"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t, c.policies = t, tc.policies
			if got := c.admitted(tc.src, dst, grpc, "10.0.0.0/16"); got != tc.want {
				t.Errorf("admitted %v, want %v", got, tc.want)
			}
		})
	}
}

// clusterPod is a pod of a workload in the rendered overlays (or one the test adds).
type clusterPod struct {
	name, namespace string
	labels          map[string]string
	annotations     map[string]string
	spec            corev1.PodSpec
	synthetic       bool
}

// policyCluster is what several overlays install together.
type policyCluster struct {
	t          *testing.T
	pods       []clusterPod
	policies   []networkingv1.NetworkPolicy
	services   []corev1.Service
	collectors map[string]*OpenTelemetryCollector // namespace/name
	nsLabels   map[string]map[string]string
}

func installCluster(t *testing.T, overlays ...string) *policyCluster {
	t.Helper()
	c := &policyCluster{t: t, collectors: map[string]*OpenTelemetryCollector{}, nsLabels: map[string]map[string]string{}}
	for _, overlay := range overlays {
		for _, o := range rendered(t)[overlay] {
			obj, err := decodeStrict(o)
			if err != nil {
				t.Fatal(err)
			}
			name := overlay + "/" + o.GetKind() + "/" + o.GetName()
			switch v := obj.(type) {
			case *corev1.Namespace:
				c.namespace(v.Name, v.Labels)
			case *networkingv1.NetworkPolicy:
				c.policies = append(c.policies, *v)
			case *corev1.Service:
				c.services = append(c.services, *v)
			case *OpenTelemetryCollector:
				c.collectors[v.Namespace+"/"+v.Name] = v
			case *appsv1.Deployment:
				c.pods = append(c.pods, clusterPod{name: name, namespace: v.Namespace, labels: v.Spec.Template.Labels, annotations: v.Spec.Template.Annotations, spec: v.Spec.Template.Spec})
			case *appsv1.DaemonSet:
				c.pods = append(c.pods, clusterPod{name: name, namespace: v.Namespace, labels: v.Spec.Template.Labels, annotations: v.Spec.Template.Annotations, spec: v.Spec.Template.Spec})
			case *appsv1.StatefulSet:
				c.pods = append(c.pods, clusterPod{name: name, namespace: v.Namespace, labels: v.Spec.Template.Labels, annotations: v.Spec.Template.Annotations, spec: v.Spec.Template.Spec})
			}
		}
	}
	return c
}

// namespace records a namespace's labels, with the one the API server sets on every namespace.
func (c *policyCluster) namespace(name string, l map[string]string) {
	if c.nsLabels[name] == nil {
		c.nsLabels[name] = map[string]string{"kubernetes.io/metadata.name": name}
	}
	for k, v := range l {
		c.nsLabels[name][k] = v
	}
}

func (c *policyCluster) addPod(namespace, name string, l map[string]string) {
	c.namespace(namespace, nil)
	c.pods = append(c.pods, clusterPod{name: "test/" + namespace + "/" + name, namespace: namespace, labels: l, synthetic: true})
}

// isolated: some policy with Ingress selects the pod.
func (c *policyCluster) isolated(dst clusterPod) bool {
	for _, np := range c.policies {
		if np.Namespace == dst.namespace && selectorMatches(c.t, &np.Spec.PodSelector, dst.labels) && hasIngress(np) {
			return true
		}
	}
	return false
}

func hasIngress(np networkingv1.NetworkPolicy) bool {
	return len(np.Spec.PolicyTypes) == 0 || slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
}

// admitted evaluates the policies as the NetworkPolicy API defines them for traffic from src to dst's
// port. A host-network source has its node's address, some address of nodeCIDR: pod and namespace
// selectors do not see it, an ipBlock of nodeCIDR does. For pod sources an ipBlock is taken to match no
// pod (the API leaves it to the implementation; the test does not count on it).
func (c *policyCluster) admitted(src, dst clusterPod, port corev1.ContainerPort, nodeCIDR string) bool {
	selected := false
	for _, np := range c.policies {
		if np.Namespace != dst.namespace || !selectorMatches(c.t, &np.Spec.PodSelector, dst.labels) || !hasIngress(np) {
			continue
		}
		selected = true
		for _, rule := range np.Spec.Ingress {
			if portMatches(rule.Ports, port) && c.peerMatches(rule.From, np.Namespace, src, nodeCIDR) {
				return true
			}
		}
	}
	return !selected
}

func portMatches(ports []networkingv1.NetworkPolicyPort, port corev1.ContainerPort) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		cproto := port.Protocol
		if cproto == "" {
			cproto = corev1.ProtocolTCP
		}
		if proto != cproto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String && p.Port.StrVal == port.Name:
			return true
		case p.Port.Type == intstr.Int && p.Port.IntVal == port.ContainerPort:
			return true
		}
	}
	return false
}

func (c *policyCluster) peerMatches(peers []networkingv1.NetworkPolicyPeer, policyNamespace string, src clusterPod, nodeCIDR string) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			if src.spec.HostNetwork && peer.IPBlock.CIDR == nodeCIDR && len(peer.IPBlock.Except) == 0 {
				return true
			}
			continue
		}
		if src.spec.HostNetwork {
			continue
		}
		nsOK := src.namespace == policyNamespace
		if peer.NamespaceSelector != nil {
			nsOK = selectorMatches(c.t, peer.NamespaceSelector, c.nsLabels[src.namespace])
		}
		podOK := peer.PodSelector == nil || selectorMatches(c.t, peer.PodSelector, src.labels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func selectorMatches(t *testing.T, s *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatalf("selector %v: %v", s, err)
	}
	return sel.Matches(labels.Set(l))
}

// uses: src has a reason to open dst's port - dst serves it behind a Service src names, or it is a
// collector's self-telemetry port and src a labelled scraper.
func (c *policyCluster) uses(src, dst clusterPod, port corev1.ContainerPort) bool {
	for _, svc := range c.services {
		if svc.Namespace != dst.namespace || len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(dst.labels)) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			targets := (sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal == port.Name) ||
				(sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == port.ContainerPort)
			if targets && c.sendsTo(src, svc.Name, svc.Namespace) {
				return true
			}
		}
	}
	isCollector := slices.ContainsFunc(dst.spec.Containers, func(c corev1.Container) bool { return c.Name == "otelcol-sre" })
	return isCollector && port.Name == "metrics" && src.labels[scraperLabel] == "true"
}

// sendsTo: the collector of src (its own otelcol-sre container, or the OpenTelemetryCollector the
// operator injects into it) names the Service in its environment or in a config file it loads - by its
// cluster DNS name, or by its short name from the same namespace.
func (c *policyCluster) sendsTo(src clusterPod, service, namespace string) bool {
	name := regexp.MustCompile(`(^|[^a-z0-9.-])` + regexp.QuoteMeta(service) + `(\.` + regexp.QuoteMeta(namespace) + `(\.svc(\.cluster\.local)?)?)?([^a-z0-9.-]|$)`)
	for _, text := range c.collectorTexts(src) {
		for _, m := range name.FindAllStringSubmatch(text, -1) {
			if m[2] != "" || src.namespace == namespace {
				return true
			}
		}
	}
	return false
}

// collectorTexts: the env values and loaded config files of src's collector.
func (c *policyCluster) collectorTexts(src clusterPod) []string {
	c.t.Helper()
	var out []string
	for _, ctr := range src.spec.Containers {
		if ctr.Name != "otelcol-sre" {
			continue
		}
		for _, e := range ctr.Env {
			out = append(out, e.Value)
		}
		for _, f := range configArgs(ctr.Args) {
			b, err := os.ReadFile(filepath.Join("configs", f))
			if err != nil {
				c.t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	if inject := src.annotations["sidecar.opentelemetry.io/inject"]; inject != "" {
		cr := c.collectors[src.namespace+"/"+inject]
		if cr == nil {
			c.t.Fatalf("%s: injects %s, which is not rendered", src.name, inject)
		}
		for _, e := range cr.Spec.Env {
			out = append(out, e.Value)
		}
		b, err := yaml.Marshal(cr.Spec.Config)
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func containerPorts(spec corev1.PodSpec) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, ctr := range spec.Containers {
		for _, p := range ctr.Ports {
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			out = append(out, p)
		}
	}
	return out
}
