// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
)

func TestEventChoiceRelevant(t *testing.T) {
	def := NewEventChoice(nil, 0)
	only := NewEventChoice([]string{"FailedMount"}, 0)
	tests := []struct {
		name   string
		choice EventChoice
		event  corev1.Event
		want   bool
	}{
		{"default reason", def, corev1.Event{Reason: "FailedAttachVolume", Type: corev1.EventTypeWarning, InvolvedObject: corev1.ObjectReference{Kind: "Pod"}}, true},
		{"kind omitted (kubectl output of one pod)", def, corev1.Event{Reason: "FailedMount", Type: corev1.EventTypeWarning}, true},
		{"reason the diagnosis does not read", def, corev1.Event{Reason: "BackOff", Type: corev1.EventTypeWarning, InvolvedObject: corev1.ObjectReference{Kind: "Pod"}}, false},
		{"normal event", def, corev1.Event{Reason: "FailedMount", Type: corev1.EventTypeNormal, InvolvedObject: corev1.ObjectReference{Kind: "Pod"}}, false},
		{"about another kind", def, corev1.Event{Reason: "FailedMount", Type: corev1.EventTypeWarning, InvolvedObject: corev1.ObjectReference{Kind: "Node"}}, false},
		{"configured reasons replace the defaults", only, corev1.Event{Reason: "Unhealthy", Type: corev1.EventTypeWarning, InvolvedObject: corev1.ObjectReference{Kind: "Pod"}}, false},
		{"configured reason", only, corev1.Event{Reason: "FailedMount", Type: corev1.EventTypeWarning, InvolvedObject: corev1.ObjectReference{Kind: "Pod"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.choice.Relevant(&tt.event))
		})
	}
}

func TestEventChoiceNewest(t *testing.T) {
	at := func(m int) Event {
		return Event{Reason: "FailedMount", Last: testNow.Add(time.Duration(m) * time.Minute)}
	}
	many := make([]Event, 0, DefaultMaxEventsPerPod+3)
	for i := range DefaultMaxEventsPerPod + 3 {
		many = append(many, at(i))
	}
	got := NewEventChoice(nil, 0).Newest(many)
	assert.Len(t, got, DefaultMaxEventsPerPod)
	assert.Equal(t, at(DefaultMaxEventsPerPod+2), got[0], "newest first")
	assert.Equal(t, at(3), got[len(got)-1], "the oldest three are dropped")

	few := []Event{at(2), at(1)}
	assert.Equal(t, few, NewEventChoice(nil, 2).Newest(few), "within the cap: unchanged")
	assert.Len(t, NewEventChoice(nil, 1).Newest([]Event{at(1), at(5), at(3)}), 1)
	assert.Equal(t, at(5), NewEventChoice(nil, 1).Newest([]Event{at(1), at(5), at(3)})[0])
}
