// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// testNow is the "now" the testdata pods were authored against.
var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func loadPod(t testing.TB, name string) *corev1.Pod {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pods", name+".json"))
	require.NoError(t, err)
	var pod corev1.Pod
	require.NoError(t, json.Unmarshal(b, &pod))
	return &pod
}

// loadEvents returns the events of testdata/events/<name>.json, or none.
func loadEvents(t testing.TB, name string) []corev1.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var list corev1.EventList
	require.NoError(t, json.Unmarshal(b, &list))
	return list.Items
}

func leanEvents(evs []corev1.Event) []Event {
	out := make([]Event, 0, len(evs))
	for i := range evs {
		out = append(out, FromEvent(&evs[i], 0, nil))
	}
	return out
}
