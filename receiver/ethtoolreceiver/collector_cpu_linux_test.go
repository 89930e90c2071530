// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package ethtoolreceiver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nettest"
)

// collectorCPUEnv turns on TestCollectorCPUPerPoint, a measurement of about
// two minutes that is not part of `make test`.
const collectorCPUEnv = "ETHTOOL_COLLECTOR_CPU"

// TestCollectorCPUPerPoint measures the CPU time of the built collector
// (OTELCOL_SRE_BINARY), ethtool receiver to debug exporter, reading 20 veths
// of 32 queues each (5,820 data points per scrape, an EKS node's 15 ENIs of
// 32 queues) every 100 ms: utime+stime of the whole process from
// /proc/<pid>/stat over five windows of 20 s, divided by the scrapes the
// debug exporter logged in each window and by the points of a scrape. It
// reports; it asserts only that scrapes happened with the expected points.
//
//	ETHTOOL_COLLECTOR_CPU=1 OTELCOL_SRE_BINARY=$PWD/bin/otelcol-sre \
//	  go test -run TestCollectorCPUPerPoint -v ./receiver/ethtoolreceiver/
func TestCollectorCPUPerPoint(t *testing.T) {
	if os.Getenv(collectorCPUEnv) == "" {
		t.Skip("a measurement, not a test: set " + collectorCPUEnv + "=1 and OTELCOL_SRE_BINARY to run it")
	}
	bin := os.Getenv("OTELCOL_SRE_BINARY")
	require.NotEmpty(t, bin, "OTELCOL_SRE_BINARY: the collector built by `make build`")
	nettest.Require(t)
	const pairs, queues = 20, 32
	const points = pairs * (queues*9 + 3)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	for range pairs {
		nettest.DownVethPair(t, nsA, nsB, queues)
	}

	config := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`receivers:
  ethtool:
    collection_interval: 100ms
    initial_delay: 0s
    interfaces:
      include_virtual: true
    network_namespaces:
      host: false
      paths: [%q]
    series_budget: 0
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    logs:
      sampling:
        enabled: false
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [ethtool]
      exporters: [debug]
`, nsB.Path)), 0o600))

	cmd := exec.Command(bin, "--config", config)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The debug exporter logs one line per scrape with its data points (log
	// sampling, on by default, would drop most of them).
	var scrapes, wrong atomic.Int64
	dataPoints := regexp.MustCompile(`"data points": (\d+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := dataPoints.FindStringSubmatch(sc.Text()); m != nil {
				if n, _ := strconv.Atoi(m[1]); n == points {
					scrapes.Add(1)
				} else {
					wrong.Add(1)
				}
			}
		}
	}()
	require.Eventually(t, func() bool { return scrapes.Load() >= 20 }, time.Minute, 100*time.Millisecond, "collector scrapes")

	var perPoint, userPerPoint []float64
	for round := range 5 {
		user0, sys0 := processTicks(t, cmd.Process.Pid)
		n0 := scrapes.Load()
		time.Sleep(20 * time.Second)
		user1, sys1 := processTicks(t, cmd.Process.Pid)
		n1 := scrapes.Load()
		require.Greater(t, n1, n0)
		// USER_HZ is 100 on every Linux architecture Go supports.
		perScrape := func(ticks int64) time.Duration {
			return time.Duration(ticks) * 10 * time.Millisecond / time.Duration(n1-n0)
		}
		cpu, user := perScrape(user1+sys1-user0-sys0), perScrape(user1-user0)
		perPoint = append(perPoint, float64(cpu.Nanoseconds())/points)
		userPerPoint = append(userPerPoint, float64(user.Nanoseconds())/points)
		t.Logf("round %d: %d scrapes, CPU %v per scrape (user %v, system %v), %.0f ns per point (user %.0f)",
			round+1, n1-n0, cpu, user, cpu-user, perPoint[round], userPerPoint[round])
	}
	require.Zero(t, wrong.Load(), "every scrape has %d points", points)
	slices.Sort(perPoint)
	slices.Sort(userPerPoint)
	t.Logf("median of 5: %.0f ns of collector CPU per data point per scrape, %.0f ns of it user time (%d points)", perPoint[2], userPerPoint[2], points)
}

// processTicks is the user and system time of a process in clock ticks.
func processTicks(t *testing.T, pid int) (user, system int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14, stime 15.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	user, err = strconv.ParseInt(fields[14-3], 10, 64)
	require.NoError(t, err)
	system, err = strconv.ParseInt(fields[15-3], 10, 64)
	require.NoError(t, err)
	return user, system
}
