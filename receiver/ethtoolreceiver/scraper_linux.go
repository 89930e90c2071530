//go:build linux

package ethtoolreceiver // import "github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/safchain/ethtool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/statname"
)

// ethtoolScraper keeps one nic.Handle per network namespace and, per
// (namespace, ifindex), the cached statistic layout and mapping, so that a
// steady-state scrape costs one rtnetlink dump per namespace and one
// ETHTOOL_GSTATS ioctl per interface.
type ethtoolScraper struct {
	cfg      *Config
	set      receiver.Settings
	logger   *zap.Logger
	sel      *selection
	mb       *metadata.MetricsBuilder
	tb       *metadata.TelemetryBuilder
	compatOn bool // node_net_ethtool is enabled
	selfID   nic.NamespaceID
	spaces   map[nic.NamespaceID]*netns
	scrapes  uint64
	// overBudget remembers that the last scrape exceeded the series budget,
	// so the warning is logged once per excursion.
	overBudget bool
	// failedPaths remembers namespace paths that could not be opened, so the
	// warning is logged once per path.
	failedPaths map[string]bool
}

// netns is one network namespace being read.
type netns struct {
	label  string // network.namespace resource attribute, "" for our own
	self   bool
	h      *nic.Handle
	ifaces map[int32]*iface
	seen   uint64
}

// iface is the cached state of one interface, keyed by ifindex.
type iface struct {
	name       string
	selected   bool // passed the name, loopback, virtual and driver selection
	info       nicInfo
	infoAt     uint64 // scrape number of the last info read
	oper       uint8
	stats      *nic.Stats // nil: no statistics (EOPNOTSUPP)
	plan       []plannedStat
	compatPlan []plannedStat // node_net_ethtool, when enabled
	seen       uint64
}

type nicInfo struct {
	driver, version, firmware, bus string
	speedBits                      int64 // -1 when unknown
}

type plannedStat struct {
	index int
	stat  statname.Stat
}

func newEthtoolScraper(cfg *Config, set receiver.Settings) (*ethtoolScraper, error) {
	sel, err := newSelection(cfg)
	if err != nil {
		return nil, err
	}
	return &ethtoolScraper{
		cfg:         cfg,
		set:         set,
		logger:      set.Logger,
		sel:         sel,
		compatOn:    cfg.Metrics.NodeNetEthtool.Enabled,
		spaces:      map[nic.NamespaceID]*netns{},
		failedPaths: map[string]bool{},
	}, nil
}

func (s *ethtoolScraper) start(_ context.Context, _ component.Host) error {
	id, err := nic.IdentifyNamespace(nic.SelfNamespacePath)
	if err != nil {
		return err
	}
	s.selfID = id
	if s.tb, err = metadata.NewTelemetryBuilder(s.set.TelemetrySettings); err != nil {
		return fmt.Errorf("create ethtool receiver telemetry: %w", err)
	}
	s.mb = metadata.NewMetricsBuilder(s.cfg.MetricsBuilderConfig, s.set)
	if s.cfg.NetworkNamespaces.Host {
		h, err := nic.Open("")
		if err != nil {
			return err
		}
		s.spaces[id] = &netns{self: true, h: h, ifaces: map[int32]*iface{}}
	}
	return nil
}

func (s *ethtoolScraper) shutdown(context.Context) error {
	var errs []error
	for id, ns := range s.spaces {
		errs = append(errs, ns.close())
		delete(s.spaces, id)
	}
	if s.tb != nil {
		s.tb.Shutdown()
	}
	return errors.Join(errs...)
}

func (ns *netns) close() error {
	errs := []error{ns.h.Close()}
	for idx, ifc := range ns.ifaces {
		errs = append(errs, ifc.closeStats())
		delete(ns.ifaces, idx)
	}
	return errors.Join(errs...)
}

func (ifc *iface) closeStats() error {
	if ifc.stats == nil {
		return nil
	}
	err := ifc.stats.Close()
	ifc.stats, ifc.plan, ifc.compatPlan = nil, nil, nil
	return err
}

func (s *ethtoolScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	s.scrapes++
	now := pcommon.NewTimestampFromTime(time.Now())
	var errs scrapererror.ScrapeErrors
	s.discoverNamespaces(&errs)
	points := 0
	for _, ns := range s.spaces {
		points += s.scrapeNamespace(ctx, ns, now, &errs)
		rb := s.mb.NewResourceBuilder()
		if ns.label != "" {
			rb.SetNetworkNamespace(ns.label)
		}
		s.mb.EmitForResource(metadata.WithResource(rb.Emit()))
	}
	s.checkBudget(points)
	return s.mb.Emit(), errs.Combine()
}

func (s *ethtoolScraper) checkBudget(points int) {
	over := s.cfg.SeriesBudget > 0 && points > s.cfg.SeriesBudget
	if over && !s.overBudget {
		s.logger.Warn("ethtool scrape exceeds the series budget; narrow interfaces or statistics, or raise series_budget",
			zap.Int("data_points", points), zap.Int("series_budget", s.cfg.SeriesBudget))
	}
	s.overBudget = over
}

// discoverNamespaces opens the namespaces the configured paths point to now
// and closes the ones they no longer do.
func (s *ethtoolScraper) discoverNamespaces(errs *scrapererror.ScrapeErrors) {
	if own, ok := s.spaces[s.selfID]; ok {
		own.seen = s.scrapes
	}
	for _, pattern := range s.cfg.NetworkNamespaces.Paths {
		paths, _ := filepath.Glob(pattern) // patterns are validated
		for _, path := range paths {
			id, err := nic.IdentifyNamespace(path)
			if err != nil {
				continue // the process or mount went away while globbing
			}
			if id == s.selfID && s.cfg.NetworkNamespaces.Host {
				continue
			}
			if ns, ok := s.spaces[id]; ok {
				ns.seen = s.scrapes
				continue
			}
			h, err := nic.Open(path)
			if err != nil {
				if !s.failedPaths[path] {
					s.logger.Warn("cannot read network namespace", zap.String("path", path), zap.Error(err))
					s.failedPaths[path] = true
				}
				errs.AddPartial(1, err)
				continue
			}
			delete(s.failedPaths, path)
			s.spaces[id] = &netns{label: namespaceLabel(path, id), self: id == s.selfID, h: h, ifaces: map[int32]*iface{}, seen: s.scrapes}
		}
	}
	for id, ns := range s.spaces {
		if ns.seen != s.scrapes {
			if err := ns.close(); err != nil {
				s.logger.Debug("closing network namespace handle", zap.String("network.namespace", ns.label), zap.Error(err))
			}
			delete(s.spaces, id)
		}
	}
}

// namespaceLabel is the name of a named namespace (ip netns) and net:[inode]
// for any other.
func namespaceLabel(path string, id nic.NamespaceID) string {
	for _, dir := range []string{"/var/run/netns/", "/run/netns/"} {
		if name, ok := strings.CutPrefix(path, dir); ok && !strings.Contains(name, "/") {
			return name
		}
	}
	return id.String()
}

// scrapeNamespace records the metrics of one namespace and returns the number
// of data points recorded.
func (s *ethtoolScraper) scrapeNamespace(ctx context.Context, ns *netns, now pcommon.Timestamp, errs *scrapererror.ScrapeErrors) int {
	links, err := ns.h.Links()
	if err != nil {
		errs.AddPartial(1, fmt.Errorf("list interfaces of network namespace %q: %w", ns.label, err))
		return 0
	}
	points := 0
	for i := range links {
		l := &links[i]
		ifc := ns.ifaces[l.Index]
		if ifc == nil || !l.NameIs(ifc.name) {
			if ifc != nil {
				_ = ifc.closeStats() // renamed or index reused: start over
			}
			ifc = s.newIface(ns, l)
			ns.ifaces[l.Index] = ifc
		}
		ifc.seen = s.scrapes
		if !ifc.selected {
			continue
		}
		n, keep := s.scrapeIface(ctx, ns, ifc, l, now, errs)
		points += n
		if !keep {
			_ = ifc.closeStats()
			delete(ns.ifaces, l.Index)
		}
	}
	for idx, ifc := range ns.ifaces {
		if ifc.seen != s.scrapes {
			_ = ifc.closeStats()
			delete(ns.ifaces, idx)
		}
	}
	return points
}

// newIface applies the selection that needs no ethtool call.
func (s *ethtoolScraper) newIface(ns *netns, l *nic.Link) *iface {
	ifc := &iface{name: l.Name(), oper: l.OperState}
	virtual := !l.HasParent
	if virtual && ns.self {
		// Kernels before 5.15 do not report IFLA_PARENT_DEV_NAME; in our own
		// namespace sysfs tells physical devices apart.
		_, err := os.Stat("/sys/class/net/" + ifc.name + "/device")
		virtual = err != nil
	}
	ifc.selected = s.sel.link(ifc.name, l.Loopback(), virtual)
	return ifc
}

// scrapeIface reads and records one interface. keep is false when the
// interface vanished and must be forgotten.
func (s *ethtoolScraper) scrapeIface(ctx context.Context, ns *netns, ifc *iface, l *nic.Link, now pcommon.Timestamp, errs *scrapererror.ScrapeErrors) (points int, keep bool) {
	if ifc.infoAt == 0 || s.scrapes-ifc.infoAt >= uint64(s.cfg.InfoRefreshScrapes) || l.OperState != ifc.oper {
		if err := s.refreshInfo(ns, ifc); err != nil {
			return 0, s.handleError(ctx, ifc, "read driver information", err, errs)
		}
		ifc.oper = l.OperState
		if !ifc.selected {
			return 0, true
		}
	}
	// Interfaces without statistics (EOPNOTSUPP) still report their state.
	if ifc.stats == nil && ifc.plan == nil {
		if err := s.openStats(ns, ifc); err != nil {
			if keep := s.handleError(ctx, ifc, "read statistic names", err, errs); !errors.Is(err, unix.EOPNOTSUPP) {
				return 0, keep
			}
		}
	}
	if ifc.stats != nil {
		values, err := ns.h.Read(ifc.stats)
		if errors.Is(err, nic.ErrCountChanged) {
			// Emit nothing this cycle: a partial layout would look like
			// counter resets. The names are read again now.
			_ = ifc.closeStats()
			if err := s.openStats(ns, ifc); err != nil {
				return 0, s.handleError(ctx, ifc, "read statistic names", err, errs)
			}
			return 0, true
		}
		switch {
		case err == nil:
			points += s.recordStats(ifc, values, now)
		case errors.Is(err, unix.EOPNOTSUPP):
			s.handleError(ctx, ifc, "read statistics", err, errs)
		default:
			return 0, s.handleError(ctx, ifc, "read statistics", err, errs)
		}
	}
	return points + s.recordInfo(ifc, l, now), true
}

// refreshInfo reads driver information and link settings (safchain/ethtool,
// off the hot path) and applies the driver selection.
func (s *ethtoolScraper) refreshInfo(ns *netns, ifc *iface) error {
	ifc.infoAt = s.scrapes
	drv, err := ns.h.Ethtool.DriverInfo(ifc.name)
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	info := nicInfo{driver: drv.Driver, version: drv.Version, firmware: drv.FwVersion, bus: drv.BusInfo, speedBits: -1}
	// ETHTOOL_GSET: safchain's GetLinkSettings prints to stdout whenever the
	// kernel's link mode mask is longer than it expects.
	var cmd ethtool.EthtoolCmd
	if mbps, err := ns.h.Ethtool.CmdGet(&cmd, ifc.name); err == nil && mbps != 0 && mbps != ethtool.SPEED_UNKNOWN {
		info.speedBits = int64(mbps) * 1_000_000
	}
	if info.driver != ifc.info.driver && ifc.stats != nil {
		_ = ifc.closeStats() // another driver: another layout
	}
	ifc.info = info
	ifc.selected = s.sel.driver(info.driver)
	return nil
}

// openStats reads the statistic names and builds the reporting plan.
func (s *ethtoolScraper) openStats(ns *netns, ifc *iface) error {
	st, err := ns.h.OpenStats(ifc.name)
	if errors.Is(err, nic.ErrCountChanged) {
		return nil // changing right now: names are read again next scrape
	}
	if err != nil {
		return err
	}
	ifc.stats = st
	var disambiguated []string
	ifc.plan, ifc.compatPlan, disambiguated = s.planStats(ifc.info.driver, st.Names)
	if len(disambiguated) > 0 {
		s.logger.Info("interface reports statistics that map to the same series; later ones carry a _dupN suffix",
			zap.String("device", ifc.name), zap.String("driver", ifc.info.driver), zap.Strings("statistics", disambiguated))
	}
	return nil
}

// planStats maps the statistic names of one interface and keeps the selected
// ones: plan for the typed metrics (identifiers left out), compat for the
// compatibility metric when it is enabled. The ENA allowance statistics ignore
// the statistics selection.
func (s *ethtoolScraper) planStats(driver string, names []string) (plan, compat []plannedStat, disambiguated []string) {
	for i, m := range statname.Map(driver, names) {
		if m.Disambiguated {
			disambiguated = append(disambiguated, m.Raw)
		}
		if !m.Metric.FirstClass() && !s.sel.statistic(m.Raw) {
			continue
		}
		if m.Metric != statname.Identifier {
			plan = append(plan, plannedStat{i, m})
		}
		if s.compatOn {
			compat = append(compat, plannedStat{i, m})
		}
	}
	return plan, compat, disambiguated
}

// handleError classifies an ethtool failure: EOPNOTSUPP marks the interface
// as having no statistics, silently; ENODEV forgets the interface; anything
// else is a partial scrape error for this interface only. Every failure but
// EOPNOTSUPP is counted by errno.
func (s *ethtoolScraper) handleError(ctx context.Context, ifc *iface, doing string, err error, errs *scrapererror.ScrapeErrors) (keep bool) {
	if errors.Is(err, unix.EOPNOTSUPP) {
		_ = ifc.closeStats()
		ifc.plan = []plannedStat{} // do not ask again until the driver changes
		return true
	}
	errno := "other"
	var e unix.Errno
	if errors.As(err, &e) {
		errno = unix.ErrnoName(e)
	}
	s.tb.ReceiverEthtoolInterfaceErrors.Add(ctx, 1, metric.WithAttributes(
		attribute.String("interface", ifc.name), attribute.String("errno", errno)))
	if errors.Is(err, unix.ENODEV) {
		return false
	}
	errs.AddPartial(1, fmt.Errorf("%s of interface %s: %w", doing, ifc.name, err))
	return true
}

func (s *ethtoolScraper) recordStats(ifc *iface, values []uint64, now pcommon.Timestamp) int {
	mb := s.mb
	for _, p := range ifc.plan {
		v := int64(values[p.index])
		switch p.stat.Metric {
		case statname.Device:
			mb.RecordEthtoolStatisticDataPoint(now, v, ifc.name, p.stat.Name)
		case statname.Queue:
			mb.RecordEthtoolQueueStatisticDataPoint(now, v, ifc.name, int64(p.stat.Queue), p.stat.Name)
		case statname.BwInAllowanceExceeded:
			mb.RecordEthtoolEnaBwInAllowanceExceededDataPoint(now, v, ifc.name)
		case statname.BwOutAllowanceExceeded:
			mb.RecordEthtoolEnaBwOutAllowanceExceededDataPoint(now, v, ifc.name)
		case statname.PPSAllowanceExceeded:
			mb.RecordEthtoolEnaPpsAllowanceExceededDataPoint(now, v, ifc.name)
		case statname.ConntrackAllowanceExceeded:
			mb.RecordEthtoolEnaConntrackAllowanceExceededDataPoint(now, v, ifc.name)
		case statname.LinklocalAllowanceExceeded:
			mb.RecordEthtoolEnaLinklocalAllowanceExceededDataPoint(now, v, ifc.name)
		case statname.ConntrackAllowanceAvailable:
			mb.RecordEthtoolEnaConntrackAllowanceAvailableDataPoint(now, v, ifc.name)
		}
	}
	for _, p := range ifc.compatPlan {
		mb.RecordNodeNetEthtoolDataPoint(now, float64(values[p.index]), ifc.name, p.stat.Type)
	}
	return len(ifc.plan) + len(ifc.compatPlan)
}

func (s *ethtoolScraper) recordInfo(ifc *iface, l *nic.Link, now pcommon.Timestamp) int {
	up := int64(0)
	if l.Up() {
		up = 1
	}
	s.mb.RecordEthtoolLinkUpDataPoint(now, up, ifc.name)
	s.mb.RecordEthtoolInterfaceInfoDataPoint(now, 1, ifc.name, ifc.info.driver, ifc.info.version, ifc.info.firmware, ifc.info.bus)
	if ifc.info.speedBits < 0 {
		return 2
	}
	s.mb.RecordEthtoolLinkSpeedDataPoint(now, ifc.info.speedBits, ifc.name)
	return 3
}
