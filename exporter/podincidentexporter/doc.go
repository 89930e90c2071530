// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package podincidentexporter turns the k8s.pod.diagnosis series into
// incidents — opened once, escalated, reminded, resolved once — and delivers
// them to Slack, webhooks and Alertmanager through exporterhelper queues,
// keeping the incident table in a storage extension.
package podincidentexporter
