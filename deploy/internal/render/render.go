// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package render builds the otelcol-sre Kustomize overlays in-process (the kustomize API that kubectl
// embeds, with kubectl's default load restrictions) and applies the result to a cluster, so tests can
// check the objects offline and against a real API server with server-side dry-run.
package render

import (
	"errors"
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Overlays are the deployable modes, as directories under deploy/kustomize/overlays.
var Overlays = []string{"agent", "agent-container-insights", "agent-direct", "agent-direct-incidents-slack", "agent-tls", "amp-rules", "gateway", "gateway-incidents-slack", "gateway-lambda", "gateway-tls", "sidecar", "sidecar-operator", "sidecar-operator-tls", "sidecar-tls"}

// Build renders deploy/kustomize/overlays/<overlay> below deployDir (the repository's deploy/
// directory) exactly as `kubectl kustomize` would, and returns the objects in output order.
func Build(deployDir, overlay string) ([]*unstructured.Unstructured, error) {
	dir := filepath.Join(deployDir, "kustomize", "overlays", overlay)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	objs := make([]*unstructured.Unstructured, 0, resMap.Size())
	for _, res := range resMap.Resources() {
		// Through JSON, so numbers are int64/float64 as unstructured (and the API machinery) expects.
		b, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("overlay %s: object %s: %w", overlay, res.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("overlay %s: object %s: %w", overlay, res.CurId(), err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// YAML renders the objects as one multi-document YAML stream, the form `kubectl apply -f -` takes.
func YAML(objs []*unstructured.Unstructured) ([]byte, error) {
	var out []byte
	for i, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("object %d (%s %s): %w", i, o.GetKind(), o.GetName(), err)
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
	}
	return out, nil
}

// Raw returns the JSON of one object, for strict decoding into a typed API struct.
func Raw(o *unstructured.Unstructured) ([]byte, error) {
	b, err := o.MarshalJSON()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s %s", o.GetKind(), o.GetName()), err)
	}
	return b, nil
}
