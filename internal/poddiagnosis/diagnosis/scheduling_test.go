// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseSchedulingMessage(t *testing.T) {
	tests := []struct {
		name       string
		msg        string
		ok         bool
		nodes      int
		reasons    []NodeReason
		postFilter string
	}{
		{
			name:  "new wording with preemption",
			msg:   "0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 Insufficient cpu. preemption: 0/5 nodes are available: 1 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod.",
			ok:    true,
			nodes: 5,
			reasons: []NodeReason{
				{1, "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"},
				{4, "Insufficient cpu"},
			},
			postFilter: "preemption: 0/5 nodes are available: 1 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod.",
		},
		{
			name:  "old taint wording with commas inside the taint",
			msg:   "0/3 nodes are available: 2 node(s) had taint {dedicated: gpu, team: ml}, that the pod didn't tolerate, 1 Insufficient memory.",
			ok:    true,
			nodes: 3,
			reasons: []NodeReason{
				{2, "node(s) had taint {dedicated: gpu, team: ml}, that the pod didn't tolerate"},
				{1, "Insufficient memory"},
			},
		},
		{
			name:       "prefilter message without counts",
			msg:        `0/4 nodes are available: persistentvolumeclaim "data-elastic-0" not found. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.`,
			ok:         true,
			nodes:      4,
			reasons:    []NodeReason{{4, `persistentvolumeclaim "data-elastic-0" not found`}},
			postFilter: "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.",
		},
		{
			name:    "unbound immediate claims (old PreFilter wording)",
			msg:     "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
			ok:      true,
			nodes:   2,
			reasons: []NodeReason{{2, "pod has unbound immediate PersistentVolumeClaims"}},
		},
		{
			name:  "several reasons with the same node",
			msg:   "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
			ok:    true,
			nodes: 3,
			reasons: []NodeReason{
				{1, "Insufficient cpu"}, {1, "Insufficient memory"}, {2, "node(s) didn't match Pod's node affinity/selector"},
			},
		},
		{
			name:  "no nodes at all",
			msg:   "0/0 nodes are available: 0 nodes available for scheduling.",
			ok:    true,
			nodes: 0,
			reasons: []NodeReason{
				{0, "nodes available for scheduling"},
			},
		},
		{
			name:       "post-filter text that is not preemption",
			msg:        "0/1 nodes are available: 1 Insufficient cpu. still not schedulable: cannot allocate all claims",
			ok:         true,
			nodes:      1,
			reasons:    []NodeReason{{1, "Insufficient cpu"}},
			postFilter: "still not schedulable: cannot allocate all claims",
		},
		{
			name:    "dotted names inside the histogram",
			msg:     "0/2 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
			ok:      true,
			nodes:   2,
			reasons: []NodeReason{{2, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"}},
		},
		{name: "not a scheduler message", msg: "running PreBind plugin \"VolumeBinding\": binding volumes: timed out waiting for the condition", ok: false},
		{name: "empty", msg: "", ok: false},
		{name: "garbage count", msg: "0/x nodes are available: 1 Insufficient cpu.", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := ParseSchedulingMessage(tt.msg)
			assert.Equal(t, tt.ok, ok)
			if !tt.ok {
				return
			}
			assert.Equal(t, tt.nodes, f.Nodes)
			assert.Equal(t, tt.reasons, f.Reasons)
			assert.Equal(t, tt.postFilter, f.PostFilter)
		})
	}
}

func TestSchedulingFailureHint(t *testing.T) {
	tests := []struct {
		msg, want string
	}{
		{"0/5 nodes are available: 1 node(s) had untolerated taint {a: b}, 4 Insufficient cpu.", "4 of 5 nodes: Insufficient cpu — lower the pod's resource requests"},
		{"0/3 nodes are available: 3 node(s) had volume node affinity conflict.", "WaitForFirstConsumer"},
		{"0/3 nodes are available: 3 node(s) were unschedulable.", "cordoned"},
		{"0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.", "hostPort"},
		{"0/3 nodes are available: 3 Too many pods.", "pod limit"},
		{"0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.", "anti-affinity"},
		{"0/3 nodes are available: 3 node(s) exceed max volume count.", "volume constraint"},
		{"0/3 nodes are available: 3 something entirely new.", "fix that constraint"},
		{"0/0 nodes are available: .", "no fitting node"},
	}
	for _, tt := range tests {
		f, ok := ParseSchedulingMessage(tt.msg)
		assert.True(t, ok, tt.msg)
		assert.Contains(t, f.Hint(), tt.want, tt.msg)
	}
}
