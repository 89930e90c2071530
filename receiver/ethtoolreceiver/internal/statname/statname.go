// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package statname maps the statistic names a NIC driver reports through
// ETHTOOL_GSTRINGS(ETH_SS_STATS) to metrics: the ENA allowance counters as
// first-class metrics, per-queue statistics with the queue number as an
// attribute instead of inside the name, device-level statistics, and
// identifiers that are not counters.
//
// The mapping depends only on the driver name and the ordered list of names,
// so it is computed once per interface and cached by the caller; nothing here
// runs on the per-scrape path.
package statname

import (
	"regexp"
	"strconv"
	"strings"
)

// Metric says which metric a statistic is reported as.
type Metric uint8

const (
	// Device is a device-level statistic (metric ethtool.statistic).
	Device Metric = iota
	// Queue is a per-queue statistic (metric ethtool.queue.statistic).
	Queue
	// BwInAllowanceExceeded is ENA bw_in_allowance_exceeded.
	BwInAllowanceExceeded
	// BwOutAllowanceExceeded is ENA bw_out_allowance_exceeded.
	BwOutAllowanceExceeded
	// PPSAllowanceExceeded is ENA pps_allowance_exceeded.
	PPSAllowanceExceeded
	// ConntrackAllowanceExceeded is ENA conntrack_allowance_exceeded.
	ConntrackAllowanceExceeded
	// LinklocalAllowanceExceeded is ENA linklocal_allowance_exceeded.
	LinklocalAllowanceExceeded
	// ConntrackAllowanceAvailable is the ENA gauge conntrack_allowance_available.
	ConntrackAllowanceAvailable
	// Identifier is a value that is not a counter (veth peer_ifindex, vmxnet3
	// queue markers); it is never reported as a counter.
	Identifier
)

// FirstClass reports whether m is one of the ENA allowance metrics.
func (m Metric) FirstClass() bool {
	return m >= BwInAllowanceExceeded && m <= ConntrackAllowanceAvailable
}

// NoQueue is the Queue value of statistics that are not per queue.
const NoQueue = -1

// Stat is the mapping of one driver statistic.
type Stat struct {
	// Raw is the name exactly as the driver reports it.
	Raw string
	// Type is Raw without surrounding blanks, unique within the interface:
	// the `type` label of the node_net_ethtool compatibility metric.
	Type string
	// Metric is the metric the statistic is reported as.
	Metric Metric
	// Name is the statistic attribute for Device and Queue metrics, with the
	// queue number removed for per-queue statistics.
	Name string
	// Queue is the queue (or, for hv_netvsc cpuN_ statistics, the CPU) number,
	// NoQueue for device-level statistics.
	Queue int
	// Disambiguated is set when another statistic of the same interface
	// mapped to the same series first and Name or Type got a `_dupN` suffix.
	Disambiguated bool
}

// queueRule recognizes one per-queue naming layout. The regexp has the
// groups p (kept prefix, may be absent), q (queue number) and s (rest).
type queueRule struct{ re *regexp.Regexp }

var (
	// ENA: queue_0_tx_cnt.
	ruleENA = queueRule{regexp.MustCompile(`^queue_(?P<q>\d{1,6})_(?P<s>.+)$`)}
	// veth, igb, ixgbe, hv_netvsc, virtio_net before 6.x: rx_queue_0_packets.
	ruleRxTxQueue = queueRule{regexp.MustCompile(`^(?P<p>rx|tx)_queue_(?P<q>\d{1,6})_(?P<s>.+)$`)}
	// virtio_net 6.x and mlx5: rx0_packets.
	ruleRxTxN = queueRule{regexp.MustCompile(`^(?P<p>rx|tx)(?P<q>\d{1,6})_(?P<s>.+)$`)}
	// mlx5 channels: ch0_events.
	ruleChN = queueRule{regexp.MustCompile(`^(?P<p>ch)(?P<q>\d{1,6})_(?P<s>.+)$`)}
	// hv_netvsc per-CPU: cpu0_rx_packets.
	ruleCPUN = queueRule{regexp.MustCompile(`^(?P<p>cpu)(?P<q>\d{1,6})_(?P<s>.+)$`)}
)

// match returns the attribute name and queue number of raw, ok=false when raw
// does not follow the layout.
func (r queueRule) match(raw string) (name string, queue int, ok bool) {
	m := r.re.FindStringSubmatch(raw)
	if m == nil {
		return "", NoQueue, false
	}
	var p, q, s string
	for i, g := range r.re.SubexpNames() {
		switch g {
		case "p":
			p = m[i]
		case "q":
			q = m[i]
		case "s":
			s = m[i]
		}
	}
	n, err := strconv.Atoi(q)
	if err != nil {
		return "", NoQueue, false
	}
	if p != "" {
		return p + "_" + s, n, true
	}
	return s, n, true
}

// driverLayout is how one driver names its statistics.
type driverLayout struct {
	queues      []queueRule
	identifiers []string
	// sectioned drivers (vmxnet3) repeat the same names for every queue after
	// a marker statistic; see mapSectioned.
	sectioned bool
	// ena enables the first-class allowance metrics.
	ena bool
}

// layouts by driver name as reported by ETHTOOL_GDRVINFO. Drivers not listed
// keep every statistic device-level under its raw name.
var layouts = map[string]driverLayout{
	"ena":        {queues: []queueRule{ruleENA}, ena: true},
	"veth":       {queues: []queueRule{ruleRxTxQueue}, identifiers: []string{"peer_ifindex"}},
	"igb":        {queues: []queueRule{ruleRxTxQueue}},
	"igc":        {queues: []queueRule{ruleRxTxQueue}},
	"ixgbe":      {queues: []queueRule{ruleRxTxQueue}},
	"ixgbevf":    {queues: []queueRule{ruleRxTxQueue}},
	"virtio_net": {queues: []queueRule{ruleRxTxN, ruleRxTxQueue}},
	"mlx5_core":  {queues: []queueRule{ruleRxTxN, ruleChN}},
	"hv_netvsc":  {queues: []queueRule{ruleRxTxQueue, ruleCPUN}},
	"vmxnet3":    {sectioned: true},
}

var enaFirstClass = map[string]Metric{
	"bw_in_allowance_exceeded":      BwInAllowanceExceeded,
	"bw_out_allowance_exceeded":     BwOutAllowanceExceeded,
	"pps_allowance_exceeded":        PPSAllowanceExceeded,
	"conntrack_allowance_exceeded":  ConntrackAllowanceExceeded,
	"linklocal_allowance_exceeded":  LinklocalAllowanceExceeded,
	"conntrack_allowance_available": ConntrackAllowanceAvailable,
}

// Map maps the statistic names of one interface, in kernel order. The result
// has one Stat per name, at the same index. Two statistics that would produce
// the same series are disambiguated with a `_dupN` suffix (N = 2, 3, ...) on
// the later one, in kernel order; nothing is dropped.
func Map(driver string, raw []string) []Stat {
	layout := layouts[driver]
	out := make([]Stat, len(raw))
	if layout.sectioned {
		mapSectioned(raw, out)
	} else {
		for i, r := range raw {
			out[i] = mapOne(layout, r)
		}
	}
	disambiguate(out)
	return out
}

func mapOne(layout driverLayout, raw string) Stat {
	st := Stat{Raw: raw, Type: strings.TrimSpace(raw), Metric: Device, Name: raw, Queue: NoQueue}
	for _, id := range layout.identifiers {
		if raw == id {
			st.Metric = Identifier
			return st
		}
	}
	if layout.ena {
		if m, ok := enaFirstClass[raw]; ok {
			st.Metric = m
			return st
		}
	}
	for _, rule := range layout.queues {
		if name, q, ok := rule.match(raw); ok {
			st.Metric, st.Name, st.Queue = Queue, name, q
			return st
		}
	}
	return st
}

// vmxnet3 markers: their value is the queue number, and the indented names
// after them belong to that queue. An unindented name ends the section.
const (
	vmxnet3TxMarker = "Tx Queue#"
	vmxnet3RxMarker = "Rx Queue#"
)

func mapSectioned(raw []string, out []Stat) {
	txQueues, rxQueues := 0, 0
	queue := NoQueue
	for i, r := range raw {
		st := Stat{Raw: r, Type: strings.TrimSpace(r), Metric: Device, Name: snake(r), Queue: NoQueue}
		switch {
		case r == vmxnet3TxMarker:
			st.Metric = Identifier
			queue = txQueues
			txQueues++
		case r == vmxnet3RxMarker:
			st.Metric = Identifier
			queue = rxQueues
			rxQueues++
		case strings.HasPrefix(r, " ") && queue != NoQueue:
			st.Metric, st.Queue = Queue, queue
		default:
			queue = NoQueue
		}
		out[i] = st
	}
}

// snake turns "  TSO pkts tx" into "tso_pkts_tx".
func snake(s string) string {
	var b strings.Builder
	pendingSep := false
	for _, c := range strings.ToLower(strings.TrimSpace(s)) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(c)
			continue
		}
		pendingSep = true
	}
	return b.String()
}

type seriesKey struct {
	metric Metric
	name   string
	queue  int
}

func disambiguate(out []Stat) {
	series := make(map[seriesKey]struct{}, len(out))
	types := make(map[string]struct{}, len(out))
	for i := range out {
		st := &out[i]
		typeSuffix := claim(types, func(sfx string) string { return st.Type + sfx })
		st.Type += typeSuffix
		st.Disambiguated = typeSuffix != ""
		if st.Metric == Identifier {
			continue
		}
		if _, dup := series[seriesKey{st.Metric, st.Name, st.Queue}]; dup && st.Metric.FirstClass() {
			// A repeated first-class statistic cannot share the typed
			// metric: report it device-level under its raw name.
			st.Metric, st.Name = Device, st.Raw
		}
		nameSuffix := claim(series, func(sfx string) seriesKey { return seriesKey{st.Metric, st.Name + sfx, st.Queue} })
		st.Name += nameSuffix
		st.Disambiguated = st.Disambiguated || nameSuffix != ""
	}
}

// claim records and returns the first suffix ("", "_dup2", "_dup3", ...) for
// which key(suffix) is not yet in seen.
func claim[K comparable](seen map[K]struct{}, key func(suffix string) K) string {
	suffix := ""
	for n := 2; ; n++ {
		k := key(suffix)
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			return suffix
		}
		suffix = "_dup" + strconv.Itoa(n)
	}
}
