// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package helminstall holds the test that installs and upgrades the Helm chart (deploy/helm/otelcol-sre)
// with helm's own install, upgrade and uninstall actions on the test control plane, as deploy/README.md
// "Install on EKS with Helm" and "Upgrade" describe. It is its own package so that only its test binary
// links helm's action and Kubernetes client code.
package helminstall
