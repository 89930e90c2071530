// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/nic"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/statname"
)

// netOS is what the scraper needs from the operating system. scraper_linux.go
// implements it with rtnetlink and SIOCETHTOOL; the scraper's lifecycle logic
// (interfaces appearing, renamed, replaced, vanishing, changing their number
// of statistics, EOPNOTSUPP, ENODEV) is tested against a scripted one.
type netOS interface {
	// identify returns the ID of the network namespace at path, "" for the
	// collector's own.
	identify(path string) (nic.NamespaceID, error)
	// open opens the network namespace at path, "" for the collector's own.
	open(path string) (netnsOS, error)
	// hasDevice reports whether an interface of the collector's own namespace
	// has a parent device, for kernels that do not say so in the link list.
	hasDevice(name string) bool
}

// netnsOS is one open network namespace.
type netnsOS interface {
	// links lists the interfaces; the slice may be reused by the next call.
	links() ([]link, error)
	// openStats reads the statistic names of an interface and prepares
	// reading their values. Errors: syscall.EOPNOTSUPP (no statistics),
	// syscall.ENODEV (gone), nic.ErrCountChanged (changing right now).
	openStats(name string) (statsOS, error)
	// driverInfo reads driver information and link speed. With an error the
	// information is incomplete; syscall.EOPNOTSUPP means the driver has none.
	driverInfo(name string) (nicInfo, error)
	close() error
}

// statsOS reads the statistic values of one interface.
type statsOS interface {
	// names are the statistic names, in the order of the values.
	names() []string
	// read returns the values, nic.ErrCountChanged when the number of
	// statistics is no longer that of names; the slice is reused.
	read() ([]uint64, error)
	close() error
}

// link is one network interface as the namespace lists it.
type link struct {
	index     int32
	name      string
	loopback  bool
	up        bool  // operational state up
	oper      uint8 // operational state (RFC 2863), a change refreshes driver information
	hasParent bool  // has a parent device, false for virtual devices and on kernels that do not tell
}

// ethtoolScraper keeps one netnsOS per network namespace and, per
// (namespace, ifindex), the cached statistic layout and mapping, so that a
// steady-state scrape costs one link listing per namespace and one statistics
// read per interface.
type ethtoolScraper struct {
	cfg      *Config
	set      receiver.Settings
	logger   *zap.Logger
	os       netOS
	now      func() time.Time
	sel      *selection
	rec      pointRecorder
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
	os     netnsOS
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
	stats      statsOS       // nil: no statistics (EOPNOTSUPP) or not opened yet
	plan       []plannedStat // typed metrics; empty, not nil: no statistics
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

func newEthtoolScraper(cfg *Config, set receiver.Settings, platform netOS) (*ethtoolScraper, error) {
	sel, err := newSelection(cfg)
	if err != nil {
		return nil, err
	}
	return &ethtoolScraper{
		cfg:         cfg,
		set:         set,
		logger:      set.Logger,
		os:          platform,
		now:         time.Now,
		sel:         sel,
		compatOn:    cfg.Metrics.NodeNetEthtool.Enabled,
		spaces:      map[nic.NamespaceID]*netns{},
		failedPaths: map[string]bool{},
	}, nil
}

func (s *ethtoolScraper) start(_ context.Context, _ component.Host) error {
	id, err := s.os.identify("")
	if err != nil {
		return err
	}
	s.selfID = id
	if s.tb, err = metadata.NewTelemetryBuilder(s.set.TelemetrySettings); err != nil {
		return fmt.Errorf("create ethtool receiver telemetry: %w", err)
	}
	if s.rec == nil { // tests may set the generated builder's path instead
		if s.rec, err = newDirectRecorder(s.cfg.MetricsBuilderConfig, s.set.BuildInfo, pcommon.NewTimestampFromTime(s.now())); err != nil {
			return err
		}
	}
	if s.cfg.NetworkNamespaces.Host {
		h, err := s.os.open("")
		if err != nil {
			return err
		}
		s.spaces[id] = &netns{self: true, os: h, ifaces: map[int32]*iface{}}
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
	errs := []error{ns.os.close()}
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
	err := ifc.stats.close()
	ifc.stats, ifc.plan, ifc.compatPlan = nil, nil, nil
	return err
}

func (s *ethtoolScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	s.scrapes++
	s.rec.begin(pcommon.NewTimestampFromTime(s.now()))
	var errs scrapererror.ScrapeErrors
	s.discoverNamespaces(&errs)
	for _, ns := range s.spaces {
		s.scrapeNamespace(ctx, ns, &errs)
		s.rec.endNamespace(ns.label)
	}
	md := s.rec.emit()
	s.checkBudget(md.DataPointCount())
	return md, errs.Combine()
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
			id, err := s.os.identify(path)
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
			h, err := s.os.open(path)
			if err != nil {
				if !s.failedPaths[path] {
					s.logger.Warn("cannot read network namespace", zap.String("path", path), zap.Error(err))
					s.failedPaths[path] = true
				}
				errs.AddPartial(1, err)
				continue
			}
			delete(s.failedPaths, path)
			s.spaces[id] = &netns{label: namespaceLabel(path, id), self: id == s.selfID, os: h, ifaces: map[int32]*iface{}, seen: s.scrapes}
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

// scrapeNamespace records the metrics of one namespace.
func (s *ethtoolScraper) scrapeNamespace(ctx context.Context, ns *netns, errs *scrapererror.ScrapeErrors) {
	links, err := ns.os.links()
	if err != nil {
		errs.AddPartial(1, fmt.Errorf("list interfaces of network namespace %q: %w", ns.label, err))
		return
	}
	for i := range links {
		l := &links[i]
		ifc := ns.ifaces[l.index]
		if ifc == nil || l.name != ifc.name {
			if ifc != nil {
				_ = ifc.closeStats() // renamed or index reused: start over
			}
			ifc = s.newIface(ns, l)
			ns.ifaces[l.index] = ifc
		}
		ifc.seen = s.scrapes
		if !ifc.selected {
			continue
		}
		if !s.scrapeIface(ctx, ns, ifc, l, errs) {
			_ = ifc.closeStats()
			delete(ns.ifaces, l.index)
		}
	}
	for idx, ifc := range ns.ifaces {
		if ifc.seen != s.scrapes {
			_ = ifc.closeStats()
			delete(ns.ifaces, idx)
		}
	}
}

// newIface applies the selection that needs no ethtool call.
func (s *ethtoolScraper) newIface(ns *netns, l *link) *iface {
	ifc := &iface{name: l.name, oper: l.oper}
	virtual := !l.hasParent
	if virtual && ns.self {
		// Kernels before 5.15 do not report IFLA_PARENT_DEV_NAME; in our own
		// namespace sysfs tells physical devices apart.
		virtual = !s.os.hasDevice(ifc.name)
	}
	ifc.selected = s.sel.link(ifc.name, l.loopback, virtual)
	return ifc
}

// scrapeIface reads and records one interface. keep is false when the
// interface vanished and must be forgotten.
func (s *ethtoolScraper) scrapeIface(ctx context.Context, ns *netns, ifc *iface, l *link, errs *scrapererror.ScrapeErrors) (keep bool) {
	if ifc.infoAt == 0 || s.scrapes-ifc.infoAt >= uint64(s.cfg.InfoRefreshScrapes) || l.oper != ifc.oper {
		if err := s.refreshInfo(ns, ifc); err != nil {
			return s.handleError(ctx, ifc, "read driver information", err, errs)
		}
		ifc.oper = l.oper
		if !ifc.selected {
			return true
		}
	}
	// Interfaces without statistics (EOPNOTSUPP) still report their state.
	if ifc.stats == nil && ifc.plan == nil {
		if err := s.openStats(ns, ifc); err != nil {
			if keep := s.handleError(ctx, ifc, "read statistic names", err, errs); !errors.Is(err, syscall.EOPNOTSUPP) {
				return keep
			}
		}
	}
	if ifc.stats != nil {
		values, err := ifc.stats.read()
		if errors.Is(err, nic.ErrCountChanged) {
			// Emit nothing this cycle: a partial layout would look like
			// counter resets. The names are read again now.
			_ = ifc.closeStats()
			if err := s.openStats(ns, ifc); err != nil {
				return s.handleError(ctx, ifc, "read statistic names", err, errs)
			}
			return true
		}
		switch {
		case err == nil:
			s.recordStats(ifc, values)
		case errors.Is(err, syscall.EOPNOTSUPP):
			s.handleError(ctx, ifc, "read statistics", err, errs)
		default:
			return s.handleError(ctx, ifc, "read statistics", err, errs)
		}
	}
	s.recordInfo(ifc, l)
	return true
}

// refreshInfo reads driver information and link settings and applies the
// driver selection.
func (s *ethtoolScraper) refreshInfo(ns *netns, ifc *iface) error {
	ifc.infoAt = s.scrapes
	info, err := ns.os.driverInfo(ifc.name)
	if err != nil && !errors.Is(err, syscall.EOPNOTSUPP) {
		return err
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
	st, err := ns.os.openStats(ifc.name)
	if errors.Is(err, nic.ErrCountChanged) {
		return nil // changing right now: names are read again next scrape
	}
	if err != nil {
		return err
	}
	ifc.stats = st
	var disambiguated []string
	ifc.plan, ifc.compatPlan, disambiguated = s.planStats(ifc.info.driver, st.names())
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
	if errors.Is(err, syscall.EOPNOTSUPP) {
		_ = ifc.closeStats()
		ifc.plan = []plannedStat{} // do not ask again until the driver changes
		return true
	}
	errno := "other"
	var e syscall.Errno
	if errors.As(err, &e) {
		errno = errnoName(e)
	}
	s.tb.ReceiverEthtoolInterfaceErrors.Add(ctx, 1, metric.WithAttributes(
		attribute.String("interface", ifc.name), attribute.String("errno", errno)))
	if errors.Is(err, syscall.ENODEV) {
		return false
	}
	errs.AddPartial(1, fmt.Errorf("%s of interface %s: %w", doing, ifc.name, err))
	return true
}

func (s *ethtoolScraper) recordStats(ifc *iface, values []uint64) {
	for _, p := range ifc.plan {
		v := int64(values[p.index])
		switch p.stat.Metric {
		case statname.Device:
			s.rec.statistic(v, ifc.name, p.stat.Name)
		case statname.Queue:
			s.rec.queueStatistic(v, ifc.name, int64(p.stat.Queue), p.stat.Name)
		default:
			s.rec.ena(p.stat.Metric, v, ifc.name)
		}
	}
	for _, p := range ifc.compatPlan {
		s.rec.compat(float64(values[p.index]), ifc.name, p.stat.Type)
	}
}

func (s *ethtoolScraper) recordInfo(ifc *iface, l *link) {
	up := int64(0)
	if l.up {
		up = 1
	}
	s.rec.linkUp(up, ifc.name)
	s.rec.interfaceInfo(ifc.name, &ifc.info)
	if ifc.info.speedBits >= 0 {
		s.rec.linkSpeed(ifc.info.speedBits, ifc.name)
	}
}
