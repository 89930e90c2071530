// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"cmp"
	"errors"
	"slices"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
)

// appendResult counts what one translated request became in the WAL.
type appendResult struct {
	appended   int // float and histogram samples
	outOfOrder int // older than, or as old as, the series' last sample
	invalid    int // rejected for their labels or histogram shape
	firstErr   error
	// late: the appended points timestamped at or before lateUpTo, per series in order.
	late []prompb.TimeSeries
}

// appendSeries appends the translation's series (samples, then native histograms, then exemplars) to app,
// each series' points in timestamp order. It never stops at a refused sample: the rest of the request is
// appended and the refusals counted. Appended points timestamped at or before lateUpTo are also returned.
func appendSeries(app storage.Appender, series map[string]*prompb.TimeSeries, lateUpTo int64) appendResult {
	var res appendResult
	var b labels.ScratchBuilder
	// The translation keys series "0".."n-1"; appending in that order keeps runs reproducible.
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return cmp.Compare(x, y)
	})
	for _, k := range keys {
		ts := series[k]
		lbls := ts.ToLabels(&b, nil)
		var ref storage.SeriesRef
		var late prompb.TimeSeries
		slices.SortFunc(ts.Samples, func(a, b prompb.Sample) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
		for _, s := range ts.Samples {
			r, err := app.Append(ref, lbls, s.Timestamp, s.Value)
			res.count(err)
			if err == nil {
				ref = r
				if s.Timestamp <= lateUpTo {
					late.Samples = append(late.Samples, s)
				}
			}
		}
		slices.SortFunc(ts.Histograms, func(a, b prompb.Histogram) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
		for _, h := range ts.Histograms {
			var r storage.SeriesRef
			var err error
			if h.IsFloatHistogram() {
				r, err = app.AppendHistogram(ref, lbls, h.Timestamp, nil, h.ToFloatHistogram())
			} else {
				r, err = app.AppendHistogram(ref, lbls, h.Timestamp, h.ToIntHistogram(), nil)
			}
			res.count(err)
			if err == nil {
				ref = r
				if h.Timestamp <= lateUpTo {
					late.Histograms = append(late.Histograms, h)
				}
			}
		}
		if len(late.Samples)+len(late.Histograms) > 0 {
			late.Labels = prompb.FromLabels(lbls, nil) // sorted, as the WAL holds them
			res.late = append(res.late, late)
		}
		if ref == 0 {
			continue // exemplars need a series the WAL accepted
		}
		for _, ex := range ts.Exemplars {
			// Duplicates and out-of-order exemplars are refused by the WAL; exemplars are best effort.
			_, _ = app.AppendExemplar(ref, lbls, ex.ToExemplar(&b, nil))
		}
	}
	return res
}

func (r *appendResult) count(err error) {
	switch {
	case err == nil:
		r.appended++
		return
	case errors.Is(err, storage.ErrOutOfOrderSample), errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		r.outOfOrder++
	default:
		r.invalid++
	}
	if r.firstErr == nil {
		r.firstErr = err
	}
}
