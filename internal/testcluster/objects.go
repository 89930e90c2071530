// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// cleanupTimeout bounds each delete done at test cleanup.
const cleanupTimeout = 30 * time.Second

// rbacTimeout bounds how long WaitForAccess waits for the API server's RBAC
// caches to see new roles and bindings (normally milliseconds).
const rbacTimeout = 30 * time.Second

// Namespace creates a fresh namespace named after tb and returns its name.
// It is deleted at cleanup; with no namespace controller running it then
// stays Terminating forever, so never wait for its deletion.
func (c *Cluster) Namespace(tb testing.TB) string {
	tb.Helper()
	ns, err := c.client.CoreV1().Namespaces().Create(tb.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: generateNamePrefix(tb.Name())},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("testcluster: creating a namespace: %v", err)
	}
	c.deleteAtCleanup(tb, "namespace "+ns.Name, func(ctx context.Context) error {
		return c.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// CreateNode creates a Node that looks like one a kubelet registered: its
// status (created in the same call) has capacity = allocatable, Ready=True,
// and it carries the kubernetes.io/{hostname,os,arch} labels. allocatable
// overrides the defaults cpu=2, memory=4Gi, pods=110 key by key. mutate
// functions run on the object before it is created (labels, taints, ...).
// An empty name lets the API server generate one ("node-xxxxx"). The Node is
// deleted at cleanup. Nodes are cluster-wide: on a Shared cluster they are
// seen by the scheduler for every test.
func (c *Cluster) CreateNode(tb testing.TB, name string, allocatable corev1.ResourceList, mutate ...func(*corev1.Node)) *corev1.Node {
	tb.Helper()
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("4Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	maps.Copy(res, allocatable)
	now := metav1.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
		},
		Status: corev1.NodeStatus{
			Capacity:    res,
			Allocatable: res.DeepCopy(),
			Conditions: []corev1.NodeCondition{{
				Type:               corev1.NodeReady,
				Status:             corev1.ConditionTrue,
				Reason:             "KubeletReady",
				Message:            "kubelet is posting ready status",
				LastHeartbeatTime:  now,
				LastTransitionTime: now,
			}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: KubeVersion, OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	if name == "" {
		node.GenerateName = "node-"
	} else {
		node.Labels["kubernetes.io/hostname"] = name
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}}
	}
	for _, m := range mutate {
		m(node)
	}
	created, err := c.client.CoreV1().Nodes().Create(tb.Context(), node, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("testcluster: creating node %q: %v", name, err)
	}
	c.deleteAtCleanup(tb, "node "+created.Name, func(ctx context.Context) error {
		return c.client.CoreV1().Nodes().Delete(ctx, created.Name, metav1.DeleteOptions{})
	})
	return created
}

// PodRequestingCPU is a one-container Pod that asks for cpu (e.g. "4"): more than a node's allocatable and
// the real scheduler reports it Unschedulable, which is what diagnosis tests need.
func PodRequestingCPU(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:      "app",
			Image:     "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
}

// ServiceAccountUser returns the user name the API server authenticates
// ServiceAccount namespace/name as, for RBAC subjects and access reviews.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// ServiceAccountConfig returns a rest.Config that authenticates as
// ServiceAccount namespace/name with a one-hour token from the TokenRequest
// API, creating the ServiceAccount first if it does not exist. It grants
// nothing: bind roles to the ServiceAccount (and WaitForAccess) yourself, or
// use ClientWithClusterRole.
func (c *Cluster) ServiceAccountConfig(tb testing.TB, namespace, name string) *rest.Config {
	tb.Helper()
	ctx := tb.Context()
	_, err := c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatalf("testcluster: creating ServiceAccount %s/%s: %v", namespace, name, err)
	}
	expiry := int64(time.Hour / time.Second)
	tr, err := c.client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("testcluster: requesting a token for ServiceAccount %s/%s: %v", namespace, name, err)
	}
	cfg := rest.AnonymousClientConfig(c.admin)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

// ClientWithClusterRole creates a ServiceAccount in namespace, a ClusterRole
// holding rules and a ClusterRoleBinding between them, waits until RBAC
// grants the first rule, and returns a clientset (and its rest.Config) that
// authenticate as that ServiceAccount. The role and binding are deleted at
// cleanup. Use it to prove a set of rules is enough, and no more.
func (c *Cluster) ClientWithClusterRole(tb testing.TB, namespace string, rules []rbacv1.PolicyRule) (kubernetes.Interface, *rest.Config) {
	tb.Helper()
	ctx := tb.Context()
	sa, err := c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "sa-"},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("testcluster: creating a ServiceAccount in %s: %v", namespace, err)
	}
	prefix := generateNamePrefix(tb.Name())
	role, err := c.client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix},
		Rules:      rules,
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("testcluster: creating a ClusterRole: %v", err)
	}
	c.deleteAtCleanup(tb, "ClusterRole "+role.Name, func(ctx context.Context) error {
		return c.client.RbacV1().ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{})
	})
	binding, err := c.client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: sa.Name}},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("testcluster: creating a ClusterRoleBinding: %v", err)
	}
	c.deleteAtCleanup(tb, "ClusterRoleBinding "+binding.Name, func(ctx context.Context) error {
		return c.client.RbacV1().ClusterRoleBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{})
	})
	if len(rules) > 0 {
		spec := accessReviewFor(rules[0])
		spec.User = ServiceAccountUser(namespace, sa.Name)
		c.WaitForAccess(tb, spec)
	}
	cfg := c.ServiceAccountConfig(tb, namespace, sa.Name)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatalf("testcluster: creating a client for ServiceAccount %s/%s: %v", namespace, sa.Name, err)
	}
	return client, cfg
}

// WaitForAccess polls SubjectAccessReviews for spec until the API server
// allows it, failing tb after 30 s. RBAC objects take effect once the API
// server's informers see them, a few milliseconds after they are created;
// wait on one permission a new binding grants before relying on it.
func (c *Cluster) WaitForAccess(tb testing.TB, spec authorizationv1.SubjectAccessReviewSpec) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), rbacTimeout)
	defer cancel()
	for {
		review, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx,
			&authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		if err == nil && review.Status.Allowed {
			return
		}
		if err == nil {
			err = fmt.Errorf("denied: %q", review.Status.Reason)
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("testcluster: %s still not allowed %s after %s: %v", spec.User, describeAccess(spec), rbacTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// accessReviewFor returns the first request rule allows.
func accessReviewFor(rule rbacv1.PolicyRule) authorizationv1.SubjectAccessReviewSpec {
	first := func(s []string) string {
		if len(s) == 0 {
			return ""
		}
		return s[0]
	}
	if len(rule.NonResourceURLs) > 0 {
		return authorizationv1.SubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{
			Path: first(rule.NonResourceURLs), Verb: first(rule.Verbs),
		}}
	}
	return authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
		Verb: first(rule.Verbs), Group: first(rule.APIGroups), Resource: first(rule.Resources), Name: first(rule.ResourceNames),
	}}
}

func describeAccess(spec authorizationv1.SubjectAccessReviewSpec) string {
	if a := spec.NonResourceAttributes; a != nil {
		return fmt.Sprintf("to %s %s", a.Verb, a.Path)
	}
	if a := spec.ResourceAttributes; a != nil {
		return fmt.Sprintf("to %s %s.%s %q in namespace %q", a.Verb, a.Resource, a.Group, a.Name, a.Namespace)
	}
	return "(empty access review)"
}

// deleteAtCleanup registers a cleanup that deletes an object, tolerating its
// absence.
func (c *Cluster) deleteAtCleanup(tb testing.TB, what string, del func(context.Context) error) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := del(ctx); err != nil && !apierrors.IsNotFound(err) {
			tb.Errorf("testcluster: deleting %s at cleanup: %v", what, err)
		}
	})
}

// generateNamePrefix turns a test name into a DNS-1123 label prefix for
// metadata.generateName ("TestFoo/bar_baz" → "testfoo-bar-baz-").
func generateNamePrefix(testName string) string {
	const maxLen = 40 // the API server appends 5 random characters; labels allow 63
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= maxLen {
			break
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if s == "" {
		s = "test"
	}
	return s + "-"
}
