// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"strconv"
)

// Status returns the STATUS column `kubectl get pods` prints for p, following
// kubectl's printPod (Kubernetes v1.36): pod reason or phase, SchedulingGated, Init:N/M and
// Init:<reason> while initializing (native sidecars that started do not
// count), the first container's waiting or terminated reason, Running,
// NotReady or the failed container's reason for a pod whose first container
// completed, Terminating and Unknown.
func Status(p *Pod) string {
	reason := p.Phase
	if p.Reason != "" {
		reason = p.Reason
	}
	for _, c := range p.Conditions {
		if c.Type == "PodScheduled" && c.Reason() == "SchedulingGated" {
			reason = "SchedulingGated"
		}
	}

	initializing := false
	for i := range p.InitContainers {
		c := &p.InitContainers[i]
		if !c.HasStatus {
			continue
		}
		switch {
		case c.Terminated != nil && c.Terminated.ExitCode == 0:
			continue
		case c.Sidecar && c.Started:
			continue
		case c.Terminated != nil:
			switch {
			case c.Terminated.Reason != "":
				reason = "Init:" + c.Terminated.Reason
			case c.Terminated.Signal != 0:
				reason = "Init:Signal:" + strconv.Itoa(int(c.Terminated.Signal))
			default:
				reason = "Init:ExitCode:" + strconv.Itoa(int(c.Terminated.ExitCode))
			}
		case c.Waiting != nil && c.Waiting.Reason != "" && c.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.Waiting.Reason
		default:
			reason = "Init:" + strconv.Itoa(i) + "/" + strconv.Itoa(len(p.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || conditionTrue(p, "Initialized") {
		hasRunning := false
		errorReason := ""
		for i := len(p.Containers) - 1; i >= 0; i-- {
			c := &p.Containers[i]
			if !c.HasStatus {
				continue
			}
			switch {
			case c.Waiting != nil && c.Waiting.Reason != "":
				reason = c.Waiting.Reason
			case c.Terminated != nil:
				reason = terminationReason(c.Terminated)
				if c.Terminated.ExitCode != 0 {
					errorReason = reason
				}
			case c.Ready && c.Running:
				hasRunning = true
			}
		}
		if reason == "Completed" {
			switch {
			case hasRunning && conditionTrue(p, "Ready"):
				reason = "Running"
			case errorReason != "":
				reason = errorReason
			case hasRunning:
				reason = "NotReady"
			}
		}
	}

	if !p.Deletion.IsZero() {
		switch {
		case p.Reason == reasonNodeLost:
			reason = "Unknown"
		case p.Phase != "Succeeded" && p.Phase != "Failed":
			reason = "Terminating"
		}
	}
	return reason
}

func condition(p *Pod, typ string) *Condition {
	for i := range p.Conditions {
		if p.Conditions[i].Type == typ {
			return &p.Conditions[i]
		}
	}
	return nil
}

func conditionTrue(p *Pod, typ string) bool {
	c := condition(p, typ)
	return c != nil && c.Status == "True"
}
