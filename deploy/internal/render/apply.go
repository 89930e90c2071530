// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package render

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// ApplyOptions controls Apply.
type ApplyOptions struct {
	// DryRun sends every object with dryRun=All: the API server admits, defaults and validates it
	// (schema, unknown fields, RBAC escalation, ...) but stores nothing. Namespaces are the exception
	// when CreateNamespaces is set, because a namespaced object cannot be dry-run into a namespace
	// that does not exist.
	DryRun bool
	// CreateNamespaces applies Namespace objects for real even when DryRun is set.
	CreateNamespaces bool
	// FieldManager for server-side apply; "otelcol-sre-deploy" when empty.
	FieldManager string
}

// Apply server-side-applies objs through cfg, Namespaces first, then other cluster-scoped objects,
// then namespaced ones, and returns one error per object that failed (joined). An object whose kind
// the server does not serve (e.g. an OpenTelemetryCollector without the operator's CRD) fails with a
// "no matches for kind" error naming it.
func Apply(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	manager := opts.FieldManager
	if manager == "" {
		manager = "otelcol-sre-deploy"
	}
	var errs []error
	for _, o := range applyOrder(objs) {
		if err := applyOne(ctx, dyn, mapper, o, manager, opts); err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

func applyOne(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured, manager string, opts ApplyOptions) error {
	gvk := o.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	body, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	// Strict: the API server rejects unknown or duplicate fields instead of dropping them.
	po := metav1.PatchOptions{FieldManager: manager, Force: new(true), FieldValidation: "Strict"}
	if opts.DryRun && !(opts.CreateNamespaces && gvk.Kind == "Namespace" && gvk.Group == "") {
		po.DryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
	}
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, po)
	return err
}

// applyOrder: Namespaces, then other objects without a namespace (cluster-scoped), then the rest,
// each group in input order.
func applyOrder(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	rank := func(o *unstructured.Unstructured) int {
		switch {
		case o.GetKind() == "Namespace":
			return 0
		case o.GetNamespace() == "":
			return 1
		default:
			return 2
		}
	}
	out := slices.Clone(objs)
	slices.SortStableFunc(out, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	return out
}
