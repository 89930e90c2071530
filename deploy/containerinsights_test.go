// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"slices"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-sre/otelcol-sre/deploy/internal/render"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

// The container-insights option's RBAC, for real: the overlay's ServiceAccount, roles and bindings applied to
// the test control plane (moved to a fresh namespace, cluster-scoped names suffixed, so that the shared
// cluster's otelcol-sre-agent of the other modes keeps exactly its own rules); with that ServiceAccount's
// token, every (verb, resource) of the agent's and the option's rules is allowed, the Lease only in its own
// namespace, and everything else a collector is denied stays denied, except nodes/proxy, which the
// receiver's pod store needs (components/container-insights/rbac.yaml).
func TestContainerInsightsServiceAccountToken(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	suffix := "-" + ns
	var objs []*unstructured.Unstructured
	for _, o := range rendered(t)["agent-container-insights"] {
		if !slices.Contains(rbacObjects, o.GetKind()) || o.GetKind() == "Namespace" {
			continue
		}
		o = o.DeepCopy()
		switch o.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
			o.SetName(o.GetName() + suffix)
		default:
			o.SetNamespace(ns)
		}
		if ref, ok, _ := unstructured.NestedString(o.Object, "roleRef", "kind"); ok && ref == "ClusterRole" {
			name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
			_ = unstructured.SetNestedField(o.Object, name+suffix, "roleRef", "name")
		}
		if subjects, ok, _ := unstructured.NestedSlice(o.Object, "subjects"); ok {
			for _, s := range subjects {
				s.(map[string]any)["namespace"] = ns
			}
			_ = unstructured.SetNestedSlice(o.Object, subjects, "subjects")
		}
		objs = append(objs, o)
	}
	if err := render.Apply(t.Context(), c.Config(), objs, render.ApplyOptions{}); err != nil {
		t.Fatalf("applying the overlay's RBAC: %v", err)
	}
	const prefix = "agent-container-insights/"
	var allowed []authorizationv1.ResourceAttributes
	for _, key := range []string{"ClusterRole/otelcol-sre-agent", "ClusterRole/otelcol-sre-agent-container-insights"} {
		allowed = append(allowed, attributes(wantRBAC[prefix+key], "")...)
	}
	allowed = append(allowed, attributes(wantRBAC[prefix+"Role/otelcol-sre-agent-container-insights-leader"], ns)...)
	c.WaitForAccess(t, authorizationv1.SubjectAccessReviewSpec{User: testcluster.ServiceAccountUser(ns, "otelcol-sre-agent"), ResourceAttributes: &allowed[0]})
	client, err := kubernetes.NewForConfig(c.ServiceAccountConfig(t, ns, "otelcol-sre-agent"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range allowed {
		if !can(t, client, a) {
			t.Errorf("denied %s, which the agent with the container-insights option needs", describe(a))
		}
	}
	for _, a := range deniedToEveryCollector(ns, false) {
		if a.Resource == "nodes" && a.Subresource == "proxy" {
			continue // the receiver's pod store: granted on purpose
		}
		if can(t, client, a) {
			t.Errorf("allowed %s", describe(a))
		}
	}
	for _, a := range []authorizationv1.ResourceAttributes{
		{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "default"},
		{Verb: "create", Resource: "configmaps", Namespace: ns},
		{Verb: "create", Resource: "events", Namespace: ns},
	} {
		if can(t, client, a) {
			t.Errorf("allowed %s, which the option does not grant", describe(a))
		}
	}
}
