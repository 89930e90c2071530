// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package deploy holds the otelcol-sre deployment assets (collector configs, Kustomize overlays, alert
// rules, dashboards) and the tests that validate them; see README.md.
package deploy

//go:generate go run ../cmd/slo-backtest rules --config configs/gateway-slo.yaml -o rules/slo-events.yaml
//go:generate go run ./internal/gen/gendeploy -deploy .
