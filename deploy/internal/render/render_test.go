// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package render

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestBuildAndApplyOrder(t *testing.T) {
	objs, err := Build("../..", "gateway")
	if err != nil {
		t.Fatal(err)
	}
	ordered := applyOrder(objs)
	if len(ordered) != len(objs) {
		t.Fatalf("applyOrder lost objects: %d of %d", len(ordered), len(objs))
	}
	if ordered[0].GetKind() != "Namespace" {
		t.Fatalf("first object %s, want the Namespace", ordered[0].GetKind())
	}
	firstNamespaced := slices.IndexFunc(ordered, func(o *unstructured.Unstructured) bool { return o.GetNamespace() != "" })
	for i, o := range ordered {
		if o.GetNamespace() == "" && i > firstNamespaced {
			t.Errorf("cluster-scoped %s %s after namespaced objects", o.GetKind(), o.GetName())
		}
	}
	if !slices.ContainsFunc(ordered, func(o *unstructured.Unstructured) bool { return o.GetKind() == "ClusterRole" }) {
		t.Error("gateway renders no ClusterRole")
	}
}

func TestYAMLRoundTrips(t *testing.T) {
	objs, err := Build("../..", "agent")
	if err != nil {
		t.Fatal(err)
	}
	out, err := YAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, doc := range splitDocuments(out) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		docs++
	}
	if docs != len(objs) {
		t.Fatalf("YAML has %d documents for %d objects", docs, len(objs))
	}
}

func splitDocuments(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i+4 <= len(b); i++ {
		if (i == 0 || b[i-1] == '\n') && string(b[i:i+4]) == "---\n" {
			out = append(out, b[start:i])
			start = i + 4
		}
	}
	return append(out, b[start:])
}
