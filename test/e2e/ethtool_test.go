// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/testenv"
)

// netnsWithVeth creates a network namespace holding an up veth pair e2e0/e2e1 and returns its path; it needs
// root and iproute2, and skips (or fails when CI=true) without them.
func netnsWithVeth(t *testing.T) string {
	t.Helper()
	testenv.LookPath(t, "/usr/sbin/ip", "iproute2")
	testenv.NeedRoot(t, "create a network namespace")
	name := fmt.Sprintf("otelcol-e2e-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run("-n", name, "link", "add", "e2e0", "type", "veth", "peer", "name", "e2e1")
	run("-n", name, "link", "set", "e2e0", "up")
	run("-n", name, "link", "set", "e2e1", "up")
	return "/var/run/netns/" + name
}

// TestEthtoolReceiverSeriesInPrometheus: the ethtool receiver reads a veth pair in a network namespace the
// test made; its typed metrics and the node_net_ethtool compatibility gauge must reach Prometheus through
// remote write with the names and labels deploy's rules and dashboards use.
func TestEthtoolReceiverSeriesInPrometheus(t *testing.T) {
	nsPath := netnsWithVeth(t)
	prom := startPrometheus(t, 0)
	proc, _ := collector(t, "ethtool.yaml", map[string]string{"RW_ENDPOINT": prom.url() + "/api/v1/write", "NETNS_PATH": nsPath})

	checks := []struct {
		query string
		want  float64
	}{
		{`ethtool_link_up{device="e2e0"}`, 1},
		{`ethtool_link_up{device="e2e1"}`, 1},
		{`ethtool_interface_info{device="e2e0",driver="veth"}`, 1},
		{`count(ethtool_queue_statistic{device="e2e0",queue="0"}) > bool 0`, 1},
		{`count(node_net_ethtool{device="e2e0"}) > bool 0`, 1},
	}
	for _, c := range checks {
		if got := prom.waitScalar(t, c.query, c.want, 30*time.Second); got != c.want {
			t.Errorf("%s = %v, want %v", c.query, got, c.want)
		}
	}
	var names []string
	for _, s := range prom.query(t, `count by (__name__) ({device="e2e0"})`) {
		names = append(names, s.Labels["__name__"])
	}
	sort.Strings(names)
	t.Logf("ethtool series for e2e0: %v", names)
	if t.Failed() {
		t.Logf("collector output:\n%s", proc.Output())
	}
}
