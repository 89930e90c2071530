// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadatatest"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
)

// scriptedOS is a netOS whose namespaces and interfaces the test changes
// between scrapes: the scraper's lifecycle logic without root. It is not the
// kernel: values are whatever the test sets, errors whatever it injects.
type scriptedOS struct {
	t       testing.TB
	spaces  map[string]*scriptedNetns // by path, "" for the own namespace
	readers int                       // statistics readers not closed
}

type scriptedNetns struct {
	id     nic.NamespaceID
	ifaces []*scriptedIface // in listing order
	closed bool
}

type scriptedIface struct {
	link      link
	info      nicInfo
	names     []string
	values    []uint64
	openErr   error // returned by openStats
	readErr   error // returned by read
	infoErr   error // returned by driverInfo
	opens     int   // openStats calls
	infoReads int
}

func newScriptedOS(t testing.TB) *scriptedOS {
	return &scriptedOS{t: t, spaces: map[string]*scriptedNetns{"": {id: nic.NamespaceID{Ino: 1}}}}
}

// namespace adds a namespace reachable through a file under the test's
// temporary directory (the configured paths are globbed).
func (o *scriptedOS) namespace(name string, ino uint64) (path string, ns *scriptedNetns) {
	path = filepath.Join(o.t.TempDir(), name)
	require.NoError(o.t, os.WriteFile(path, nil, 0o600))
	ns = &scriptedNetns{id: nic.NamespaceID{Ino: ino}}
	o.spaces[path] = ns
	return path, ns
}

func (o *scriptedOS) identify(path string) (nic.NamespaceID, error) {
	ns, ok := o.spaces[path]
	if !ok {
		return nic.NamespaceID{}, syscall.ENOENT
	}
	return ns.id, nil
}

func (o *scriptedOS) open(path string) (netnsOS, error) {
	ns, ok := o.spaces[path]
	if !ok {
		return nil, syscall.ENOENT
	}
	return &scriptedHandle{os: o, ns: ns}, nil
}

func (o *scriptedOS) hasDevice(string) bool { return false }

// add appends an up, physical interface.
func (ns *scriptedNetns) add(index int32, name, driver string, names []string, values []uint64) *scriptedIface {
	ifc := &scriptedIface{
		link:  link{index: index, name: name, up: true, oper: 6, hasParent: true},
		info:  nicInfo{driver: driver, version: "1.0", bus: "0000:00:0" + string(rune('0'+index)) + ".0", speedBits: 25e9},
		names: names, values: values,
	}
	ns.ifaces = append(ns.ifaces, ifc)
	return ifc
}

func (ns *scriptedNetns) remove(ifc *scriptedIface) {
	for i, x := range ns.ifaces {
		if x == ifc {
			ns.ifaces = append(ns.ifaces[:i], ns.ifaces[i+1:]...)
			return
		}
	}
}

func (ns *scriptedNetns) byName(name string) *scriptedIface {
	for _, ifc := range ns.ifaces {
		if ifc.link.name == name {
			return ifc
		}
	}
	return nil
}

type scriptedHandle struct {
	os *scriptedOS
	ns *scriptedNetns
}

func (h *scriptedHandle) links() ([]link, error) {
	out := make([]link, 0, len(h.ns.ifaces))
	for _, ifc := range h.ns.ifaces {
		out = append(out, ifc.link)
	}
	return out, nil
}

func (h *scriptedHandle) openStats(name string) (statsOS, error) {
	ifc := h.ns.byName(name)
	if ifc == nil {
		return nil, syscall.ENODEV
	}
	ifc.opens++
	if ifc.openErr != nil {
		return nil, ifc.openErr
	}
	h.os.readers++
	return &scriptedStats{os: h.os, ns: h.ns, ifc: ifc, n: len(ifc.names), name: name}, nil
}

func (h *scriptedHandle) driverInfo(name string) (nicInfo, error) {
	ifc := h.ns.byName(name)
	if ifc == nil {
		return nicInfo{speedBits: -1}, syscall.ENODEV
	}
	ifc.infoReads++
	return ifc.info, ifc.infoErr
}

func (h *scriptedHandle) close() error {
	h.ns.closed = true
	return nil
}

type scriptedStats struct {
	os     *scriptedOS
	ns     *scriptedNetns
	ifc    *scriptedIface
	name   string
	n      int
	closed bool
}

func (s *scriptedStats) names() []string { return s.ifc.names[:s.n] }

func (s *scriptedStats) read() ([]uint64, error) {
	if s.closed {
		s.os.t.Fatal("read after close")
	}
	if s.ns.byName(s.name) != s.ifc {
		return nil, syscall.ENODEV
	}
	if s.ifc.readErr != nil {
		return nil, s.ifc.readErr
	}
	if len(s.ifc.names) != s.n {
		return nil, nic.ErrCountChanged
	}
	return s.ifc.values, nil
}

func (s *scriptedStats) close() error {
	if s.closed {
		s.os.t.Fatal("closed twice")
	}
	s.closed = true
	s.os.readers--
	return nil
}

// startScripted starts a scraper on the scripted OS with a fixed clock.
func startScripted(t *testing.T, o *scriptedOS, cfg *Config, rec pointRecorder) (*ethtoolScraper, *componenttest.Telemetry) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	s, err := newEthtoolScraper(cfg, metadatatest.NewSettings(tel), o)
	require.NoError(t, err)
	s.now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	s.rec = rec
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, s.shutdown(context.Background()))
		assert.Zero(t, o.readers, "every statistics reader is closed at shutdown")
	})
	return s, tel
}

func scriptedConfig(paths ...string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.NetworkNamespaces.Paths = paths
	cfg.Metrics.NodeNetEthtool.Enabled = true
	return cfg
}

// scrapeOK scrapes, requires no error, and returns the points by device.
func scrapeOK(t *testing.T, s *ethtoolScraper) map[string][]point {
	t.Helper()
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	return byDevice(t, md)
}

func byDevice(t testing.TB, md pmetric.Metrics) map[string][]point {
	out := map[string][]point{}
	for _, p := range flatten(t, md) {
		out[p.device] = append(out[p.device], p)
	}
	return out
}

func countMetric(points []point, metric string) int {
	n := 0
	for _, p := range points {
		if p.metric == metric {
			n++
		}
	}
	return n
}

var vethNames = []string{"peer_ifindex", "rx_queue_0_xdp_packets", "tx_queue_0_xdp_xmit"}

func TestScraperFollowsRenamesAndReusedIndexes(t *testing.T) {
	o := newScriptedOS(t)
	own := o.spaces[""]
	eth0 := own.add(2, "eth0", "veth", vethNames, []uint64{7, 10, 20})
	s, _ := startScripted(t, o, scriptedConfig(), nil)

	got := scrapeOK(t, s)
	require.Len(t, got["eth0"], 3+2+3, "3 compat, 2 per-queue, up, info, speed")
	assert.Equal(t, 1, eth0.opens)

	eth0.link.name = "eth9" // ip link set eth0 name eth9
	eth0.values[1] = 11
	got = scrapeOK(t, s)
	assert.Empty(t, got["eth0"])
	require.Len(t, got["eth9"], 8)
	assert.Equal(t, 2, eth0.opens, "a renamed interface's names are read again")
	assert.Equal(t, 1, o.readers, "the old reader is closed")
	for _, p := range got["eth9"] {
		if p.metric == "ethtool.queue.statistic" && p.statistic == "rx_xdp_packets" {
			assert.Equal(t, float64(11), p.value)
		}
	}

	// The interface is deleted and another one gets its index.
	own.remove(eth0)
	other := own.add(2, "eth1", "veth", vethNames[:2], []uint64{7, 5})
	got = scrapeOK(t, s)
	assert.Empty(t, got["eth9"])
	assert.Len(t, got["eth1"], 2+1+3)
	assert.Equal(t, 1, other.opens)
	assert.Equal(t, 1, o.readers)

	// Steady state: nothing is opened or read again but the values.
	for range 5 {
		scrapeOK(t, s)
	}
	assert.Equal(t, 1, other.opens)
}

func TestScraperReportsNothingWhileTheCountChanges(t *testing.T) {
	o := newScriptedOS(t)
	eth0 := o.spaces[""].add(2, "eth0", "ena", []string{"tx_timeout", "queue_0_tx_cnt"}, []uint64{1, 2})
	s, _ := startScripted(t, o, scriptedConfig(), nil)
	require.Len(t, scrapeOK(t, s)["eth0"], 2+2+3)

	// ethtool -L: one more queue. The kernel answers the cached count with
	// another one: no value of this read is used, not even link state.
	eth0.names = append(eth0.names, "queue_1_tx_cnt")
	eth0.values = append(eth0.values, 3)
	assert.Empty(t, scrapeOK(t, s)["eth0"], "nothing rather than a partial layout")
	assert.Equal(t, 2, eth0.opens, "names read again at once")

	got := scrapeOK(t, s)["eth0"]
	assert.Len(t, got, 3+3+3)
	assert.Equal(t, 2, countMetric(got, "ethtool.queue.statistic"))
	assert.Equal(t, 1, o.readers)
}

func TestScraperInterfaceWithoutStatistics(t *testing.T) {
	o := newScriptedOS(t)
	br := o.spaces[""].add(3, "br0", "bridge", nil, nil)
	br.openErr = syscall.EOPNOTSUPP
	br.info.speedBits = -1
	s, tel := startScripted(t, o, scriptedConfig(), nil)

	for range 3 {
		got := scrapeOK(t, s)["br0"]
		assert.Equal(t, 1, countMetric(got, "ethtool.link.up"), "its state is still reported")
		assert.Equal(t, 1, countMetric(got, "ethtool.interface.info"))
		assert.Len(t, got, 2, "no statistics, no speed while unknown")
	}
	assert.Equal(t, 1, br.opens, "EOPNOTSUPP is not asked again")
	_, err := tel.GetMetric("otelcol_receiver_ethtool_interface_errors")
	assert.Error(t, err, "EOPNOTSUPP is not counted")

	// A driver without driver information (EOPNOTSUPP) is read all the same.
	o.spaces[""].add(4, "tun0", "", vethNames[:1], []uint64{4}).infoErr = syscall.EOPNOTSUPP
	got := scrapeOK(t, s)["tun0"]
	assert.Equal(t, 1, countMetric(got, "node_net_ethtool"))
}

func TestScraperForgetsVanishedInterfaces(t *testing.T) {
	o := newScriptedOS(t)
	own := o.spaces[""]
	eth0 := own.add(2, "eth0", "veth", vethNames, []uint64{1, 2, 3})
	eth1 := own.add(3, "eth1", "veth", vethNames, []uint64{1, 2, 3})
	s, tel := startScripted(t, o, scriptedConfig(), nil)
	scrapeOK(t, s)
	require.Equal(t, 2, o.readers)

	// Gone between listing and reading: ENODEV forgets it, silently for
	// the scrape, counted in the receiver's telemetry.
	eth0.readErr = syscall.ENODEV
	got := scrapeOK(t, s)
	assert.Empty(t, got["eth0"])
	assert.NotEmpty(t, got["eth1"])
	assert.Equal(t, 1, o.readers, "its reader is closed")
	eth0.readErr = nil
	scrapeOK(t, s)
	assert.Equal(t, 2, eth0.opens, "listed again: read again from scratch")

	// Gone from the listing: closed.
	own.remove(eth1)
	got = scrapeOK(t, s)
	assert.Empty(t, got["eth1"])
	assert.Equal(t, 1, o.readers)

	// Any other errno is a partial scrape error for that interface only.
	eth0.readErr = syscall.EIO
	md, err := s.scrape(context.Background())
	require.Error(t, err)
	assert.True(t, scrapererror.IsPartialScrapeError(err))
	assert.ErrorContains(t, err, "read statistics of interface eth0")
	assert.Empty(t, byDevice(t, md)["eth0"], "nothing from eth0")

	m, err := tel.GetMetric("otelcol_receiver_ethtool_interface_errors")
	require.NoError(t, err)
	counted := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		errno, _ := dp.Attributes.Value("errno")
		counted[errno.AsString()] += dp.Value
	}
	assert.Equal(t, map[string]int64{errnoName(syscall.ENODEV): 1, errnoName(syscall.EIO): 1}, counted)
}

func TestScraperReopensOnDriverChange(t *testing.T) {
	o := newScriptedOS(t)
	eth0 := o.spaces[""].add(2, "eth0", "virtio_net", []string{"rx0_packets"}, []uint64{5})
	cfg := scriptedConfig()
	cfg.InfoRefreshScrapes = 2
	s, _ := startScripted(t, o, cfg, nil)
	got := scrapeOK(t, s)["eth0"]
	assert.Equal(t, 1, countMetric(got, "ethtool.queue.statistic"))

	eth0.info.driver, eth0.names = "other", []string{"rx0_packets"}
	scrapeOK(t, s)
	got = scrapeOK(t, s)["eth0"] // the second scrape refreshes driver information
	assert.Equal(t, 2, eth0.opens, "another driver: another layout")
	assert.Equal(t, 1, countMetric(got, "ethtool.statistic"), "rx0_packets is device-level for an unknown driver")

	// Link state changes refresh at once.
	reads := eth0.infoReads
	eth0.link.oper, eth0.link.up = 2, false
	got = scrapeOK(t, s)["eth0"]
	assert.Equal(t, reads+1, eth0.infoReads)
	for _, p := range got {
		if p.metric == "ethtool.link.up" {
			assert.Zero(t, p.value)
		}
	}

	o = newScriptedOS(t)
	o.spaces[""].add(2, "eth0", "virtio_net", []string{"rx0_packets"}, []uint64{5})
	cfg = scriptedConfig()
	cfg.Interfaces.Drivers = []string{"ena"}
	s, _ = startScripted(t, o, cfg, nil)
	assert.Empty(t, scrapeOK(t, s), "driver selection")
}

func TestScraperNamespacesComeAndGo(t *testing.T) {
	o := newScriptedOS(t)
	pathA, nsA := o.namespace("a", 10)
	nsA.add(2, "eth0", "veth", vethNames, []uint64{1, 2, 3})
	o.spaces[""].add(2, "eth0", "veth", vethNames, []uint64{4, 5, 6})
	cfg := scriptedConfig(filepath.Join(filepath.Dir(pathA), "*"), pathA)
	s, _ := startScripted(t, o, cfg, nil)

	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	byNS := map[string]int{}
	for _, p := range flatten(t, md) {
		byNS[p.namespace]++
	}
	assert.Equal(t, map[string]int{"": 8, "net:[10]": 8}, byNS, "a namespace named twice is read once")

	delete(o.spaces, pathA) // the process went away
	md, err = s.scrape(context.Background())
	require.NoError(t, err)
	for _, p := range flatten(t, md) {
		assert.Empty(t, p.namespace)
	}
	assert.True(t, nsA.closed)
	assert.Equal(t, 1, o.readers, "the vanished namespace's readers are closed")
}

func TestScraperCountsPointsForTheBudget(t *testing.T) {
	o := newScriptedOS(t)
	o.spaces[""].add(2, "eth0", "veth", vethNames, []uint64{1, 2, 3})
	cfg := scriptedConfig()
	cfg.SeriesBudget = 7
	s, _ := startScripted(t, o, cfg, nil)
	scrapeOK(t, s)
	assert.True(t, s.overBudget, "8 points > 7")
	cfg.SeriesBudget = 8
	scrapeOK(t, s)
	assert.False(t, s.overBudget)
}

// point is one data point flattened for comparison.
type point struct {
	namespace, metric, device, statistic, typ string
	queue                                     int64
	value                                     float64
}

func flatten(t testing.TB, md pmetric.Metrics) []point {
	t.Helper()
	var out []point
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		ns, _ := rm.Resource().Attributes().Get("network.namespace")
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
					assert.True(t, m.Sum().IsMonotonic(), m.Name())
				default:
					t.Fatalf("unexpected metric type %s of %s", m.Type(), m.Name())
				}
				for d := 0; d < dps.Len(); d++ {
					dp := dps.At(d)
					p := point{namespace: ns.Str(), metric: m.Name(), queue: -1}
					dp.Attributes().Range(func(k string, v pcommon.Value) bool {
						switch k {
						case "device":
							p.device = v.Str()
						case "statistic":
							p.statistic = v.Str()
						case "type":
							p.typ = v.Str()
						case "queue":
							p.queue = v.Int()
						}
						return true
					})
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						p.value = float64(dp.IntValue())
					} else {
						p.value = dp.DoubleValue()
					}
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// compat returns the node_net_ethtool values of one device by type.
func compat(points []point, device string) map[string]float64 {
	out := map[string]float64{}
	for _, p := range points {
		if p.metric == "node_net_ethtool" && p.device == device {
			out[p.typ] = p.value
		}
	}
	return out
}
