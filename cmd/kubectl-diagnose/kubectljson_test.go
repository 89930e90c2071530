// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecodePods(t *testing.T) {
	pods, err := DecodePods([]byte(`{"apiVersion":"v1","kind":"List","items":[{"kind":"Pod","metadata":{"name":"a"}},{"kind":"Pod","metadata":{"name":"b"}}]}`))
	require.NoError(t, err)
	require.Len(t, pods, 2)
	assert.Equal(t, "b", pods[1].Name)

	_, err = DecodePods([]byte(`{"kind":"List","items":[{"kind":"Event"}]}`))
	assert.ErrorContains(t, err, "item 0 is a Event")
	_, err = DecodeEvents([]byte(`{"kind":"List","items":[{"kind":"Pod"}]}`))
	assert.ErrorContains(t, err, "item 0 is a Pod")
	_, err = DecodePods([]byte(`{"kind":"Deployment"}`))
	assert.ErrorContains(t, err, `got kind "Deployment"`)
	_, err = DecodePods([]byte(`not json`))
	assert.ErrorContains(t, err, "not a Kubernetes JSON object")
	_, err = DecodePods([]byte(`{"metadata":{}}`))
	assert.ErrorContains(t, err, "no kind")
}

func TestDecodeEventsAndEventsFor(t *testing.T) {
	events, err := DecodeEvents([]byte(`{"kind":"List","items":[
		{"type":"Warning","reason":"FailedMount","involvedObject":{"kind":"Pod","name":"a","namespace":"ns","uid":"u1"}},
		{"type":"Warning","reason":"FailedMount","involvedObject":{"kind":"Pod","name":"a","namespace":"ns","uid":"u0"}},
		{"type":"Normal","reason":"Pulled","involvedObject":{"kind":"Pod","name":"a","namespace":"ns","uid":"u1"}},
		{"type":"Warning","reason":"Unhealthy","involvedObject":{"kind":"Pod","name":"a","namespace":"ns"}},
		{"type":"Warning","reason":"FailedScheduling","involvedObject":{"kind":"Node","name":"a"}}]}`))
	require.NoError(t, err)
	require.Len(t, events, 5)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: "u1"}}
	got := EventsFor(p, events)
	require.Len(t, got, 2, "the Warning event of this incarnation (UID) and the one without UID")
	assert.Equal(t, "FailedMount", got[0].Reason)
	assert.Equal(t, "Unhealthy", got[1].Reason)

	one, err := DecodeEvents([]byte(`{"kind":"Event","reason":"Failed"}`))
	require.NoError(t, err)
	assert.Len(t, one, 1)
}
