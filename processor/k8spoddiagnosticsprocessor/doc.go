// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package k8spoddiagnosticsprocessor attaches each pod's diagnosis — why it
// is Pending, Waiting, crash-looping, not Ready or stuck terminating — to the
// metrics, logs and spans of that pod.
package k8spoddiagnosticsprocessor
