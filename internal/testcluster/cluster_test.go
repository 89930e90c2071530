// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/otelcol-sre/otelcol-sre/internal/testcluster"
)

// scheduleDeadline bounds waits for the scheduler; generous for a loaded
// shared machine (usually well under a second).
const scheduleDeadline = 2 * time.Minute

func TestMain(m *testing.M) { testcluster.Main(m) }

func TestSchedulerMarksPodUnschedulable(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	node := c.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})

	createPod(t, c.Client(), ns, "fits", "500m")
	createPod(t, c.Client(), ns, "too-big", "2")

	fits := waitPodScheduled(t, c.Client(), ns, "fits", func(ct *assert.CollectT, cond corev1.PodCondition) {
		assert.Equal(ct, corev1.ConditionTrue, cond.Status)
	})
	assert.Equal(t, node.Name, fits.Spec.NodeName, "the real scheduler binds a pod that fits to the only node")

	tooBig := waitPodScheduled(t, c.Client(), ns, "too-big", func(ct *assert.CollectT, cond corev1.PodCondition) {
		assert.Equal(ct, corev1.ConditionFalse, cond.Status)
	})
	cond := podScheduled(tooBig)
	assert.Equal(t, corev1.PodReasonUnschedulable, cond.Reason)
	assert.Contains(t, cond.Message, "0/1 nodes are available")
	assert.Contains(t, cond.Message, "Insufficient cpu")
	assert.Empty(t, tooBig.Spec.NodeName)
}

func TestServiceAccountLimitedToPods(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	client, cfg := c.ClientWithClusterRole(t, ns, []rbacv1.PolicyRule{{
		APIGroups: []string{""},
		Resources: []string{"pods"},
		Verbs:     []string{"get", "list", "watch"},
	}})
	ctx := t.Context()

	_, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err, "list pods is granted")
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err, "watch pods is granted")
	w.Stop()

	_, err = client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	assert.Truef(t, apierrors.IsForbidden(err), "list secrets must be forbidden, got %v", err)
	_, err = client.CoreV1().Pods(ns).Create(ctx, testcluster.PodRequestingCPU("denied", "100m"), metav1.CreateOptions{})
	assert.Truef(t, apierrors.IsForbidden(err), "create pods must be forbidden, got %v", err)

	// The same identity through a kubeconfig file, as a collector or kubectl plugin loads it.
	restCfg, err := clientcmd.BuildConfigFromFlags("", c.WriteKubeconfig(t, cfg, ns))
	require.NoError(t, err)
	fromFile, err := kubernetes.NewForConfig(restCfg)
	require.NoError(t, err)
	_, err = fromFile.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	_, err = fromFile.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	assert.Truef(t, apierrors.IsForbidden(err), "list secrets through the kubeconfig must be forbidden, got %v", err)
}

func TestAPIServerRestartsOnSamePort(t *testing.T) {
	c := testcluster.Start(t) // its own cluster: stopping the API server disturbs everyone on it
	ns := c.Namespace(t)
	client := c.Client()
	before := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}, Data: map[string]string{"k": "v"}}
	_, err := client.CoreV1().ConfigMaps(ns).Create(t.Context(), before, metav1.CreateOptions{})
	require.NoError(t, err)
	host := c.Host()

	c.StopAPIServer()
	_, err = client.CoreV1().ConfigMaps(ns).Get(t.Context(), "before", metav1.GetOptions{})
	require.Error(t, err, "the API server is down")

	require.NoError(t, c.StartAPIServer())
	assert.Equal(t, host, c.Host())
	got, err := client.CoreV1().ConfigMaps(ns).Get(t.Context(), "before", metav1.GetOptions{})
	require.NoError(t, err, "the old client reaches the restarted API server, which kept etcd's data")
	assert.Equal(t, before.Data, got.Data)

	// The scheduler kept running through the outage and resumes its watches:
	// it sees the new node (until then it reports "no nodes available") and
	// finds the pod too big for it.
	c.CreateNode(t, "", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")})
	createPod(t, client, ns, "after-restart", "2")
	waitPodScheduled(t, client, ns, "after-restart", func(ct *assert.CollectT, cond corev1.PodCondition) {
		assert.Equal(ct, corev1.ConditionFalse, cond.Status)
		assert.Equal(ct, corev1.PodReasonUnschedulable, cond.Reason)
		assert.Contains(ct, cond.Message, "Insufficient cpu")
	})
}

func createPod(t *testing.T, client kubernetes.Interface, ns, name, cpu string) {
	t.Helper()
	_, err := client.CoreV1().Pods(ns).Create(t.Context(), testcluster.PodRequestingCPU(name, cpu), metav1.CreateOptions{})
	require.NoError(t, err)
}

// waitPodScheduled waits until the pod's PodScheduled condition passes check
// and returns the pod.
func waitPodScheduled(t *testing.T, client kubernetes.Interface, ns, name string, check func(*assert.CollectT, corev1.PodCondition)) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		p, err := client.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		require.NoError(ct, err)
		cond := podScheduled(p)
		require.NotNil(ct, cond, "no PodScheduled condition yet")
		check(ct, *cond)
		got = p
	}, scheduleDeadline, 50*time.Millisecond)
	return got
}

func podScheduled(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
