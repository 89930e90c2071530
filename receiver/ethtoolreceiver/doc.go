// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package ethtoolreceiver reads NIC driver statistics through the SIOCETHTOOL
// ioctl: the ENA allowance counters as first-class metrics and every other
// driver statistic with per-queue numbers as attributes, optionally across
// network namespaces.
package ethtoolreceiver
