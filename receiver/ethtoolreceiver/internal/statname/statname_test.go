// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package statname

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current mapping")

// loadNames reads a testdata name list: one statistic name per line, kept
// verbatim (vmxnet3 names start with blanks); lines starting with '#' are
// comments.
func loadNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	require.NoError(t, err)
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "#") && line != "" {
			names = append(names, line)
		}
	}
	require.NoError(t, sc.Err())
	return names
}

func (m Metric) String() string {
	return [...]string{"device", "queue", "bw_in", "bw_out", "pps", "conntrack", "linklocal", "conntrack_available", "identifier"}[m]
}

func render(stats []Stat) string {
	var b strings.Builder
	for _, s := range stats {
		fmt.Fprintf(&b, "%q\t%s\t%q\t%d\t%q\t%v\n", s.Raw, s.Metric, s.Name, s.Queue, s.Type, s.Disambiguated)
	}
	return b.String()
}

// assertNoDuplicateSeries checks the invariant the receiver relies on: no two
// statistics of an interface produce the same series, in either mode.
func assertNoDuplicateSeries(t *testing.T, stats []Stat) {
	t.Helper()
	series := map[seriesKey]string{}
	types := map[string]string{}
	for _, s := range stats {
		if prev, dup := types[s.Type]; dup {
			t.Errorf("compat type %q of %q already used by %q", s.Type, s.Raw, prev)
		}
		types[s.Type] = s.Raw
		if s.Metric == Identifier {
			continue
		}
		k := seriesKey{s.Metric, s.Name, s.Queue}
		if prev, dup := series[k]; dup {
			t.Errorf("series %+v of %q already used by %q", k, s.Raw, prev)
		}
		series[k] = s.Raw
	}
}

func TestMapRealDrivers(t *testing.T) {
	type want struct {
		metric Metric
		name   string
		queue  int
	}
	tests := []struct {
		driver, file       string
		queue, device, ids int
		firstClass         int
		disambiguated      int
		spot               map[string]want
	}{
		{
			driver: "ena", file: "ena.txt", queue: 68, device: 14, firstClass: 6,
			spot: map[string]want{
				"pps_allowance_exceeded":        {PPSAllowanceExceeded, "pps_allowance_exceeded", NoQueue},
				"conntrack_allowance_available": {ConntrackAllowanceAvailable, "conntrack_allowance_available", NoQueue},
				"queue_1_tx_cnt":                {Queue, "tx_cnt", 1},
				"queue_0_rx_rx_copybreak_pkt":   {Queue, "rx_rx_copybreak_pkt", 0},
				"ena_admin_q_aborted_cmd":       {Device, "ena_admin_q_aborted_cmd", NoQueue},
				"rx_drops":                      {Device, "rx_drops", NoQueue},
			},
		},
		{
			driver: "veth", file: "veth.txt", queue: 9, ids: 1,
			spot: map[string]want{
				"peer_ifindex":               {Identifier, "peer_ifindex", NoQueue},
				"rx_queue_0_xdp_packets":     {Queue, "rx_xdp_packets", 0},
				"tx_queue_0_xdp_xmit_errors": {Queue, "tx_xdp_xmit_errors", 0},
			},
		},
		{
			driver: "virtio_net", file: "virtio_net.txt", queue: 10, device: 10,
			spot: map[string]want{
				"rx_drops":  {Device, "rx_drops", NoQueue},
				"rx0_drops": {Queue, "rx_drops", 0},
				"tx0_kicks": {Queue, "tx_kicks", 0},
			},
		},
		{
			driver: "virtio_net", file: "virtio_net_legacy.txt", queue: 28,
			spot: map[string]want{
				"rx_queue_1_kicks":       {Queue, "rx_kicks", 1},
				"tx_queue_0_tx_timeouts": {Queue, "tx_tx_timeouts", 0},
			},
		},
		{
			driver: "mlx5_core", file: "mlx5_core.txt", queue: 56, device: 35,
			spot: map[string]want{
				"rx1_xdp_tx_xmit":        {Queue, "rx_xdp_tx_xmit", 1},
				"ch0_events":             {Queue, "ch_events", 0},
				"ch_events":              {Device, "ch_events", NoQueue},
				"rx_prio0_bytes":         {Device, "rx_prio0_bytes", NoQueue},
				"tx_vport_unicast_bytes": {Device, "tx_vport_unicast_bytes", NoQueue},
			},
		},
		{
			driver: "ixgbe", file: "ixgbe.txt", queue: 8, device: 89,
			spot: map[string]want{
				"rx_packets":         {Device, "rx_packets", NoQueue},
				"rx_queue_1_packets": {Queue, "rx_packets", 1},
				"tx_pb_3_pxon":       {Device, "tx_pb_3_pxon", NoQueue},
			},
		},
		{
			driver: "hv_netvsc", file: "hv_netvsc.txt", queue: 32, device: 16,
			spot: map[string]want{
				"tx_queue_0_packets": {Queue, "tx_packets", 0},
				"cpu0_tx_packets":    {Queue, "cpu_tx_packets", 0},
				"cpu1_vf_rx_bytes":   {Queue, "cpu_vf_rx_bytes", 1},
				"vf_tx_dropped":      {Device, "vf_tx_dropped", NoQueue},
			},
		},
		{
			// Names repeat per queue; "giant hdr" appears twice inside every tx
			// queue section (a drop reason and a counter of its own).
			driver: "vmxnet3", file: "vmxnet3.txt", queue: 66, device: 1, ids: 4, disambiguated: 36,
			spot: map[string]want{
				"tx timeout count": {Device, "tx_timeout_count", NoQueue},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			names := loadNames(t, tt.file)
			stats := Map(tt.driver, names)
			require.Len(t, stats, len(names))

			var queue, device, ids, firstClass, disambiguated int
			for i, s := range stats {
				assert.Equal(t, names[i], s.Raw, "kernel order is kept")
				switch {
				case s.Metric == Queue:
					queue++
				case s.Metric == Device:
					device++
				case s.Metric == Identifier:
					ids++
				case s.Metric.FirstClass():
					firstClass++
				}
				if s.Disambiguated {
					disambiguated++
				}
				if w, ok := tt.spot[s.Raw]; ok {
					assert.Equal(t, w, want{s.Metric, s.Name, s.Queue}, s.Raw)
				}
			}
			assert.Equal(t, tt.queue, queue, "per-queue statistics")
			assert.Equal(t, tt.device, device, "device-level statistics")
			assert.Equal(t, tt.ids, ids, "identifiers")
			assert.Equal(t, tt.firstClass, firstClass, "first-class ENA metrics")
			assert.Equal(t, tt.disambiguated, disambiguated, "disambiguated statistics")
			assertNoDuplicateSeries(t, stats)

			golden := filepath.Join("testdata", strings.TrimSuffix(tt.file, ".txt")+".golden")
			got := render(stats)
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o600))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create %s", golden)
			assert.Equal(t, string(want), got, "mapping changed; review and run go test -update")
		})
	}
}

func TestMapVmxnet3Sections(t *testing.T) {
	stats := Map("vmxnet3", loadNames(t, "vmxnet3.txt"))
	byQueueName := map[string][]Stat{}
	for _, s := range stats {
		byQueueName[fmt.Sprintf("%d/%s", s.Queue, s.Name)] = append(byQueueName[fmt.Sprintf("%d/%s", s.Queue, s.Name)], s)
	}
	// Each tx queue section repeats the same names; the queue comes from the
	// marker count, so queue 1 is its own series.
	require.Len(t, byQueueName["1/tso_pkts_tx"], 1)
	assert.Equal(t, "  TSO pkts tx", byQueueName["1/tso_pkts_tx"][0].Raw)
	require.Len(t, byQueueName["1/lro_pkts_rx"], 1)
	// The second "giant hdr" of a section is kept, under a suffixed name.
	require.Len(t, byQueueName["0/giant_hdr"], 1)
	require.Len(t, byQueueName["0/giant_hdr_dup2"], 1)
	assert.True(t, byQueueName["0/giant_hdr_dup2"][0].Disambiguated)
	assert.Equal(t, "  giant hdr", byQueueName["0/giant_hdr_dup2"][0].Raw)
}

func TestMapDuplicates(t *testing.T) {
	tests := []struct {
		name   string
		driver string
		raw    []string
		want   []Stat
	}{
		{
			name:   "unknown driver repeats a raw name",
			driver: "bnxt_en",
			raw:    []string{"rx_drops", "rx_drops", "rx_drops"},
			want: []Stat{
				{Raw: "rx_drops", Type: "rx_drops", Metric: Device, Name: "rx_drops", Queue: NoQueue},
				{Raw: "rx_drops", Type: "rx_drops_dup2", Metric: Device, Name: "rx_drops_dup2", Queue: NoQueue, Disambiguated: true},
				{Raw: "rx_drops", Type: "rx_drops_dup3", Metric: Device, Name: "rx_drops_dup3", Queue: NoQueue, Disambiguated: true},
			},
		},
		{
			name:   "suffix already taken by a real statistic",
			driver: "bnxt_en",
			raw:    []string{"x", "x_dup2", "x"},
			want: []Stat{
				{Raw: "x", Type: "x", Metric: Device, Name: "x", Queue: NoQueue},
				{Raw: "x_dup2", Type: "x_dup2", Metric: Device, Name: "x_dup2", Queue: NoQueue},
				{Raw: "x", Type: "x_dup3", Metric: Device, Name: "x_dup3", Queue: NoQueue, Disambiguated: true},
			},
		},
		{
			name:   "ENA repeats an allowance counter",
			driver: "ena",
			raw:    []string{"pps_allowance_exceeded", "pps_allowance_exceeded"},
			want: []Stat{
				{Raw: "pps_allowance_exceeded", Type: "pps_allowance_exceeded", Metric: PPSAllowanceExceeded, Name: "pps_allowance_exceeded", Queue: NoQueue},
				{Raw: "pps_allowance_exceeded", Type: "pps_allowance_exceeded_dup2", Metric: Device, Name: "pps_allowance_exceeded", Queue: NoQueue, Disambiguated: true},
			},
		},
		{
			name:   "two layouts of one driver map to the same queue series",
			driver: "virtio_net",
			raw:    []string{"rx0_kicks", "rx_queue_0_kicks"},
			want: []Stat{
				{Raw: "rx0_kicks", Type: "rx0_kicks", Metric: Queue, Name: "rx_kicks", Queue: 0},
				{Raw: "rx_queue_0_kicks", Type: "rx_queue_0_kicks", Metric: Queue, Name: "rx_kicks_dup2", Queue: 0, Disambiguated: true},
			},
		},
		{
			name:   "same name on different queues is not a duplicate",
			driver: "ena",
			raw:    []string{"queue_0_tx_cnt", "queue_1_tx_cnt"},
			want: []Stat{
				{Raw: "queue_0_tx_cnt", Type: "queue_0_tx_cnt", Metric: Queue, Name: "tx_cnt", Queue: 0},
				{Raw: "queue_1_tx_cnt", Type: "queue_1_tx_cnt", Metric: Queue, Name: "tx_cnt", Queue: 1},
			},
		},
		{
			name:   "allowance names outside ENA are ordinary statistics",
			driver: "virtio_net",
			raw:    []string{"pps_allowance_exceeded"},
			want:   []Stat{{Raw: "pps_allowance_exceeded", Type: "pps_allowance_exceeded", Metric: Device, Name: "pps_allowance_exceeded", Queue: NoQueue}},
		},
		{
			name:   "queue number too long stays device-level",
			driver: "ena",
			raw:    []string{"queue_12345678901234567890_tx_cnt"},
			want:   []Stat{{Raw: "queue_12345678901234567890_tx_cnt", Type: "queue_12345678901234567890_tx_cnt", Metric: Device, Name: "queue_12345678901234567890_tx_cnt", Queue: NoQueue}},
		},
		{
			name:   "empty name",
			driver: "veth",
			raw:    []string{"", ""},
			want: []Stat{
				{Raw: "", Type: "", Metric: Device, Name: "", Queue: NoQueue},
				{Raw: "", Type: "_dup2", Metric: Device, Name: "_dup2", Queue: NoQueue, Disambiguated: true},
			},
		},
		{
			name:   "vmxnet3 indented name before any marker is device-level",
			driver: "vmxnet3",
			raw:    []string{"  stray", "Rx Queue#", "  LRO pkts rx", "tx timeout count", "  late"},
			want: []Stat{
				{Raw: "  stray", Type: "stray", Metric: Device, Name: "stray", Queue: NoQueue},
				{Raw: "Rx Queue#", Type: "Rx Queue#", Metric: Identifier, Name: "rx_queue", Queue: NoQueue},
				{Raw: "  LRO pkts rx", Type: "LRO pkts rx", Metric: Queue, Name: "lro_pkts_rx", Queue: 0},
				{Raw: "tx timeout count", Type: "tx timeout count", Metric: Device, Name: "tx_timeout_count", Queue: NoQueue},
				{Raw: "  late", Type: "late", Metric: Device, Name: "late", Queue: NoQueue},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Map(tt.driver, tt.raw)
			assert.Equal(t, tt.want, got)
			assertNoDuplicateSeries(t, got)
		})
	}
}

func FuzzMap(f *testing.F) {
	f.Add("ena", "queue_0_tx_cnt\npps_allowance_exceeded\npps_allowance_exceeded")
	f.Add("vmxnet3", "Tx Queue#\n  giant hdr\n  giant hdr\ntx timeout count")
	f.Add("virtio_net", "rx0_kicks\nrx_queue_0_kicks\nrx_kicks_dup2")
	f.Fuzz(func(t *testing.T, driver, joined string) {
		assertNoDuplicateSeries(t, Map(driver, strings.Split(joined, "\n")))
	})
}
