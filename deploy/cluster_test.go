// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/deploy/internal/gen"
	"github.com/otelcol-sre/otelcol-sre/deploy/internal/render"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// Every object of every overlay and chart render passes a real API server's admission and strict field
// validation (server-side apply with dryRun=All). cert-manager's CRDs are installed first (testdata/crds),
// so its objects are checked against their real schemas too. The other custom resources are left out: their
// CRDs (OpenTelemetry Operator, ACK) are not installed in the test control plane; crds_test.go decodes them
// strictly. The chart renders come after the overlays, whose Namespaces they share.
func TestServerSideDryRun(t *testing.T) {
	c := testcluster.Shared(t)
	installed := installCRDs(t, c, "cert-manager")
	var charts []string
	for _, v := range gen.ChartVariants {
		charts = append(charts, chartPrefix+v.Overlay)
	}
	for _, name := range slices.Concat(render.Overlays, charts) {
		var objs []*unstructured.Unstructured
		for _, o := range rendered(t)[name] {
			if _, custom := customResources[o.GroupVersionKind()]; !custom || installed[o.GroupVersionKind().Group] {
				objs = append(objs, o)
			}
		}
		if err := render.Apply(t.Context(), c.Config(), objs, render.ApplyOptions{DryRun: true, CreateNamespaces: true}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// rbacObjects are the kinds applied for real so ServiceAccount tokens can be checked.
var rbacObjects = []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

// With each mode's own ServiceAccount token: everything its components use is allowed, and the
// requests a compromised collector would try are not.
func TestServiceAccountTokensHaveExactlyTheirModesAccess(t *testing.T) {
	c := testcluster.Shared(t)
	for _, name := range []string{"agent", "gateway", "gateway-lambda", "sidecar"} {
		var objs []*unstructured.Unstructured
		for _, o := range rendered(t)[name] {
			if slices.Contains(rbacObjects, o.GetKind()) {
				objs = append(objs, o)
			}
		}
		if err := render.Apply(t.Context(), c.Config(), objs, render.ApplyOptions{}); err != nil {
			t.Fatalf("overlay %s: applying RBAC: %v", name, err)
		}
	}
	for _, sa := range []struct {
		namespace, name string
		clusterRoles    []string // wantRBAC keys granted cluster-wide
		roles           []string // wantRBAC keys granted in the ServiceAccount's namespace
	}{
		{"otelcol-sre", "otelcol-sre-agent", []string{"agent/ClusterRole/otelcol-sre-agent"}, nil},
		{"otelcol-sre", "otelcol-sre-gateway-slo", []string{"gateway/ClusterRole/otelcol-sre-gateway-slo"}, []string{"gateway/Role/otelcol-sre-gateway-slo-leader-election"}},
		{"otelcol-sre", "otelcol-sre-gateway-lb", nil, nil},
		// YACE talks to AWS only (its own IRSA role); no Kubernetes access at all.
		{"otelcol-sre", "otelcol-sre-yace", nil, nil},
		{"demo", "demo-app", nil, []string{"sidecar/Role/otelcol-sre-sidecar"}},
	} {
		t.Run(sa.namespace+"/"+sa.name, func(t *testing.T) {
			var allowed []authorizationv1.ResourceAttributes
			for _, key := range sa.clusterRoles {
				allowed = append(allowed, attributes(wantRBAC[key], "")...)
			}
			for _, key := range sa.roles {
				allowed = append(allowed, attributes(wantRBAC[key], sa.namespace)...)
			}
			if len(allowed) > 0 {
				c.WaitForAccess(t, authorizationv1.SubjectAccessReviewSpec{
					User: testcluster.ServiceAccountUser(sa.namespace, sa.name), ResourceAttributes: &allowed[0],
				})
			}
			client, err := kubernetes.NewForConfig(c.ServiceAccountConfig(t, sa.namespace, sa.name))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range allowed {
				if !can(t, client, a) {
					t.Errorf("denied %s, which its components need", describe(a))
				}
			}
			for _, a := range deniedToEveryCollector(sa.namespace, len(sa.clusterRoles) == 0) {
				if can(t, client, a) {
					t.Errorf("allowed %s", describe(a))
				}
			}
		})
	}
}

// attributes lists every (verb, resource) a role grants, in namespace ("" = cluster-wide).
func attributes(rules map[rbacRule][]string, namespace string) []authorizationv1.ResourceAttributes {
	var out []authorizationv1.ResourceAttributes
	for r, verbs := range rules {
		resource, sub, _ := strings.Cut(r.resource, "/")
		for _, v := range verbs {
			out = append(out, authorizationv1.ResourceAttributes{Namespace: namespace, Verb: v, Group: r.group, Resource: resource, Subresource: sub})
		}
	}
	return out
}

// deniedToEveryCollector: writes, secrets, exec, the kubelet proxy, tokens, RBAC — and, without a
// ClusterRole, reads outside its own namespace.
func deniedToEveryCollector(namespace string, namespacedOnly bool) []authorizationv1.ResourceAttributes {
	out := []authorizationv1.ResourceAttributes{
		{Verb: "get", Resource: "secrets"},
		{Verb: "list", Resource: "secrets", Namespace: namespace},
		{Verb: "list", Resource: "configmaps"},
		{Verb: "create", Resource: "pods", Namespace: namespace},
		{Verb: "delete", Resource: "pods", Namespace: namespace},
		{Verb: "patch", Resource: "pods", Subresource: "status", Namespace: namespace},
		{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: namespace},
		{Verb: "get", Resource: "nodes", Subresource: "proxy"},
		{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: namespace},
		{Verb: "update", Group: "apps", Resource: "deployments", Namespace: namespace},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		{Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system"},
		{Verb: "delete", Group: "coordination.k8s.io", Resource: "leases", Namespace: namespace},
	}
	if namespacedOnly {
		out = append(out,
			authorizationv1.ResourceAttributes{Verb: "list", Resource: "nodes"},
			authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods", Namespace: "kube-system"},
		)
	}
	return out
}

// can asks the API server, with the ServiceAccount's own token, whether it may do a.
func can(t *testing.T, client kubernetes.Interface, a authorizationv1.ResourceAttributes) bool {
	t.Helper()
	review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(t.Context(),
		&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &a}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectAccessReview %s: %v", describe(a), err)
	}
	return review.Status.Allowed
}

func describe(a authorizationv1.ResourceAttributes) string {
	r := a.Resource
	if a.Subresource != "" {
		r += "/" + a.Subresource
	}
	if a.Group != "" {
		r += "." + a.Group
	}
	where := "cluster-wide"
	if a.Namespace != "" {
		where = "in " + a.Namespace
	}
	return a.Verb + " " + r + " " + where
}

// The dry-run is a real check: the API server rejects an unknown field and an invalid value.
func TestServerSideDryRunRejectsInvalidObjects(t *testing.T) {
	c := testcluster.Shared(t)
	installCRDs(t, c, "cert-manager")
	for _, tc := range []struct{ name, json string }{
		{"unknown field", `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"x","namespace":"default"},"automountServiceAccountTokens":false}`},
		{"invalid value", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x","namespace":"default"},"spec":{"ports":[{"name":"Not_A_DNS_Label","port":1}]}}`},
		{"custom resource unknown field", `{"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"x","namespace":"default"},"spec":{"secretName":"x","dnsName":["a.example"],"issuerRef":{"name":"x"}}}`},
		{"custom resource invalid value", `{"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"x","namespace":"default"},"spec":{"secretName":"x","dnsNames":["a.example"],"privateKey":{"algorithm":"DSA"},"issuerRef":{"name":"x"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON([]byte(tc.json)); err != nil {
				t.Fatal(err)
			}
			err := render.Apply(t.Context(), c.Config(), []*unstructured.Unstructured{u}, render.ApplyOptions{DryRun: true})
			if err == nil {
				t.Fatal("dry-run accepted it")
			}
			t.Log(err)
		})
	}
}

// installCRDs applies the CustomResourceDefinitions in testdata/crds/<dir> for real and waits until the
// API server serves them; it returns their API groups.
func installCRDs(t *testing.T, c *testcluster.Cluster, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "crds", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in testdata/crds/%s (%v)", dir, err)
	}
	var crds []*unstructured.Unstructured
	groups := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil || u.GetKind() != "CustomResourceDefinition" {
			t.Fatalf("%s: not one CustomResourceDefinition (%v)", f, err)
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		groups[group] = true
		crds = append(crds, u)
	}
	if err := render.Apply(t.Context(), c.Config(), crds, render.ApplyOptions{}); err != nil {
		t.Fatalf("installing testdata/crds/%s: %v", dir, err)
	}
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range crds {
		deadline := time.Now().Add(30 * time.Second)
		for !established(t, dyn, gvr, crd.GetName()) {
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not Established after 30s", crd.GetName())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return groups
}

func established(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, name string) bool {
	t.Helper()
	got, err := dyn.Resource(gvr).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
