// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/metadata"
	"github.com/otelcol-sre/otelcol-sre/receiver/ethtoolreceiver/internal/statname"
)

// pointRecorder receives the data points of one scrape, namespace by
// namespace: begin, the points of a namespace, endNamespace, ..., emit.
type pointRecorder interface {
	begin(now pcommon.Timestamp)
	statistic(v int64, device, statistic string)
	queueStatistic(v int64, device string, queue int64, statistic string)
	// ena records one of the first-class ENA allowance metrics.
	ena(m statname.Metric, v int64, device string)
	compat(v float64, device, typ string)
	linkUp(v int64, device string)
	linkSpeed(v int64, device string)
	interfaceInfo(device string, info *nicInfo)
	// endNamespace closes the resource of a namespace; label is its
	// network.namespace attribute, "" for the collector's own namespace.
	endNamespace(label string)
	emit() pmetric.Metrics
}

// directRecorder appends data points to pdata in linear time. The metrics
// builder mdatagen v0.155 generates compares every new data point with every
// point already recorded on its metric, to re-aggregate equal ones, which is
// quadratic in the points of one metric (48 µs per point at 5,760 points).
// Here a data point is appended directly when every attribute of its metric is
// enabled: the scraper never records two points with equal attributes then
// (statname disambiguates statistics of one interface, device names are
// unique within a namespace). When the `attributes` setting of a metric drops
// some, points with equal remaining attributes are aggregated with the
// metric's aggregation_strategy through a map, as the builder does by scanning.
//
// Everything else comes from the generated code: names, descriptions, units
// and types from metric shells the generated builder makes (see
// generatedShells), their order, the enable switches, the attribute switches
// and aggregation strategies from metadata.MetricsBuilderConfig, the resource
// from metadata.ResourceBuilder. TestDirectRecorderEqualsGeneratedBuilder
// proves the output equal to the builder's.
type directRecorder struct {
	slots                                                             []*metricSlot // in the generated builder's emission order
	statisticSlot, queueSlot, compatSlot, upSlot, speedSlot, infoSlot *metricSlot
	enaSlots                                                          [statname.ConntrackAllowanceAvailable - statname.BwInAllowanceExceeded + 1]*metricSlot

	start, now  pcommon.Timestamp
	scopeName   string
	version     string
	rb          *metadata.ResourceBuilder
	nsAttribute bool          // the network.namespace resource attribute is enabled
	include     filter.Filter // metrics_include of network.namespace, nil when unset
	exclude     filter.Filter // metrics_exclude of network.namespace, nil when unset
	out         pmetric.Metrics
	metricsCap  int
}

// maxAttrs is the largest number of attributes of one metric
// (ethtool.interface.info).
const maxAttrs = 5

// attrValues are the attribute values of one data point, by position in the
// metric's attribute list (metadata.yaml order).
type attrValues struct {
	str [maxAttrs]string
	num int64 // the int attribute (queue) at the metric's numAt
}

// metricSlot builds one metric of the namespace being recorded.
type metricSlot struct {
	shell    pmetric.Metric // no data points
	enabled  bool
	double   bool
	keys     []string       // attribute names by position
	numAt    int            // position of the int attribute, -1 when none
	keep     [maxAttrs]bool // attribute enabled by the `attributes` setting
	merge    bool           // some attribute is dropped: aggregate equal points
	strategy string

	metric   pmetric.Metric
	dps      pmetric.NumberDataPointSlice
	active   bool
	index    map[attrValues]int
	counts   []int64 // points aggregated into each data point, for avg
	capacity int
}

// slotConfig is the generated configuration of one metric.
type slotConfig struct {
	enabled  bool
	strategy string
	attrs    []string
}

func configOf[K ~string](enabled bool, strategy string, attrs []K) slotConfig {
	c := slotConfig{enabled: enabled, strategy: strategy}
	for _, a := range attrs {
		c.attrs = append(c.attrs, string(a))
	}
	return c
}

func newDirectRecorder(mbc metadata.MetricsBuilderConfig, build component.BuildInfo, start pcommon.Timestamp) (*directRecorder, error) {
	r := &directRecorder{
		start:       start,
		scopeName:   metadata.ScopeName,
		version:     build.Version,
		rb:          metadata.NewResourceBuilder(mbc.ResourceAttributes),
		nsAttribute: mbc.ResourceAttributes.NetworkNamespace.Enabled,
		out:         pmetric.NewMetrics(),
	}
	if f := mbc.ResourceAttributes.NetworkNamespace.MetricsInclude; f != nil {
		r.include = filter.CreateFilter(f)
	}
	if f := mbc.ResourceAttributes.NetworkNamespace.MetricsExclude; f != nil {
		r.exclude = filter.CreateFilter(f)
	}
	m, info := &mbc.Metrics, &metadata.MetricsInfo
	ena := func(metric statname.Metric) **metricSlot { return &r.enaSlots[metric-statname.BwInAllowanceExceeded] }
	slots := map[string]struct {
		dst **metricSlot
		cfg slotConfig
	}{
		info.EthtoolEnaBwInAllowanceExceeded.Name:       {ena(statname.BwInAllowanceExceeded), configOf(m.EthtoolEnaBwInAllowanceExceeded.Enabled, m.EthtoolEnaBwInAllowanceExceeded.AggregationStrategy, m.EthtoolEnaBwInAllowanceExceeded.EnabledAttributes)},
		info.EthtoolEnaBwOutAllowanceExceeded.Name:      {ena(statname.BwOutAllowanceExceeded), configOf(m.EthtoolEnaBwOutAllowanceExceeded.Enabled, m.EthtoolEnaBwOutAllowanceExceeded.AggregationStrategy, m.EthtoolEnaBwOutAllowanceExceeded.EnabledAttributes)},
		info.EthtoolEnaPpsAllowanceExceeded.Name:        {ena(statname.PPSAllowanceExceeded), configOf(m.EthtoolEnaPpsAllowanceExceeded.Enabled, m.EthtoolEnaPpsAllowanceExceeded.AggregationStrategy, m.EthtoolEnaPpsAllowanceExceeded.EnabledAttributes)},
		info.EthtoolEnaConntrackAllowanceExceeded.Name:  {ena(statname.ConntrackAllowanceExceeded), configOf(m.EthtoolEnaConntrackAllowanceExceeded.Enabled, m.EthtoolEnaConntrackAllowanceExceeded.AggregationStrategy, m.EthtoolEnaConntrackAllowanceExceeded.EnabledAttributes)},
		info.EthtoolEnaLinklocalAllowanceExceeded.Name:  {ena(statname.LinklocalAllowanceExceeded), configOf(m.EthtoolEnaLinklocalAllowanceExceeded.Enabled, m.EthtoolEnaLinklocalAllowanceExceeded.AggregationStrategy, m.EthtoolEnaLinklocalAllowanceExceeded.EnabledAttributes)},
		info.EthtoolEnaConntrackAllowanceAvailable.Name: {ena(statname.ConntrackAllowanceAvailable), configOf(m.EthtoolEnaConntrackAllowanceAvailable.Enabled, m.EthtoolEnaConntrackAllowanceAvailable.AggregationStrategy, m.EthtoolEnaConntrackAllowanceAvailable.EnabledAttributes)},
		info.EthtoolInterfaceInfo.Name:                  {&r.infoSlot, configOf(m.EthtoolInterfaceInfo.Enabled, m.EthtoolInterfaceInfo.AggregationStrategy, m.EthtoolInterfaceInfo.EnabledAttributes)},
		info.EthtoolLinkSpeed.Name:                      {&r.speedSlot, configOf(m.EthtoolLinkSpeed.Enabled, m.EthtoolLinkSpeed.AggregationStrategy, m.EthtoolLinkSpeed.EnabledAttributes)},
		info.EthtoolLinkUp.Name:                         {&r.upSlot, configOf(m.EthtoolLinkUp.Enabled, m.EthtoolLinkUp.AggregationStrategy, m.EthtoolLinkUp.EnabledAttributes)},
		info.EthtoolQueueStatistic.Name:                 {&r.queueSlot, configOf(m.EthtoolQueueStatistic.Enabled, m.EthtoolQueueStatistic.AggregationStrategy, m.EthtoolQueueStatistic.EnabledAttributes)},
		info.EthtoolStatistic.Name:                      {&r.statisticSlot, configOf(m.EthtoolStatistic.Enabled, m.EthtoolStatistic.AggregationStrategy, m.EthtoolStatistic.EnabledAttributes)},
		info.NodeNetEthtool.Name:                        {&r.compatSlot, configOf(m.NodeNetEthtool.Enabled, m.NodeNetEthtool.AggregationStrategy, m.NodeNetEthtool.EnabledAttributes)},
	}
	shells := generatedShells()
	for i := 0; i < shells.Len(); i++ {
		shell := shells.At(i)
		s, ok := slots[shell.Name()]
		if !ok {
			return nil, fmt.Errorf("the ethtool receiver does not know the generated metric %s", shell.Name())
		}
		*s.dst = newMetricSlot(shell, s.cfg)
		r.slots = append(r.slots, *s.dst)
	}
	if len(r.slots) != len(slots) {
		return nil, fmt.Errorf("the generated metrics builder made %d of the ethtool receiver's %d metrics", len(r.slots), len(slots))
	}
	return r, nil
}

// generatedShells returns every metric as the generated builder makes it with
// all metrics and all attributes enabled, in its emission order, each with
// one data point whose attributes give the attribute names and types in
// metadata.yaml order.
func generatedShells() pmetric.MetricSlice {
	mbc := metadata.NewDefaultMetricsBuilderConfig() // every attribute enabled
	m := &mbc.Metrics
	for _, enabled := range []*bool{
		&m.EthtoolEnaBwInAllowanceExceeded.Enabled, &m.EthtoolEnaBwOutAllowanceExceeded.Enabled,
		&m.EthtoolEnaPpsAllowanceExceeded.Enabled, &m.EthtoolEnaConntrackAllowanceExceeded.Enabled,
		&m.EthtoolEnaLinklocalAllowanceExceeded.Enabled, &m.EthtoolEnaConntrackAllowanceAvailable.Enabled,
		&m.EthtoolInterfaceInfo.Enabled, &m.EthtoolLinkSpeed.Enabled, &m.EthtoolLinkUp.Enabled,
		&m.EthtoolQueueStatistic.Enabled, &m.EthtoolStatistic.Enabled, &m.NodeNetEthtool.Enabled,
	} {
		*enabled = true
	}
	mb := metadata.NewMetricsBuilder(mbc, receiver.Settings{})
	mb.RecordEthtoolEnaBwInAllowanceExceededDataPoint(0, 0, "")
	mb.RecordEthtoolEnaBwOutAllowanceExceededDataPoint(0, 0, "")
	mb.RecordEthtoolEnaPpsAllowanceExceededDataPoint(0, 0, "")
	mb.RecordEthtoolEnaConntrackAllowanceExceededDataPoint(0, 0, "")
	mb.RecordEthtoolEnaLinklocalAllowanceExceededDataPoint(0, 0, "")
	mb.RecordEthtoolEnaConntrackAllowanceAvailableDataPoint(0, 0, "")
	mb.RecordEthtoolInterfaceInfoDataPoint(0, 0, "", "", "", "", "")
	mb.RecordEthtoolLinkSpeedDataPoint(0, 0, "")
	mb.RecordEthtoolLinkUpDataPoint(0, 0, "")
	mb.RecordEthtoolQueueStatisticDataPoint(0, 0, "", 0, "")
	mb.RecordEthtoolStatisticDataPoint(0, 0, "", "")
	mb.RecordNodeNetEthtoolDataPoint(0, 0, "", "")
	return mb.Emit().ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
}

func newMetricSlot(shell pmetric.Metric, cfg slotConfig) *metricSlot {
	s := &metricSlot{shell: pmetric.NewMetric(), enabled: cfg.enabled, strategy: cfg.strategy, numAt: -1}
	shell.CopyTo(s.shell)
	dps := s.points(s.shell)
	sample := dps.At(0)
	s.double = sample.ValueType() == pmetric.NumberDataPointValueTypeDouble
	sample.Attributes().Range(func(k string, v pcommon.Value) bool {
		if v.Type() == pcommon.ValueTypeInt {
			s.numAt = len(s.keys)
		}
		s.keys = append(s.keys, k)
		return true
	})
	dps.RemoveIf(func(pmetric.NumberDataPoint) bool { return true })
	for i, k := range s.keys {
		for _, a := range cfg.attrs {
			s.keep[i] = s.keep[i] || a == k
		}
		s.merge = s.merge || !s.keep[i]
	}
	if s.merge {
		s.index = map[attrValues]int{}
	}
	return s
}

func (s *metricSlot) points(m pmetric.Metric) pmetric.NumberDataPointSlice {
	if m.Type() == pmetric.MetricTypeSum {
		return m.Sum().DataPoints()
	}
	return m.Gauge().DataPoints()
}

// point returns the data point for the attribute values, a new one with
// start, time and attributes set, or, when attributes are dropped, the one
// with equal remaining attributes if there is one (existing).
func (s *metricSlot) point(r *directRecorder, a *attrValues) (dp pmetric.NumberDataPoint, existing bool) {
	if !s.active {
		s.metric = pmetric.NewMetric()
		s.shell.CopyTo(s.metric)
		s.dps = s.points(s.metric)
		s.dps.EnsureCapacity(s.capacity)
		s.active = true
	}
	if s.merge {
		for i := range a.str {
			if !s.keep[i] {
				a.str[i] = ""
			}
		}
		if s.numAt >= 0 && !s.keep[s.numAt] {
			a.num = 0
		}
		if i, ok := s.index[*a]; ok {
			s.counts[i]++
			return s.dps.At(i), true
		}
		s.index[*a] = s.dps.Len()
		s.counts = append(s.counts, 1)
	}
	dp = s.dps.AppendEmpty()
	dp.SetStartTimestamp(r.start)
	dp.SetTimestamp(r.now)
	attrs := dp.Attributes()
	attrs.EnsureCapacity(len(s.keys))
	for i, k := range s.keys {
		switch {
		case !s.keep[i]:
		case i == s.numAt:
			attrs.PutInt(k, a.num)
		default:
			attrs.PutStr(k, a.str[i])
		}
	}
	return dp, false
}

func (s *metricSlot) addInt(r *directRecorder, v int64, a *attrValues) {
	if !s.enabled {
		return
	}
	if dp, existing := s.point(r, a); existing {
		dp.SetIntValue(aggregate(s.strategy, dp.IntValue(), v))
	} else {
		dp.SetIntValue(v)
	}
}

func (s *metricSlot) addDouble(r *directRecorder, v float64, a *attrValues) {
	if !s.enabled {
		return
	}
	if dp, existing := s.point(r, a); existing {
		dp.SetDoubleValue(aggregate(s.strategy, dp.DoubleValue(), v))
	} else {
		dp.SetDoubleValue(v)
	}
}

// aggregate combines a value with the one already recorded for equal
// attributes; avg sums here and divides in finish.
func aggregate[N int64 | float64](strategy string, old, v N) N {
	switch strategy {
	case metadata.AggregationStrategyMin:
		return min(old, v)
	case metadata.AggregationStrategyMax:
		return max(old, v)
	default: // sum, avg
		return old + v
	}
}

// finish applies the average of aggregated points and resets the slot for
// the next namespace; the metric is returned when it has points.
func (s *metricSlot) finish() (pmetric.Metric, bool) {
	if !s.active {
		return pmetric.Metric{}, false
	}
	m := s.metric
	if s.merge {
		if s.strategy == metadata.AggregationStrategyAvg {
			for i, n := range s.counts {
				if dp := s.dps.At(i); s.double {
					dp.SetDoubleValue(dp.DoubleValue() / float64(n))
				} else {
					dp.SetIntValue(dp.IntValue() / n)
				}
			}
		}
		clear(s.index)
		s.counts = s.counts[:0]
	}
	s.capacity = max(s.capacity, s.dps.Len())
	s.metric, s.dps, s.active = pmetric.Metric{}, pmetric.NumberDataPointSlice{}, false
	return m, true
}

func (r *directRecorder) begin(now pcommon.Timestamp) { r.now = now }

func (r *directRecorder) statistic(v int64, device, statistic string) {
	r.statisticSlot.addInt(r, v, &attrValues{str: [maxAttrs]string{device, statistic}})
}

func (r *directRecorder) queueStatistic(v int64, device string, queue int64, statistic string) {
	r.queueSlot.addInt(r, v, &attrValues{str: [maxAttrs]string{device, "", statistic}, num: queue})
}

func (r *directRecorder) ena(m statname.Metric, v int64, device string) {
	r.enaSlots[m-statname.BwInAllowanceExceeded].addInt(r, v, &attrValues{str: [maxAttrs]string{device}})
}

func (r *directRecorder) compat(v float64, device, typ string) {
	r.compatSlot.addDouble(r, v, &attrValues{str: [maxAttrs]string{device, typ}})
}

func (r *directRecorder) linkUp(v int64, device string) {
	r.upSlot.addInt(r, v, &attrValues{str: [maxAttrs]string{device}})
}

func (r *directRecorder) linkSpeed(v int64, device string) {
	r.speedSlot.addInt(r, v, &attrValues{str: [maxAttrs]string{device}})
}

func (r *directRecorder) interfaceInfo(device string, info *nicInfo) {
	r.infoSlot.addInt(r, 1, &attrValues{str: [maxAttrs]string{device, info.driver, info.version, info.firmware, info.bus}})
}

// endNamespace moves the namespace's metrics under its resource, unless the
// resource is filtered out by metrics_include/metrics_exclude.
func (r *directRecorder) endNamespace(label string) {
	if label != "" {
		r.rb.SetNetworkNamespace(label)
	}
	res := r.rb.Emit()
	selected := r.selected(label)
	var sm pmetric.ScopeMetrics
	emitted := false
	for _, s := range r.slots {
		m, ok := s.finish()
		if !ok || !selected {
			continue
		}
		if !emitted {
			emitted = true
			rm := r.out.ResourceMetrics().AppendEmpty()
			res.MoveTo(rm.Resource())
			sm = rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(r.scopeName)
			sm.Scope().SetVersion(r.version)
			sm.Metrics().EnsureCapacity(r.metricsCap)
		}
		m.MoveTo(sm.Metrics().AppendEmpty())
	}
	if emitted {
		r.metricsCap = max(r.metricsCap, sm.Metrics().Len())
	}
}

// selected applies the network.namespace resource attribute filters as the
// generated builder does: only to resources that carry the attribute.
func (r *directRecorder) selected(label string) bool {
	if label == "" || !r.nsAttribute {
		return true
	}
	if r.include != nil && !r.include.Matches(label) {
		return false
	}
	return r.exclude == nil || !r.exclude.Matches(label)
}

func (r *directRecorder) emit() pmetric.Metrics {
	out := r.out
	r.out = pmetric.NewMetrics()
	return out
}
