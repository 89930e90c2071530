// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectionLink(t *testing.T) {
	tests := []struct {
		name              string
		interfaces        InterfacesConfig
		iface             string
		loopback, virtual bool
		want              bool
	}{
		{name: "physical interface by default", iface: "eth0", want: true},
		{name: "loopback excluded by default", iface: "lo", loopback: true, want: false},
		{name: "loopback when asked", interfaces: InterfacesConfig{IncludeLoopback: true}, iface: "lo", loopback: true, want: true},
		{name: "virtual excluded by default", iface: "veth1", virtual: true, want: false},
		{name: "virtual when asked", interfaces: InterfacesConfig{IncludeVirtual: true}, iface: "veth1", virtual: true, want: true},
		{name: "include matches whole name", interfaces: InterfacesConfig{Include: []string{"eth[0-9]"}}, iface: "eth0", want: true},
		{name: "include is anchored", interfaces: InterfacesConfig{Include: []string{"eth[0-9]"}}, iface: "veth0", want: false},
		{name: "not included", interfaces: InterfacesConfig{Include: []string{"ens.*"}}, iface: "eth0", want: false},
		{name: "exclude wins over include", interfaces: InterfacesConfig{Include: []string{"eth.*"}, Exclude: []string{"eth1"}}, iface: "eth1", want: false},
		{name: "exclude alone", interfaces: InterfacesConfig{Exclude: []string{"docker.*"}}, iface: "docker0", want: false},
		{name: "include does not override loopback default", interfaces: InterfacesConfig{Include: []string{"lo"}}, iface: "lo", loopback: true, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := newSelection(&Config{Interfaces: tt.interfaces})
			require.NoError(t, err)
			assert.Equal(t, tt.want, sel.link(tt.iface, tt.loopback, tt.virtual))
		})
	}
}

func TestSelectionDriverAndStatistic(t *testing.T) {
	sel, err := newSelection(&Config{
		Interfaces: InterfacesConfig{Drivers: []string{"ena", "ixgbe"}},
		Statistics: StatisticsConfig{Include: []string{"queue_[0-9]+_.*", "tx_timeout"}, Exclude: []string{".*xdp.*"}},
	})
	require.NoError(t, err)
	assert.True(t, sel.driver("ena"))
	assert.False(t, sel.driver("veth"))
	assert.False(t, sel.driver(""), "unknown driver with a driver list")

	assert.True(t, sel.statistic("queue_3_tx_cnt"))
	assert.True(t, sel.statistic("tx_timeout"))
	assert.False(t, sel.statistic("tx_timeout_count"), "anchored")
	assert.False(t, sel.statistic("queue_0_rx_xdp_drop"), "exclude wins")

	all, err := newSelection(&Config{})
	require.NoError(t, err)
	assert.True(t, all.driver("anything"))
	assert.True(t, all.statistic("anything"))
}
