// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// point is one output data point: the JSON output's object.
type point struct {
	Time       string            `json:"time"`
	Metric     string            `json:"metric"`
	Attributes map[string]string `json:"attributes"`
	Value      float64           `json:"value"`
}

// points flattens evaluations in a stable order: by time, metric, then
// attributes.
func points(evals []evaluation) []point {
	var out []point
	for _, ev := range evals {
		var batch []point
		rms := ev.md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					var dps pmetric.NumberDataPointSlice
					switch m.Type() {
					case pmetric.MetricTypeSum:
						dps = m.Sum().DataPoints()
					case pmetric.MetricTypeGauge:
						dps = m.Gauge().DataPoints()
					}
					for _, dp := range dps.All() {
						attrs := map[string]string{}
						for k, v := range dp.Attributes().All() {
							attrs[k] = v.AsString()
						}
						batch = append(batch, point{
							Time: ev.at.UTC().Format(time.RFC3339Nano), Metric: m.Name(),
							Attributes: attrs, Value: dp.DoubleValue(),
						})
					}
				}
			}
		}
		sort.SliceStable(batch, func(a, b int) bool {
			if batch[a].Metric != batch[b].Metric {
				return batch[a].Metric < batch[b].Metric
			}
			return attrString(batch[a].Attributes) < attrString(batch[b].Attributes)
		})
		out = append(out, batch...)
	}
	return out
}

func attrString(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + attrs[k])
	}
	return b.String()
}

func writeJSON(w io.Writer, evals []evaluation) error {
	enc := json.NewEncoder(w)
	for _, p := range points(evals) {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return nil
}

// tableColumns are the attributes shown in their own column; the others go
// to the last one.
var tableColumns = []string{sloprocessor.AttrName, sloprocessor.AttrWindow}

func writeTable(w io.Writer, evals []evaluation) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSLO\tMETRIC\tWINDOW\tVALUE\tOTHER ATTRIBUTES")
	for _, p := range points(evals) {
		rest := map[string]string{}
		for k, v := range p.Attributes {
			rest[k] = v
		}
		for _, k := range tableColumns {
			delete(rest, k)
		}
		window := p.Attributes[sloprocessor.AttrWindow]
		if window == "" {
			window = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Time, p.Attributes[sloprocessor.AttrName], p.Metric, window,
			strconv.FormatFloat(p.Value, 'g', 6, 64), attrString(rest))
	}
	return tw.Flush()
}
