// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// walSeries is a WAL series and its key.
type walSeries struct {
	labels labels.Labels
	key    uint64
}

// walPoint is one float sample or native histogram of the WAL.
type walPoint struct {
	t  int64
	v  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

// walReader reads the agent WAL — the last checkpoint, then every segment after it — and, on each read,
// what was appended since the previous one. Unlike Prometheus' wlog.Watcher it hands on every sample,
// whatever its timestamp.
type walReader struct {
	dir     string // <wal.directory>/wal
	logger  *slog.Logger
	metrics *wlog.LiveReaderMetrics

	started bool
	seg     int
	f       *wlog.Segment
	r       *wlog.LiveReader

	series map[chunks.HeadSeriesRef]walSeries
	dec    record.Decoder
	key    seriesKey

	refSeries []record.RefSeries
	samples   []record.RefSample
	hs        []record.RefHistogramSample
	fhs       []record.RefFloatHistogramSample
}

func newWALReader(dir string, logger *slog.Logger) *walReader {
	return &walReader{dir: dir, logger: logger, metrics: wlog.NewLiveReaderMetrics(nil),
		series: map[chunks.HeadSeriesRef]walSeries{}, dec: record.NewDecoder(labels.NewSymbolTable(), logger), key: newSeriesKey()}
}

func (w *walReader) close() {
	if w.f != nil {
		_ = w.f.Close()
		w.f, w.r = nil, nil
	}
}

// read calls fn for every sample and histogram from the current position to the WAL's end.
func (w *walReader) read(fn func(walSeries, walPoint)) error {
	if !w.started {
		if err := w.fromCheckpoint(fn); err != nil {
			return err
		}
		w.started = true
	}
	for {
		first, last, err := wlog.Segments(w.dir)
		if err != nil {
			return fmt.Errorf("listing WAL segments: %w", err)
		}
		if w.r == nil {
			if w.seg < first {
				// The WAL was truncated past our position: its samples are in the new checkpoint.
				w.logger.Info("WAL truncated ahead of the replay; reading its checkpoint again", "segment", w.seg, "first", first)
				w.started = false
				return w.read(fn)
			}
			if w.seg > last {
				return nil
			}
			f, err := wlog.OpenReadSegment(wlog.SegmentName(w.dir, w.seg))
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue // truncated between the listing and the open
				}
				return err
			}
			w.f, w.r = f, wlog.NewLiveReader(w.logger, w.metrics, f)
		}
		if err := w.records(w.r, fn); err != nil {
			return fmt.Errorf("reading WAL segment %d: %w", w.seg, err)
		}
		if w.seg >= last {
			return nil // the segment being written: keep the position
		}
		// A newer segment exists, so this one is complete: read what was written before the switch, move on.
		if err := w.records(w.r, fn); err != nil {
			return fmt.Errorf("reading WAL segment %d: %w", w.seg, err)
		}
		w.close()
		w.seg++
	}
}

// fromCheckpoint reads the last checkpoint (series and the samples it kept) and positions the reader on
// the first segment after it.
func (w *walReader) fromCheckpoint(fn func(walSeries, walPoint)) error {
	w.close()
	first, _, err := wlog.Segments(w.dir)
	if err != nil {
		return fmt.Errorf("listing WAL segments: %w", err)
	}
	w.seg = max(first, 0)
	dir, index, err := wlog.LastCheckpoint(w.dir)
	if errors.Is(err, record.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding the WAL checkpoint: %w", err)
	}
	sr, err := wlog.NewSegmentsReader(dir)
	if err != nil {
		return fmt.Errorf("opening WAL checkpoint %s: %w", dir, err)
	}
	defer sr.Close()
	if err := w.records(wlog.NewReader(sr), fn); err != nil {
		return fmt.Errorf("reading WAL checkpoint %s: %w", dir, err)
	}
	w.seg = max(w.seg, index+1)
	return nil
}

// reader is what wlog.Reader and wlog.LiveReader offer.
type reader interface {
	Next() bool
	Record() []byte
	Err() error
}

func (w *walReader) records(r reader, fn func(walSeries, walPoint)) error {
	for r.Next() {
		rec := r.Record()
		var err error
		switch w.dec.Type(rec) {
		case record.Series:
			w.refSeries, err = w.dec.Series(rec, w.refSeries[:0])
			for _, s := range w.refSeries {
				ls := s.Labels.Copy()
				w.series[s.Ref] = walSeries{labels: ls, key: keyOfLabels(w.key, ls)}
			}
		case record.Samples, record.SamplesV2:
			w.samples, err = w.dec.Samples(rec, w.samples[:0])
			for _, s := range w.samples {
				if ws, ok := w.series[s.Ref]; ok {
					fn(ws, walPoint{t: s.T, v: s.V})
				}
			}
		case record.HistogramSamples, record.CustomBucketsHistogramSamples, record.HistogramSamplesV2:
			w.hs, err = w.dec.HistogramSamples(rec, w.hs[:0])
			for _, h := range w.hs {
				if ws, ok := w.series[h.Ref]; ok {
					fn(ws, walPoint{t: h.T, h: h.H})
				}
			}
		case record.FloatHistogramSamples, record.CustomBucketsFloatHistogramSamples, record.FloatHistogramSamplesV2:
			w.fhs, err = w.dec.FloatHistogramSamples(rec, w.fhs[:0])
			for _, h := range w.fhs {
				if ws, ok := w.series[h.Ref]; ok {
					fn(ws, walPoint{t: h.T, fh: h.FH})
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
