// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package podtest gives the pod-diagnosis tests and benchmarks the diagnosis
// testdata (pods as `kubectl get pod -o json` prints them) and fleets of
// distinct pods built from them.
package podtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Now is the time the testdata pods were authored against.
var Now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func testdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "diagnosis", "testdata")
}

// Pod loads diagnosis/testdata/pods/<name>.json.
func Pod(tb testing.TB, name string) *corev1.Pod {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir(), "pods", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(b, &pod); err != nil {
		tb.Fatal(err)
	}
	return &pod
}

// Events loads diagnosis/testdata/events/<name>.json.
func Events(tb testing.TB, name string) []corev1.Event {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir(), "events", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	var list corev1.EventList
	if err := json.Unmarshal(b, &list); err != nil {
		tb.Fatal(err)
	}
	return list.Items
}

// Clone returns a copy of tmpl with a distinct identity (name, UID,
// resourceVersion, IP) and freshly allocated strings, as decoding a watch
// event would give; namespaces and nodes cycle over 50 and 200 values.
func Clone(tmpl *corev1.Pod, i int) *corev1.Pod {
	p := tmpl.DeepCopy()
	p.Name = fmt.Sprintf("%s-%06d", tmpl.Name, i)
	p.Namespace = "shop-" + strconv.Itoa(i%50)
	p.UID = types.UID(fmt.Sprintf("0b6d3c2a-%04x-4e5f-8a9b-%012x", i%65536, i))
	p.ResourceVersion = strconv.Itoa(1000000 + i)
	if p.Spec.NodeName != "" {
		p.Spec.NodeName = "ip-10-0-" + strconv.Itoa(i%200) + "-34.ec2.internal"
	}
	if p.Status.PodIP != "" {
		p.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", 1+i>>16, (i>>8)&255, i&255)
		p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	return p
}
