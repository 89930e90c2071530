// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"

	"github.com/otelcol-sre/otelcol-sre/deploy/internal/gen"
	"github.com/otelcol-sre/otelcol-sre/deploy/internal/render"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/kubeclient"
)

// rendered builds every overlay once per test binary, and renders the Helm chart for each overlay it
// reproduces, with user values (chartPrefix+overlay, helm_test.go): every check below holds for both.
var rendered = func() func(t *testing.T) map[string][]*unstructured.Unstructured {
	var (
		out map[string][]*unstructured.Unstructured
		err error
	)
	return func(t *testing.T) map[string][]*unstructured.Unstructured {
		t.Helper()
		if out == nil && err == nil {
			out = map[string][]*unstructured.Unstructured{}
			for _, o := range render.Overlays {
				var objs []*unstructured.Unstructured
				if objs, err = render.Build(".", o); err != nil {
					break
				}
				out[o] = objs
			}
			var charts map[string][]*unstructured.Unstructured
			if err == nil {
				charts, err = chartRenders(t)
			}
			maps.Copy(out, charts)
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}()

func TestOverlaysRenderEveryDirectory(t *testing.T) {
	dirs, err := filepath.Glob("kustomize/overlays/*/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, d := range dirs {
		onDisk = append(onDisk, filepath.Base(filepath.Dir(d)))
	}
	if !slices.Equal(slices.Sorted(slices.Values(onDisk)), slices.Sorted(slices.Values(render.Overlays))) {
		t.Fatalf("render.Overlays %v does not list exactly the overlay directories %v", render.Overlays, onDisk)
	}
	for name, objs := range rendered(t) {
		if len(objs) == 0 {
			t.Errorf("overlay %s renders no objects", name)
		}
		if _, err := render.YAML(objs); err != nil {
			t.Errorf("overlay %s: %v", name, err)
		}
	}
}

// decodeStrict decodes one rendered object into its Kubernetes API type (or, for the three custom
// resources, the subset of the upstream CRD schema declared in crds_test.go), rejecting unknown and
// duplicate fields and case-insensitive matches the way the API server's strict field validation does.
func decodeStrict(o *unstructured.Unstructured) (any, error) {
	gvk := o.GroupVersionKind()
	obj, err := newTyped(gvk)
	if err != nil {
		return nil, err
	}
	raw, err := render.Raw(o)
	if err != nil {
		return nil, err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(raw, obj)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("strict decoding: %v", strictErrs)
	}
	return obj, nil
}

func newTyped(gvk schema.GroupVersionKind) (any, error) {
	if f, ok := customResources[gvk]; ok {
		return f(), nil
	}
	return scheme.Scheme.New(gvk)
}

func TestEveryObjectDecodesStrictly(t *testing.T) {
	for name, objs := range rendered(t) {
		for _, o := range objs {
			if _, err := decodeStrict(o); err != nil {
				t.Errorf("overlay %s: %s %s: %v", name, o.GetKind(), o.GetName(), err)
			}
		}
	}
}

// Strict decoding must actually be strict: a misspelt field fails.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	for _, tc := range []struct{ name, json string }{
		{"builtin", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replica":2}}`},
		{"case", `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"Name":"x"}}`},
		{"custom resource", `{"apiVersion":"opentelemetry.io/v1beta1","kind":"OpenTelemetryCollector","metadata":{"name":"x"},"spec":{"mode":"sidecar","configg":{}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON([]byte(tc.json)); err != nil {
				t.Fatal(err)
			}
			if _, err := decodeStrict(u); err == nil {
				t.Fatalf("decoded %s without error", tc.json)
			}
		})
	}
}

// podTemplate is one workload's pod template, typed.
type podTemplate struct {
	overlay, workload string
	template          corev1.PodTemplateSpec
}

func podTemplates(t *testing.T) []podTemplate {
	t.Helper()
	var out []podTemplate
	for name, objs := range rendered(t) {
		for _, o := range objs {
			obj, err := decodeStrict(o)
			if err != nil {
				t.Fatal(err)
			}
			id := o.GetKind() + "/" + o.GetName()
			switch w := obj.(type) {
			case *appsv1.Deployment:
				out = append(out, podTemplate{name, id, w.Spec.Template})
			case *appsv1.DaemonSet:
				out = append(out, podTemplate{name, id, w.Spec.Template})
			case *appsv1.StatefulSet:
				out = append(out, podTemplate{name, id, w.Spec.Template})
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no workloads rendered")
	}
	return out
}

// No container runs as root, escalates, adds a capability, or writes its root filesystem.
func TestNoContainerRunsAsRootOrAddsCapabilities(t *testing.T) {
	for _, p := range podTemplates(t) {
		spec := p.template.Spec
		if spec.HostPID || spec.HostIPC {
			t.Errorf("%s %s: hostPID/hostIPC", p.overlay, p.workload)
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			where := fmt.Sprintf("%s %s container %s", p.overlay, p.workload, c.Name)
			if c.Name == dataDirOwner && slices.ContainsFunc(spec.InitContainers, func(i corev1.Container) bool { return i.Name == c.Name }) {
				checkDataDirOwner(t, where, spec, c) // the one exception, held to exactly what it needs
				continue
			}
			checkContainerSecurity(t, where, spec.SecurityContext, c.SecurityContext)
		}
	}
}

func checkContainerSecurity(t *testing.T, where string, pod *corev1.PodSecurityContext, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil {
		t.Errorf("%s: no securityContext", where)
		return
	}
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	uid := cmp(sc.RunAsUser, pod.RunAsUser)
	if uid == nil || *uid == 0 {
		t.Errorf("%s: runAsUser must be set and non-zero (the image's USER is not trusted)", where)
	}
	if nonRoot := cmp(sc.RunAsNonRoot, pod.RunAsNonRoot); nonRoot == nil || !*nonRoot {
		t.Errorf("%s: runAsNonRoot must be true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("%s: privileged", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem must be true", where)
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: capabilities must drop ALL and add none, got %+v", where, sc.Capabilities)
	}
	seccomp := cmp(sc.SeccompProfile, pod.SeccompProfile)
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile must be RuntimeDefault", where)
	}
}

// cmp returns the container-level setting if set, else the pod-level one (Kubernetes' precedence).
func cmp[T any](container, pod *T) *T {
	if container != nil {
		return container
	}
	return pod
}

// Every otelcol-sre container: probes on health_check, requests and a memory limit, GOMEMLIMIT at 80%
// of that limit, the config checksum annotation, args that name config files the ConfigMap has.
func TestCollectorContainers(t *testing.T) {
	configFiles := configMapKeys(t)
	seen := 0
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			if c.Name != "otelcol-sre" {
				continue
			}
			seen++
			where := p.overlay + " " + p.workload
			checkProbe(t, where+" liveness", c.LivenessProbe, c.Ports)
			checkProbe(t, where+" readiness", c.ReadinessProbe, c.Ports)
			checkGOMEMLIMIT(t, where, c)
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
				t.Errorf("%s: cpu and memory requests required", where)
			}
			sum := p.template.Annotations["checksum/config"]
			vol := volumeConfigMap(p.template.Spec.Volumes, "config")
			if sum == "" || sum != vol || !strings.HasPrefix(sum, "otelcol-sre-config-") {
				t.Errorf("%s: checksum/config annotation %q must be the hashed config ConfigMap name %q", where, sum, vol)
			}
			args := configArgs(c.Args)
			if len(args) == 0 {
				t.Errorf("%s: no --config=/conf/... argument", where)
			}
			for _, a := range args {
				if !configFiles[a] {
					t.Errorf("%s: --config=/conf/%s is not in the otelcol-sre-config ConfigMap", where, a)
				}
			}
		}
	}
	if seen < 4 {
		t.Fatalf("found %d otelcol-sre containers, want agent, gateway-lb, gateway-slo and sidecar at least", seen)
	}
}

func checkProbe(t *testing.T, where string, p *corev1.Probe, ports []corev1.ContainerPort) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe: want an httpGet probe on health_check", where)
		return
	}
	for _, port := range ports {
		if port.Name == p.HTTPGet.Port.String() && port.ContainerPort == 13133 {
			return
		}
	}
	t.Errorf("%s probe: port %s is not the health_check port 13133", where, p.HTTPGet.Port.String())
}

func checkGOMEMLIMIT(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	limit := c.Resources.Limits.Memory()
	if limit.IsZero() {
		t.Errorf("%s: memory limit required", where)
		return
	}
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		v, ok := strings.CutSuffix(e.Value, "MiB")
		if !ok {
			t.Errorf("%s: GOMEMLIMIT %q: want <n>MiB", where, e.Value)
			return
		}
		want := limit.Value() * 8 / 10 / (1 << 20)
		q, err := resource.ParseQuantity(v + "Mi")
		if err != nil {
			t.Errorf("%s: GOMEMLIMIT %q: %v", where, e.Value, err)
			return
		}
		if got := q.Value() / (1 << 20); got != want {
			t.Errorf("%s: GOMEMLIMIT %s, want %dMiB (80%% of the %s limit)", where, e.Value, want, limit)
		}
		return
	}
	t.Errorf("%s: no GOMEMLIMIT", where)
}

func volumeConfigMap(vols []corev1.Volume, name string) string {
	for _, v := range vols {
		if v.Name == name && v.ConfigMap != nil {
			return v.ConfigMap.Name
		}
	}
	return ""
}

var configArg = regexp.MustCompile(`^--config=/conf/([a-z-]+\.yaml)$`)

// configArgs returns the config file names a collector's args load, in order.
func configArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if m := configArg.FindStringSubmatch(a); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func configMapKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for _, o := range slices.Concat(rendered(t)["gateway"], rendered(t)[chartPrefix+"gateway"]) {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "otelcol-sre-config-") {
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			for k, v := range data {
				onDisk, err := os.ReadFile(filepath.Join("configs", k))
				if err != nil || !bytes.Equal(onDisk, []byte(v)) {
					t.Errorf("ConfigMap key %s differs from configs/%s (%v)", k, k, err)
				}
				keys[k] = true
			}
		}
	}
	if len(keys) == 0 {
		t.Fatal("no otelcol-sre-config ConfigMap in the gateway overlay")
	}
	return keys
}

// $(VAR) in an env value expands only if VAR is defined earlier in the container (envFrom first).
func TestEnvReferencesAreDefinedEarlier(t *testing.T) {
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	settings := settingsEnv(t)
	for _, p := range podTemplates(t) {
		for _, c := range p.template.Spec.Containers {
			defined := map[string]bool{}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && strings.HasPrefix(ef.ConfigMapRef.Name, "otelcol-sre-settings") {
					for k := range settings {
						defined[k] = true
					}
				}
			}
			for _, e := range c.Env {
				for _, m := range ref.FindAllStringSubmatch(e.Value, -1) {
					if !defined[m[1]] {
						t.Errorf("%s %s container %s: %s uses $(%s), which is not defined before it", p.overlay, p.workload, c.Name, e.Name, m[1])
					}
				}
				defined[e.Name] = true
			}
		}
	}
}

func settingsEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := gen.ReadSettings(".")
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// rbacRule is one (API group, resource) of a Role or ClusterRole.
type rbacRule struct{ group, resource string }

var readOnly = []string{"get", "list", "watch"}

// wantRBAC is every Role and ClusterRole the overlays ship, "overlay/Kind/name", with exactly the
// (group, resource) -> verbs its mode's components use (verbs sorted).
var wantRBAC = map[string]map[rbacRule][]string{
	"agent/ClusterRole/otelcol-sre-agent":                                       agentRules,
	"agent-container-insights/ClusterRole/otelcol-sre-agent":                    agentRules,
	"agent-container-insights/ClusterRole/otelcol-sre-agent-container-insights": containerInsightsRules,
	"agent-container-insights/Role/otelcol-sre-agent-container-insights-leader": leaderElectionRules,
	"agent-direct/ClusterRole/otelcol-sre-agent":                                agentRules,
	"agent-tls/ClusterRole/otelcol-sre-agent":                                   agentRules,
	"gateway-tls/ClusterRole/otelcol-sre-gateway-slo":                           gatewaySLORules,
	"gateway-tls/Role/otelcol-sre-gateway-slo-leader-election":                  leaderElectionRules,
	"sidecar-tls/Role/otelcol-sre-sidecar":                                      sidecarRules,
	"sidecar-operator-tls/Role/otelcol-sre-sidecar":                             sidecarRules,
	"agent-direct/Role/otelcol-sre-agent-leader-election":                       leaderElectionRules,
	"agent-direct-incidents-slack/ClusterRole/otelcol-sre-agent":                agentRules,
	"agent-direct-incidents-slack/Role/otelcol-sre-agent-leader-election":       leaderElectionRules,
	"gateway-incidents-slack/ClusterRole/otelcol-sre-gateway-slo":               gatewaySLORules,
	"gateway-incidents-slack/Role/otelcol-sre-gateway-slo-leader-election":      leaderElectionRules,
	"gateway/ClusterRole/otelcol-sre-gateway-slo":                               gatewaySLORules,
	"gateway/Role/otelcol-sre-gateway-slo-leader-election":                      leaderElectionRules,
	"gateway-lambda/ClusterRole/otelcol-sre-gateway-slo":                        gatewaySLORules,
	"gateway-lambda/Role/otelcol-sre-gateway-slo-leader-election":               leaderElectionRules,
	"sidecar/Role/otelcol-sre-sidecar":                                          sidecarRules,
	"sidecar-operator/Role/otelcol-sre-sidecar":                                 sidecarRules,
}

var (
	gatewaySLORules = map[rbacRule][]string{
		{"", "pods"}: readOnly, {"", "events"}: readOnly, {"", "nodes"}: readOnly, {"", "namespaces"}: readOnly,
		{"", "replicationcontrollers"}: readOnly, {"", "resourcequotas"}: readOnly, {"", "services"}: readOnly,
		{"apps", "daemonsets"}: readOnly, {"apps", "deployments"}: readOnly, {"apps", "replicasets"}: readOnly,
		{"apps", "statefulsets"}: readOnly, {"batch", "jobs"}: readOnly, {"batch", "cronjobs"}: readOnly,
		{"autoscaling", "horizontalpodautoscalers"}: readOnly,
	}
	leaderElectionRules = map[rbacRule][]string{{"coordination.k8s.io", "leases"}: {"create", "get", "update"}}
	agentRules          = map[rbacRule][]string{
		{"", "pods"}: readOnly, {"", "namespaces"}: readOnly, {"", "nodes"}: readOnly, {"", "events"}: readOnly,
		{"apps", "replicasets"}: readOnly, {"", "nodes/stats"}: {"get"},
	}
	sidecarRules = map[rbacRule][]string{{"", "pods"}: readOnly, {"", "events"}: readOnly}
	// awscontainerinsight beyond agentRules (components/container-insights/rbac.yaml says why each).
	containerInsightsRules = map[rbacRule][]string{
		{"discovery.k8s.io", "endpointslices"}: {"list", "watch"}, {"batch", "jobs"}: {"list", "watch"}, {"", "nodes/proxy"}: {"get"},
	}
)

// RBAC: exactly the rules each mode's components use, read-only except the leader-election Lease.
func TestRBACIsExactlyWhatComponentsUse(t *testing.T) {
	want := wantRBAC
	got := map[string]map[rbacRule][]string{}
	for name, objs := range rendered(t) {
		for _, o := range objs {
			if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
				continue
			}
			obj, err := decodeStrict(o)
			if err != nil {
				t.Fatal(err)
			}
			var rules []rbacv1.PolicyRule
			switch r := obj.(type) {
			case *rbacv1.ClusterRole:
				rules = r.Rules
			case *rbacv1.Role:
				rules = r.Rules
			}
			key := name + "/" + o.GetKind() + "/" + o.GetName()
			got[key] = map[rbacRule][]string{}
			for _, r := range rules {
				if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
					t.Errorf("%s: unexpected resourceNames/nonResourceURLs in %+v", key, r)
				}
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						k := rbacRule{g, res}
						if _, dup := got[key][k]; dup {
							t.Errorf("%s: %s/%s listed twice", key, g, res)
						}
						got[key][k] = slices.Sorted(slices.Values(r.Verbs))
					}
				}
			}
		}
	}
	checkKeyed(t, "role", got, want, func(a, b map[rbacRule][]string) bool { return maps.EqualFunc(a, b, slices.Equal) })
}

// checkKeyed compares what the overlays and chart renders have (got, keyed "<rendered(t) key>/...")
// with want (keyed "<overlay>/..."): each overlay has exactly want, each chart render its overlay's.
func checkKeyed[V any](t *testing.T, what string, got, want map[string]V, equal func(a, b V) bool) {
	t.Helper()
	for key := range want {
		if _, ok := got[key]; !ok {
			t.Errorf("no %s %s", what, key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		w, ok := want[overlayOf(key)]
		switch {
		case !ok:
			t.Errorf("unexpected %s %s", what, key)
		case !equal(got[key], w):
			t.Errorf("%s %s:\n got  %v\n want %v", what, key, got[key], w)
		}
	}
}

// Only the tiers that talk to AWS carry the IRSA role, and it is the one from settings.env; YACE has its own.
func TestServiceAccountsIRSA(t *testing.T) {
	arn := settingsEnv(t)["IRSA_ROLE_ARN"]
	want := map[string]string{
		"agent/otelcol-sre-agent":                         "",
		"agent-tls/otelcol-sre-agent":                     "",
		"gateway-tls/otelcol-sre-gateway-lb":              "",
		"gateway-tls/otelcol-sre-gateway-slo":             arn,
		"sidecar-tls/demo-app":                            "",
		"sidecar-operator-tls/demo-app":                   "",
		"agent-container-insights/otelcol-sre-agent":      arn,
		"agent-direct/otelcol-sre-agent":                  arn,
		"agent-direct-incidents-slack/otelcol-sre-agent":  arn,
		"gateway-incidents-slack/otelcol-sre-gateway-lb":  "",
		"gateway-incidents-slack/otelcol-sre-gateway-slo": arn,
		"gateway/otelcol-sre-gateway-lb":                  "",
		"gateway/otelcol-sre-gateway-slo":                 arn,
		"gateway-lambda/otelcol-sre-gateway-lb":           "",
		"gateway-lambda/otelcol-sre-gateway-slo":          arn,
		"gateway-lambda/otelcol-sre-yace":                 settingsEnv(t)["YACE_IRSA_ROLE_ARN"],
		"sidecar/demo-app":                                "",
		"sidecar-operator/demo-app":                       "",
	}
	got := map[string]string{}
	for name, objs := range rendered(t) {
		for _, o := range objs {
			if o.GetKind() == "ServiceAccount" {
				got[name+"/"+o.GetName()] = o.GetAnnotations()["eks.amazonaws.com/role-arn"]
			}
		}
	}
	checkKeyed(t, "IRSA role annotation of ServiceAccount", got, want, func(a, b string) bool { return a == b })
}

// The stateless tier scales (HPA) and survives voluntary disruptions (PDB); the SLO tier is a
// StatefulSet with a headless Service and a volume per replica for file_storage and the WAL.
func TestGatewayTiers(t *testing.T) {
	for _, name := range []string{"gateway", chartPrefix + "gateway"} {
		checkGatewayTiers(t, name, rendered(t)[name])
	}
}

func checkGatewayTiers(t *testing.T, name string, objs []*unstructured.Unstructured) {
	t.Helper()
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()+"/"+o.GetName()] = true
		if o.GetKind() == "StatefulSet" {
			obj, err := decodeStrict(o)
			if err != nil {
				t.Fatal(err)
			}
			ss := obj.(*appsv1.StatefulSet)
			if ss.Spec.ServiceName != "otelcol-sre-gateway-slo-headless" || len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Name != "data" {
				t.Errorf("SLO tier StatefulSet: serviceName %q, volumeClaimTemplates %d", ss.Spec.ServiceName, len(ss.Spec.VolumeClaimTemplates))
			}
		}
		if o.GetKind() == "Service" && o.GetName() == "otelcol-sre-gateway-slo-headless" {
			if ip, _, _ := unstructured.NestedString(o.Object, "spec", "clusterIP"); ip != "None" {
				t.Errorf("SLO tier Service must be headless (the loadbalancing exporter resolves every replica), clusterIP %q", ip)
			}
		}
	}
	for _, k := range []string{
		"Deployment/otelcol-sre-gateway-lb", "HorizontalPodAutoscaler/otelcol-sre-gateway-lb", "PodDisruptionBudget/otelcol-sre-gateway-lb",
		"Service/otelcol-sre-gateway-lb", "StatefulSet/otelcol-sre-gateway-slo", "Service/otelcol-sre-gateway-slo-headless",
	} {
		if !kinds[k] {
			t.Errorf("%s has no %s", name, k)
		}
	}
}

// The operator flavour: the inject annotation names the OpenTelemetryCollector, which is mode sidecar,
// hardened like the plain sidecar, and the app no longer carries its own collector container.
func TestOperatorSidecar(t *testing.T) {
	var cr *OpenTelemetryCollector
	var app *appsv1.Deployment
	for _, o := range rendered(t)["sidecar-operator"] {
		obj, err := decodeStrict(o)
		if err != nil {
			t.Fatal(err)
		}
		switch v := obj.(type) {
		case *OpenTelemetryCollector:
			cr = v
		case *appsv1.Deployment:
			app = v
		}
	}
	if cr == nil || app == nil {
		t.Fatal("sidecar-operator overlay needs an OpenTelemetryCollector and the app Deployment")
	}
	if cr.Spec.Mode != "sidecar" || cr.Name != gen.SidecarCollectorName {
		t.Errorf("OpenTelemetryCollector %s mode %q", cr.Name, cr.Spec.Mode)
	}
	if got := app.Spec.Template.Annotations["sidecar.opentelemetry.io/inject"]; got != cr.Name {
		t.Errorf("inject annotation %q, want %q", got, cr.Name)
	}
	for _, c := range app.Spec.Template.Spec.Containers {
		if c.Name == "otelcol-sre" {
			t.Error("the app still has its own otelcol-sre container: the operator injects it")
		}
	}
	checkContainerSecurity(t, "OpenTelemetryCollector "+cr.Name, nil, cr.Spec.SecurityContext)
	if len(cr.Spec.EnvFrom) != 1 || !strings.HasPrefix(cr.Spec.EnvFrom[0].ConfigMapRef.Name, "otelcol-sre-settings-") {
		t.Errorf("envFrom %+v: want the hashed settings ConfigMap", cr.Spec.EnvFrom)
	}
}

// The committed generated files are what `go generate ./deploy` writes now.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	files, err := gen.All(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		onDisk, err := os.ReadFile(f.Path)
		if err != nil || !bytes.Equal(onDisk, f.Content) {
			t.Errorf("%s is stale or missing (%v): run `go generate ./deploy`", f.Path, err)
		}
	}
	stale, err := gen.StaleChartFiles(".", files)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		t.Errorf("%s is no longer generated: run `go generate ./deploy` (it removes it)", f)
	}
}

// Every mode that runs a pod-diagnosis component grants what its pod cache uses (kubeclient.Rules, the
// rules the processor's control-plane tests run with).
func TestRBACCoversThePodDiagnosisCache(t *testing.T) {
	for _, key := range []string{
		"agent/ClusterRole/otelcol-sre-agent", "agent-direct/ClusterRole/otelcol-sre-agent",
		"agent-direct-incidents-slack/ClusterRole/otelcol-sre-agent",
		"gateway/ClusterRole/otelcol-sre-gateway-slo", "gateway-incidents-slack/ClusterRole/otelcol-sre-gateway-slo",
		"sidecar/Role/otelcol-sre-sidecar", "sidecar-operator/Role/otelcol-sre-sidecar",
	} {
		for _, r := range kubeclient.Rules() {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						if !slices.Contains(wantRBAC[key][rbacRule{g, res}], v) {
							t.Errorf("%s does not grant %s %s/%s, which the pod-diagnosis cache uses", key, v, g, res)
						}
					}
				}
			}
		}
	}
}
