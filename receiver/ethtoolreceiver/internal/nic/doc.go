// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package nic reads NIC statistics through the SIOCETHTOOL ioctl and lists
// links through rtnetlink, in the caller's or in another network namespace.
//
// The steady-state read of one interface is a single ETHTOOL_GSTATS ioctl
// into a buffer allocated once per interface (see Stats), with no Go heap
// allocation. Statistic names and counts are read once (ETHTOOL_GSSET_INFO and
// ETHTOOL_GSTRINGS) and re-read only when the kernel reports a different count.
//
// The package is Linux-only; on other platforms only NamespaceID and
// ErrCountChanged exist.
package nic
