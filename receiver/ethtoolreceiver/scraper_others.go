// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package ethtoolreceiver

import (
	"context"
	"fmt"
	"runtime"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
)

// ethtoolScraper refuses to start: SIOCETHTOOL and network namespaces are Linux-only.
type ethtoolScraper struct{}

func newEthtoolScraper(*Config, receiver.Settings) (*ethtoolScraper, error) {
	return &ethtoolScraper{}, nil
}

func (*ethtoolScraper) start(context.Context, component.Host) error {
	return fmt.Errorf("the ethtool receiver reads NIC statistics through the Linux SIOCETHTOOL ioctl; %s is an unsupported platform", runtime.GOOS)
}

func (*ethtoolScraper) scrape(context.Context) (pmetric.Metrics, error) {
	return pmetric.NewMetrics(), nil
}

func (*ethtoolScraper) shutdown(context.Context) error { return nil }
