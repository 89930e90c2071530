// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package ethtoolreceiver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sys/unix"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadatatest"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nettest"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

// testConfig reads only the given namespaces, virtual interfaces included,
// with the compatibility metric on so that every raw statistic is visible.
func testConfig(paths ...string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NetworkNamespaces = NetworkNamespacesConfig{Paths: paths}
	cfg.Interfaces.IncludeVirtual = true
	cfg.Metrics.NodeNetEthtool.Enabled = true
	return cfg
}

func startScraper(t *testing.T, cfg *Config) (*ethtoolScraper, *componenttest.Telemetry) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	s, err := newEthtoolScraper(cfg, metadatatest.NewSettings(tel), newPlatformOS())
	require.NoError(t, err)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, s.shutdown(context.Background())) })
	return s, tel
}

func scrape(t *testing.T, s *ethtoolScraper) []point {
	t.Helper()
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	return flatten(t, md)
}

func sendTraffic(t *testing.T, from, to nettest.Veth, packets uint64) *nettest.Traffic {
	t.Helper()
	tr := nettest.StartTraffic(t, from, to)
	for tr.Sent.Load() < packets {
		time.Sleep(time.Millisecond)
	}
	return tr
}

func TestScrapeEqualsCLIWithTrafficPaused(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	a1, b1 := nettest.VethPair(t, nsA, nsB, 1)
	a64, b64 := nettest.VethPair(t, nsA, nsB, 64)
	sendTraffic(t, a1, b1, 300).Stop()
	sendTraffic(t, a64, b64, 300).Stop()
	b1.WaitQuiet(t)
	b64.WaitQuiet(t)

	s, _ := startScraper(t, testConfig(nsB.Path))
	points := scrape(t, s)

	for _, v := range []nettest.Veth{b1, b64} {
		cli := v.EthtoolS(t)
		require.Equal(t, cli, v.EthtoolS(t), "%s: traffic is paused", v.Name)
		got := compat(points, v.Name)
		require.Len(t, got, len(cli), "%s: one compatibility point per statistic", v.Name)
		var nonZero int
		for _, c := range cli {
			assert.Equal(t, float64(c.Value), got[c.Name], "%s %s", v.Name, c.Name)
			if c.Value != 0 && c.Name != "peer_ifindex" {
				nonZero++
			}
		}
		assert.NotZero(t, nonZero, "%s: the test traffic is visible", v.Name)

		// The typed metrics carry the same values: every statistic but the
		// peer_ifindex identifier, per queue, with the queue out of the name.
		var queued, device int
		for _, p := range points {
			if p.device != v.Name || p.namespace != nsB.Name {
				continue
			}
			switch p.metric {
			case "ethtool.queue.statistic":
				queued++
				raw := strings.Replace(p.statistic, "_", "_queue_"+strconv.FormatInt(p.queue, 10)+"_", 1)
				assert.Equal(t, got[raw], p.value, raw)
			case "ethtool.statistic":
				device++
			}
		}
		assert.Equal(t, len(cli)-1, queued, "%s: all but peer_ifindex are per-queue veth statistics", v.Name)
		assert.Zero(t, device, "%s: peer_ifindex is not a counter", v.Name)
	}
	assert.Len(t, compat(points, b64.Name), 577)
}

func TestScrapeLiesBetweenBracketingCLIReads(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	a, b := nettest.VethPair(t, nsA, nsB, 64)
	sendTraffic(t, a, b, 100) // keeps running during the scrapes

	s, _ := startScraper(t, testConfig(nsB.Path))
	for round := 0; round < 3; round++ {
		before := b.EthtoolS(t)
		got := compat(scrape(t, s), b.Name)
		after := b.EthtoolS(t)
		require.Len(t, got, len(before))
		moved := false
		for i, c := range before {
			assert.LessOrEqual(t, float64(c.Value), got[c.Name], "round %d %s", round, c.Name)
			assert.LessOrEqual(t, got[c.Name], float64(after[i].Value), "round %d %s", round, c.Name)
			moved = moved || after[i].Value > c.Value
		}
		assert.True(t, moved, "traffic was running during round %d", round)
	}
}

func TestScrapeAcrossNamespaces(t *testing.T) {
	nettest.Require(t)
	nsA, nsB, nsC := nettest.NewNamespace(t), nettest.NewNamespace(t), nettest.NewNamespace(t)
	_, b := nettest.VethPair(t, nsA, nsB, 1)
	_, c := nettest.VethPair(t, nsA, nsC, 1)

	// nsB is named twice (literally and by a glob): it is read once. nsC is
	// reached through a process that runs in it, as through a host /proc.
	sleeper := exec.Command("ip", "netns", "exec", nsC.Name, "sleep", "60")
	require.NoError(t, sleeper.Start())
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	procPath := "/proc/" + strconv.Itoa(sleeper.Process.Pid) + "/ns/net"
	require.Eventually(t, func() bool {
		id, err := nic.IdentifyNamespace(procPath)
		want, _ := nic.IdentifyNamespace(nsC.Path)
		return err == nil && id == want
	}, 5*time.Second, 10*time.Millisecond, "ip netns exec has joined nsC")
	idC, err := nic.IdentifyNamespace(nsC.Path)
	require.NoError(t, err)
	cfg := testConfig(nsB.Path, filepath.Join(filepath.Dir(nsB.Path), "["+nsB.Name[:1]+"]"+nsB.Name[1:]), procPath)
	cfg.NetworkNamespaces.Host = true
	s, _ := startScraper(t, cfg)
	points := scrape(t, s)

	devices := map[string]map[string]bool{}
	for _, p := range points {
		if devices[p.namespace] == nil {
			devices[p.namespace] = map[string]bool{}
		}
		devices[p.namespace][p.device] = true
	}
	assert.Equal(t, map[string]bool{b.Name: true}, devices[nsB.Name])
	assert.Equal(t, map[string]bool{c.Name: true}, devices[idC.String()], "labelled net:[inode] when reached through /proc")
	assert.NotContains(t, devices[""], b.Name, "the host namespace does not see the test's interfaces")
	assert.Len(t, compat(points, b.Name), 10, "nsB read once")

	// The process goes away: nsC's handle is closed on the next scrape.
	require.NoError(t, sleeper.Process.Kill())
	_ = sleeper.Wait()
	points = scrape(t, s)
	for _, p := range points {
		assert.NotEqual(t, idC.String(), p.namespace)
	}
	assert.Len(t, s.spaces, 2)
}

func TestScrapeSelection(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	_, b1 := nettest.VethPair(t, nsA, nsB, 1)
	_, b2 := nettest.VethPair(t, nsA, nsB, 1)

	cfg := testConfig(nsB.Path)
	cfg.Interfaces.Include = []string{"etb.*"}
	cfg.Interfaces.Exclude = []string{b2.Name}
	cfg.Statistics.Include = []string{"rx_queue_0_xdp_.*", "peer_ifindex"}
	cfg.Statistics.Exclude = []string{".*_bytes"}
	s, _ := startScraper(t, cfg)
	points := scrape(t, s)

	assert.Empty(t, compat(points, b2.Name), "exclude wins")
	assert.Empty(t, compat(points, "lo"), "loopback excluded by default")
	got := compat(points, b1.Name)
	assert.ElementsMatch(t, []string{"peer_ifindex", "rx_queue_0_xdp_packets", "rx_queue_0_xdp_redirect", "rx_queue_0_xdp_drops", "rx_queue_0_xdp_tx", "rx_queue_0_xdp_tx_errors"}, keys(got))

	var info, up int
	for _, p := range points {
		switch p.metric {
		case "ethtool.link.speed":
			assert.Equal(t, 10e9, p.value, "veth reports 10000Mb/s")
		case "ethtool.interface.info":
			info++
		case "ethtool.link.up":
			up++
			assert.Equal(t, float64(1), p.value)
		}
	}
	assert.Equal(t, 1, info)
	assert.Equal(t, 1, up)

	cfg = testConfig(nsB.Path)
	cfg.Interfaces.Drivers = []string{"ena"}
	s, _ = startScraper(t, cfg)
	assert.Empty(t, scrape(t, s), "driver selection: no ENA here")
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// TestScrapeSurvivesInterfaceChurn deletes and recreates interfaces between
// and during scrapes for 100 cycles: no panic, no fd, mapping or goroutine
// growth, and ENODEV is the only error counted.
func TestScrapeSurvivesInterfaceChurn(t *testing.T) {
	nettest.Require(t)
	nsA, nsB := nettest.NewNamespace(t), nettest.NewNamespace(t)
	s, tel := startScraper(t, testConfig(nsB.Path))

	a, b := nettest.VethPair(t, nsA, nsB, 8)
	scrape(t, s)
	fds, buffers, goroutines := openFDs(t), nic.LiveBuffers(), runtime.NumGoroutine()

	churnName := nettest.Unique("etc")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // during scrapes: an interface that keeps coming and going
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = exec.Command("ip", "-n", nsB.Name, "link", "add", churnName, "numrxqueues", "16", "numtxqueues", "16", "type", "veth", "peer", "name", churnName+"p", "netns", nsA.Name).Run()
			_ = exec.Command("ip", "-n", nsB.Name, "link", "del", churnName).Run()
		}
	}()

	for cycle := 0; cycle < 100; cycle++ {
		md, err := s.scrape(context.Background())
		require.NoError(t, err, "cycle %d: only ENODEV, which is not a scrape error", cycle)
		flatten(t, md)
		a.Delete(t) // between scrapes: delete and recreate the pair
		_, err = s.scrape(context.Background())
		require.NoError(t, err, "cycle %d", cycle)
		a, b = nettest.DownVethPair(t, nsA, nsB, 8)
	}
	close(stop)
	wg.Wait()
	_ = exec.Command("ip", "-n", nsB.Name, "link", "del", churnName).Run()
	points := scrape(t, s)
	assert.Len(t, compat(points, b.Name), 1+8*9, "the last pair is read")
	for _, p := range points {
		if p.metric == "ethtool.link.up" && p.device == b.Name {
			assert.Zero(t, p.value, "down interfaces are reported, as down")
		}
	}

	assert.Equal(t, fds, openFDs(t), "open file descriptors")
	assert.Equal(t, buffers, nic.LiveBuffers(), "statistics buffers (memory mappings)")
	assert.LessOrEqual(t, runtime.NumGoroutine(), goroutines, "goroutines")

	m, err := tel.GetMetric("otelcol_receiver_ethtool_interface_errors")
	if err == nil { // no error at all is fine too
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			errno, _ := dp.Attributes.Value("errno")
			assert.Equal(t, "ENODEV", errno.AsString(), "only vanished interfaces are counted")
			iface, _ := dp.Attributes.Value("interface")
			t.Logf("counted %d x %s on %s", dp.Value, errno.AsString(), iface.AsString())
		}
	}
}

func TestScrapeReportsOtherErrorsPerInterface(t *testing.T) {
	s := &ethtoolScraper{}
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	var err error
	s.tb, err = metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)

	var errs scrapererror.ScrapeErrors
	keep := s.handleError(context.Background(), &iface{name: "eth1"}, "read statistics", unix.EPERM, &errs)
	assert.True(t, keep)
	require.Error(t, errs.Combine())
	assert.True(t, scrapererror.IsPartialScrapeError(errs.Combine()))
	assert.ErrorContains(t, errs.Combine(), "read statistics of interface eth1")

	var none scrapererror.ScrapeErrors
	assert.False(t, s.handleError(context.Background(), &iface{name: "eth2"}, "read statistics", unix.ENODEV, &none), "ENODEV forgets")
	assert.NoError(t, none.Combine())

	unsupported := &iface{name: "br0"}
	assert.True(t, s.handleError(context.Background(), unsupported, "read statistic names", unix.EOPNOTSUPP, &none), "EOPNOTSUPP keeps the interface")
	assert.NotNil(t, unsupported.plan, "marked as having no statistics: not asked again")
	assert.Empty(t, unsupported.plan)
	assert.NoError(t, none.Combine(), "EOPNOTSUPP is silent")

	metadatatest.AssertEqualReceiverEthtoolInterfaceErrors(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("interface", "eth1"), attribute.String("errno", "EPERM")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("interface", "eth2"), attribute.String("errno", "ENODEV")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func TestScrapeUnreadableNamespaceIsPartialAndLoggedOnce(t *testing.T) {
	notANamespace := filepath.Join(t.TempDir(), "net")
	require.NoError(t, os.WriteFile(notANamespace, nil, 0o600))
	cfg := testConfig(notANamespace)
	cfg.NetworkNamespaces.Host = true

	core, logs := observer.New(zap.WarnLevel)
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	s, err := newEthtoolScraper(cfg, set, newPlatformOS())
	require.NoError(t, err)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	defer func() { assert.NoError(t, s.shutdown(context.Background())) }()

	for range 3 {
		_, err := s.scrape(context.Background())
		require.Error(t, err)
		assert.True(t, scrapererror.IsPartialScrapeError(err), "the own namespace is still read")
		assert.ErrorContains(t, err, notANamespace)
	}
	assert.Equal(t, 1, logs.FilterMessage("cannot read network namespace").Len())
}

func TestSeriesBudgetWarnsOncePerExcursion(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	s := &ethtoolScraper{cfg: &Config{SeriesBudget: 10}, logger: zap.New(core)}
	for _, points := range []int{5, 11, 50, 10, 12} {
		s.checkBudget(points)
	}
	assert.Equal(t, 2, logs.FilterMessageSnippet("series budget").Len(), "11 starts an excursion, 10 ends it, 12 starts another")

	s = &ethtoolScraper{cfg: &Config{SeriesBudget: 0}, logger: zap.New(core)}
	s.checkBudget(1 << 20)
	assert.Equal(t, 2, logs.FilterMessageSnippet("series budget").Len(), "0 disables the check")
}

func TestNamespaceLabel(t *testing.T) {
	id := nic.NamespaceID{Ino: 4026532000}
	assert.Equal(t, "blue", namespaceLabel("/var/run/netns/blue", id))
	assert.Equal(t, "blue", namespaceLabel("/run/netns/blue", id))
	assert.Equal(t, "net:[4026532000]", namespaceLabel("/host/proc/42/ns/net", id))
	assert.Equal(t, "net:[4026532000]", namespaceLabel("/var/run/netns/sub/dir", id))
}

// TestDirectRecorderEqualsBuilderOnVeth scrapes real interfaces, traffic
// running, through both recording paths at once: the metrics are identical.
func TestDirectRecorderEqualsBuilderOnVeth(t *testing.T) {
	nettest.Require(t)
	nsA, nsB, nsC := nettest.NewNamespace(t), nettest.NewNamespace(t), nettest.NewNamespace(t)
	a1, b1 := nettest.VethPair(t, nsA, nsB, 1)
	_, b32 := nettest.VethPair(t, nsA, nsB, 32)
	nettest.VethPair(t, nsA, nsC, 8)
	sendTraffic(t, a1, b1, 100)
	for _, compatOn := range []bool{false, true} {
		cfg := testConfig(nsB.Path, nsC.Path)
		cfg.NetworkNamespaces.Host = true
		cfg.Metrics.NodeNetEthtool.Enabled = compatOn
		s, tee := startCompared(t, newPlatformOS(), cfg)
		for range 3 {
			points := byDevice(t, requireSameMetrics(t, s, tee))
			assert.Len(t, points[b1.Name], 9+3+len(compat(flatten(t, tee.second), b1.Name)))
			assert.Equal(t, 32*9, countMetric(points[b32.Name], "ethtool.queue.statistic"))
		}
	}
}

// BenchmarkWholeScrape is a whole scrape (link listing, one GSTATS per
// interface, pdata) of a namespace holding real veth interfaces, at about
// 10, 579 and 5,800 data points, through the direct recorder (ours), through
// the metrics builder mdatagen generates (builder) and, as the anchors, the
// bare GSTATS ioctls of the same interfaces (bareIoctls) and appending as
// many points to pdata (pdataFloor). cpu-ns/point is
// the CPU time (user and system, of the whole process, garbage collection
// included) per data point: on a shared machine it is steadier than the
// elapsed time.
func BenchmarkWholeScrape(b *testing.B) {
	nettest.Require(b)
	for _, size := range []struct {
		name          string
		pairs, queues int
		points        int
	}{
		{"points=12", 1, 1, 9 + 3},
		{"points=579", 1, 64, 64*9 + 3},
		{"points=5820", 20, 32, 20 * (32*9 + 3)},
	} {
		b.Run(size.name, func(b *testing.B) {
			nsA, nsB := nettest.NewNamespace(b), nettest.NewNamespace(b)
			var devs []nettest.Veth
			for range size.pairs {
				_, v := nettest.DownVethPair(b, nsA, nsB, size.queues)
				devs = append(devs, v)
			}
			cfg := testConfig(nsB.Path)
			cfg.Metrics.NodeNetEthtool.Enabled = false
			set := metadatatest.NewSettings(componenttest.NewTelemetry())
			for _, path := range []string{"ours", "builder"} {
				b.Run(path, func(b *testing.B) {
					s, err := newEthtoolScraper(cfg, set, newPlatformOS())
					if err != nil {
						b.Fatal(err)
					}
					if path == "builder" {
						s.rec = newBuilderRecorder(cfg, set, pcommon.NewTimestampFromTime(time.Now()))
					}
					if err := s.start(context.Background(), componenttest.NewNopHost()); err != nil {
						b.Fatal(err)
					}
					defer s.shutdown(context.Background()) //nolint:errcheck
					b.ReportAllocs()
					cpu := startCPU(b)
					for b.Loop() {
						md, err := s.scrape(context.Background())
						if err != nil {
							b.Fatal(err)
						}
						if n := md.DataPointCount(); n != size.points {
							b.Fatalf("%d data points, want %d: %v", n, size.points, metricCounts(b, md))
						}
					}
					cpu.report(size.points)
				})
			}
			b.Run("pdataFloor", func(b *testing.B) {
				// The same number of points with three attributes appended
				// to one metric and nothing else: what pdata's allocation
				// per data point and per attribute value costs.
				b.ReportAllocs()
				cpu := startCPU(b)
				for b.Loop() {
					md := pmetric.NewMetrics()
					dps := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptySum().DataPoints()
					dps.EnsureCapacity(size.points)
					for i := range size.points {
						dp := dps.AppendEmpty()
						dp.SetTimestamp(1)
						dp.SetIntValue(int64(i))
						attrs := dp.Attributes()
						attrs.EnsureCapacity(3)
						attrs.PutStr("device", "eth0")
						attrs.PutInt("queue", int64(i))
						attrs.PutStr("statistic", "rx_packets")
					}
				}
				cpu.report(size.points)
			})
			b.Run("bareIoctls", func(b *testing.B) {
				var reads []*nettest.BareIoctl
				for _, v := range devs {
					reads = append(reads, nettest.NewBareIoctl(b, nsB.Path, v.Name, 1+size.queues*9))
				}
				b.ReportAllocs()
				cpu := startCPU(b)
				for b.Loop() {
					for _, r := range reads {
						if errno := r.Read(); errno != 0 {
							b.Fatal(errno)
						}
					}
				}
				cpu.report(size.points)
			})
		})
	}
}

type cpuClock struct {
	b     *testing.B
	start time.Duration
}

// startCPU reads the process's CPU time; report divides what was used since
// by the iterations and the data points.
func startCPU(b *testing.B) cpuClock {
	return cpuClock{b: b, start: processCPU(b)}
}

func (c cpuClock) report(points int) {
	used := processCPU(c.b) - c.start
	c.b.ReportMetric(float64(used.Nanoseconds())/float64(c.b.N)/float64(points), "cpu-ns/point")
}

func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// metricCounts counts the data points by metric and device.
func metricCounts(tb testing.TB, md pmetric.Metrics) map[string]int {
	out := map[string]int{}
	for _, p := range flatten(tb, md) {
		out[p.metric+" "+p.device]++
	}
	return out
}

func keys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
