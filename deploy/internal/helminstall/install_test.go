// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package helminstall_test

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/otelcol-sre/otelcol-sre/deploy/internal/gen"
	"github.com/otelcol-sre/otelcol-sre/deploy/internal/render"
	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

const (
	deployDir = "../.."
	namespace = "otelcol-sre"
	release   = "otelcol-sre"
	slo       = "otelcol-sre-gateway-slo"
)

// The README's path on a real API server: the Kustomize install taken over by `helm install
// --take-ownership` without recreating anything, an upgrade that rolls the SLO tier in place, an upgrade
// that changes the volume size refused by the API server (volumeClaimTemplates are immutable), and an
// uninstall that leaves the SLO tier's claims. The control plane runs no controllers, so the claim a
// StatefulSet controller would create is created here by hand, named as the controller names it.
func TestHelmTakesOverUpgradesAndUninstalls(t *testing.T) {
	c := testcluster.Shared(t)
	client := c.Client()
	settings, err := gen.ReadSettings(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	values := gen.SettingsValues(settings)

	// The Kustomize install (deploy/README.md "Zero to each mode": the gateway, then the agent).
	var kustomized []*unstructured.Unstructured
	for _, overlay := range []string{"gateway", "agent"} {
		objs, err := render.Build(deployDir, overlay)
		if err != nil {
			t.Fatal(err)
		}
		kustomized = append(kustomized, objs...)
	}
	if err := render.Apply(t.Context(), c.Config(), kustomized, render.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	before, size := stsUID(t, client), storage(t, client)
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-" + slo + "-0", Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/name": slo}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(namespace).Create(t.Context(), claim, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	cfg := actionConfig(t, c)
	ch, err := loader.Load(deployDir + "/" + gen.ChartDir)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.TakeOwnership = release, namespace, true
	if _, err := install.RunWithContext(t.Context(), ch, values); err != nil {
		t.Fatalf("helm install --take-ownership over the Kustomize install: %v", err)
	}
	t.Cleanup(func() { _, _ = action.NewUninstall(actionConfig(t, c)).Run(release) })
	if after := stsUID(t, client); after != before {
		t.Errorf("the take-over recreated StatefulSet %s (uid %s -> %s)", slo, before, after)
	}

	// helm upgrade: other SLO-tier resources roll its pod template in place; GOMEMLIMIT follows the limit.
	bigger := map[string]any{}
	gen.MergeValues(bigger, values)
	gen.MergeValues(bigger, map[string]any{"gateway": map[string]any{"slo": map[string]any{"resources": map[string]any{
		"requests": map[string]any{"cpu": "1", "memory": "2Gi"}, "limits": map[string]any{"memory": "3Gi"}}}}})
	if _, err := upgrade(t, c, ch, bigger); err != nil {
		t.Fatalf("helm upgrade with other resources: %v", err)
	}
	if got := gomemlimit(t, client); got != "2457MiB" {
		t.Errorf("after the upgrade GOMEMLIMIT is %q, want 2457MiB (80%% of 3Gi)", got)
	}
	if after := stsUID(t, client); after != before {
		t.Errorf("the upgrade recreated StatefulSet %s", slo)
	}

	// Another volume size: the API server refuses the change, the release is marked failed, nothing moves.
	resized := map[string]any{}
	gen.MergeValues(resized, bigger)
	gen.MergeValues(resized, map[string]any{"gateway": map[string]any{"slo": map[string]any{"storage": "1Ti"}}})
	_, err = upgrade(t, c, ch, resized)
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("helm upgrade with gateway.slo.storage=1Ti: err %v, want the API server's Forbidden", err)
	}
	t.Logf("as deploy/README.md says, the storage change is refused: %v", err)
	if got := storage(t, client); got != size {
		t.Errorf("volumeClaimTemplates storage %s after the refused upgrade, want %s", got, size)
	}

	// helm uninstall removes what the chart rendered and leaves the claims (and their data).
	if _, err := action.NewUninstall(actionConfig(t, c)).Run(release); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	if _, err := client.AppsV1().StatefulSets(namespace).Get(t.Context(), slo, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("StatefulSet %s after uninstall: %v, want not found", slo, err)
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(namespace).Get(t.Context(), claim.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("claim %s after uninstall: %v, want it kept", claim.Name, err)
	}
}

// actionConfig is helm's action configuration for the test control plane's admin, releases stored as
// Secrets in the namespace (helm's default driver).
func actionConfig(t *testing.T, c *testcluster.Cluster) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	kubeconfig, ns := c.AdminKubeconfig(), namespace
	flags.KubeConfig, flags.Namespace = &kubeconfig, &ns
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func upgrade(t *testing.T, c *testcluster.Cluster, ch *chart.Chart, values map[string]any) (any, error) {
	t.Helper()
	u := action.NewUpgrade(actionConfig(t, c))
	u.Namespace = namespace
	return u.RunWithContext(t.Context(), release, ch, values)
}

func stsUID(t *testing.T, client kubernetes.Interface) types.UID {
	t.Helper()
	ss, err := client.AppsV1().StatefulSets(namespace).Get(t.Context(), slo, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ss.UID
}

func gomemlimit(t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	ss, err := client.AppsV1().StatefulSets(namespace).Get(t.Context(), slo, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ss.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "GOMEMLIMIT" {
			return e.Value
		}
	}
	return ""
}

func storage(t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	ss, err := client.AppsV1().StatefulSets(namespace).Get(t.Context(), slo, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q := ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
	return q.String()
}
