// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStatusKubectlCorners covers printPod branches the testdata pods do not
// reach.
func TestStatusKubectlCorners(t *testing.T) {
	tests := []struct {
		name string
		pod  Pod
		want string
	}{
		{
			name: "init killed by signal without reason",
			pod: Pod{Phase: "Pending", InitContainers: []Container{
				{Name: "i", HasStatus: true, Terminated: &Terminated{ExitCode: 137, Signal: 9}},
			}},
			want: "Init:Signal:9",
		},
		{
			name: "init exit code without reason",
			pod: Pod{Phase: "Pending", InitContainers: []Container{
				{Name: "i", HasStatus: true, Terminated: &Terminated{ExitCode: 3}},
			}},
			want: "Init:ExitCode:3",
		},
		{
			name: "container exit code without reason",
			pod: Pod{Phase: "Running", Containers: []Container{
				{Name: "c", HasStatus: true, Terminated: &Terminated{ExitCode: 2}},
			}},
			want: "ExitCode:2",
		},
		{
			name: "container signal without reason",
			pod: Pod{Phase: "Running", Containers: []Container{
				{Name: "c", HasStatus: true, Terminated: &Terminated{Signal: 15}},
			}},
			want: "Signal:15",
		},
		{
			name: "completed container next to a running one, pod not ready",
			pod: Pod{Phase: "Running", Containers: []Container{
				{Name: "a", HasStatus: true, Ready: true, Running: true},
				{Name: "b", HasStatus: true, Terminated: &Terminated{Reason: "Completed"}},
			}},
			want: "NotReady",
		},
		{
			name: "completed container next to a running one, pod ready",
			pod: Pod{Phase: "Running", Conditions: []Condition{{Type: "Ready", Status: "True"}}, Containers: []Container{
				{Name: "a", HasStatus: true, Ready: true, Running: true},
				{Name: "b", HasStatus: true, Terminated: &Terminated{Reason: "Completed"}},
			}},
			want: "Running",
		},
		{
			name: "first container completed, second failed",
			pod: Pod{Phase: "Running", Containers: []Container{
				{Name: "a", HasStatus: true, Terminated: &Terminated{Reason: "Completed"}},
				{Name: "b", HasStatus: true, Terminated: &Terminated{Reason: "Error", ExitCode: 1}},
			}},
			want: "Error",
		},
		{
			name: "node lost while deleting",
			pod:  Pod{Phase: "Running", Reason: "NodeLost", Deletion: NewTime(testNow)},
			want: "Unknown",
		},
		{
			name: "empty pod",
			pod:  Pod{},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Status(&tt.pod))
		})
	}
}
