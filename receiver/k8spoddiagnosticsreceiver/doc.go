// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package k8spoddiagnosticsreceiver emits the diagnosis of every diagnosed
// pod as its own series, k8s.pod.diagnosis, from the shared pod-diagnosis
// informer cache.
package k8spoddiagnosticsreceiver
