// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// DefaultEventReasons are the Warning event reasons the diagnosis reads.
var DefaultEventReasons = []string{
	"FailedMount", "FailedAttachVolume", "FailedCreatePodSandBox", "Unhealthy", "Failed", "FailedScheduling", "NodeNotReady",
}

// DefaultMaxEventsPerPod bounds the events of one pod a diagnosis reads.
const DefaultMaxEventsPerPod = 8

// EventChoice chooses the events a diagnosis reads, the same way in the
// informer cache and in kubectl-diagnose: Warning events about a pod with one
// of the chosen reasons, at most MaxPerPod of them per pod, newest first.
type EventChoice struct {
	reasons   map[string]bool
	maxPerPod int
}

// NewEventChoice keeps reasons (empty: DefaultEventReasons) and at most
// maxPerPod events per pod (0 or less: DefaultMaxEventsPerPod).
func NewEventChoice(reasons []string, maxPerPod int) EventChoice {
	if len(reasons) == 0 {
		reasons = DefaultEventReasons
	}
	if maxPerPod <= 0 {
		maxPerPod = DefaultMaxEventsPerPod
	}
	c := EventChoice{reasons: make(map[string]bool, len(reasons)), maxPerPod: maxPerPod}
	for _, r := range reasons {
		c.reasons[r] = true
	}
	return c
}

// Relevant tells whether e is a Warning event about a pod with a chosen reason.
func (c EventChoice) Relevant(e *corev1.Event) bool {
	return c.reasons[e.Reason] && e.Type == corev1.EventTypeWarning &&
		(e.InvolvedObject.Kind == "Pod" || e.InvolvedObject.Kind == "")
}

// Newest returns the newest MaxPerPod of one pod's events; it reorders
// events in place when it has to cut.
func (c EventChoice) Newest(events []Event) []Event {
	if len(events) <= c.maxPerPod {
		return events
	}
	slices.SortFunc(events, func(a, b Event) int { return b.Last.Compare(a.Last) })
	return events[:c.maxPerPod]
}
