// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package kubeclient

import rbacv1 "k8s.io/api/rbac/v1"

// Rules returns the API permissions a pod-diagnosis cache needs and uses: get, list and watch on pods
// and events (core group), nothing else. deploy's tests check that the Role or ClusterRole of every
// mode running a pod-diagnosis component grants them; the processor's control-plane tests run with a
// token bound to exactly these.
func Rules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{
		APIGroups: []string{""},
		Resources: []string{"pods", "events"},
		Verbs:     []string{"get", "list", "watch"},
	}}
}
