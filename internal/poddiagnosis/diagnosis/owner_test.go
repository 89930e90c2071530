// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFromPodOwner(t *testing.T) {
	ctrl := true
	ref := func(kind, name string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &ctrl}}
	}
	tests := []struct {
		name       string
		refs       []metav1.OwnerReference
		labels     map[string]string
		kind, want string
	}{
		{"replicaset of a deployment", ref("ReplicaSet", "checkout-7d9f8b6c5d"), map[string]string{"pod-template-hash": "7d9f8b6c5d"}, "Deployment", "checkout"},
		{"hash does not match: a bare replicaset", ref("ReplicaSet", "recommender-5c6d7e8f9"), map[string]string{"pod-template-hash": "7d9f8b6c5d"}, "ReplicaSet", "recommender-5c6d7e8f9"},
		{"replicaset without the label", ref("ReplicaSet", "legacy-rs"), nil, "ReplicaSet", "legacy-rs"},
		{"statefulset", ref("StatefulSet", "postgres"), nil, "StatefulSet", "postgres"},
		{"job", ref("Job", "nightly-29012345"), nil, "Job", "nightly-29012345"},
		{"owner that is not the controller", []metav1.OwnerReference{{Kind: "ConfigMap", Name: "x"}}, nil, "", ""},
		{"bare pod", nil, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := FromPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: tt.refs, Labels: tt.labels}}, 0, nil)
			kind, name := p.OwnerKindName()
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.want, name)
		})
	}
}
