// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"

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

// awsemf has no sending_queue and a scraper (awscontainerinsightreceiver) drops a collection its consumer
// refuses, so in every config set the manifests run, each awsemf sits behind a persistent queue: its
// pipelines receive only from loopback OTLP receivers, each fed by an otlp_grpc exporter whose sending_queue
// is on a file_storage extension the service runs, one consumer at a time (cloudwatch.yaml says why).
func TestEveryAWSEMFIsBehindAPersistentQueue(t *testing.T) {
	ciChecked := false
	for _, set := range configSets(t) {
		conf := confmap.New()
		for _, f := range set {
			if err := conf.Merge(confmap.NewFromStringMap(readConfig(t, f))); err != nil {
				t.Fatal(err)
			}
		}
		cfg := conf.ToStringMap()
		running := map[string]bool{}
		for _, e := range section(cfg, "service")["extensions"].([]any) {
			running[e.(string)] = true
		}
		for name, p := range section(cfg, "service", "pipelines") {
			pipeline := p.(map[string]any)
			for _, e := range pipeline["exporters"].([]any) {
				if typ, _, _ := strings.Cut(e.(string), "/"); typ != "awsemf" {
					continue
				}
				ciChecked = ciChecked || e == "awsemf/containerinsights"
				for _, r := range pipeline["receivers"].([]any) {
					if err := persistentQueueFeeds(cfg, r.(string), running); err != nil {
						t.Errorf("%v: pipeline %s (%s) receives from %s: %v", set, name, e, r, err)
					}
				}
			}
		}
	}
	if !ciChecked {
		t.Error("no config set runs awsemf/containerinsights: the container-insights option was not checked")
	}
}

// persistentQueueFeeds says why receiver is not a loopback OTLP receiver fed by a persistent, single-consumer
// otlp_grpc queue (nil when it is).
func persistentQueueFeeds(cfg map[string]any, receiver string, running map[string]bool) error {
	endpoint, _ := section(cfg, "receivers", receiver, "protocols", "grpc")["endpoint"].(string)
	if typ, _, _ := strings.Cut(receiver, "/"); typ != "otlp" || !strings.HasPrefix(endpoint, "127.0.0.1:") {
		return fmt.Errorf("not an OTLP/gRPC receiver on 127.0.0.1 (endpoint %q)", endpoint)
	}
	for id, e := range section(cfg, "exporters") {
		if typ, _, _ := strings.Cut(id, "/"); typ != "otlp_grpc" || e.(map[string]any)["endpoint"] != endpoint {
			continue
		}
		q := section(cfg, "exporters", id, "sending_queue")
		storage, _ := q["storage"].(string)
		if storType, _, _ := strings.Cut(storage, "/"); q["enabled"] != true || storType != "file_storage" || !running[storage] {
			return fmt.Errorf("%s's sending_queue is not on a running file_storage (enabled %v, storage %q)", id, q["enabled"], storage)
		}
		if fmt.Sprint(q["num_consumers"]) != "1" {
			return fmt.Errorf("%s's sending_queue has num_consumers %v, want 1", id, q["num_consumers"])
		}
		return nil
	}
	return fmt.Errorf("no otlp_grpc exporter sends to %s", endpoint)
}
