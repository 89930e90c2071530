// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package agentremotewriteexporter

import (
	"errors"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/prometheus/model/labels"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otelcol-sre/otelcol-sre/exporter/agentremotewriteexporter/internal/sentlog"
)

// labelSep separates names and values in a series key (a byte no valid UTF-8 label contains).
var labelSep = []byte{0xff}

// seriesKey identifies a series by its labels in sorted order (the order both the WAL and the queue
// manager's requests hold them in).
type seriesKey struct{ d *xxhash.Digest }

func newSeriesKey() seriesKey { return seriesKey{xxhash.New()} }

func (k seriesKey) reset() { k.d.Reset() }

func (k seriesKey) add(name, value []byte) {
	_, _ = k.d.Write(name)
	_, _ = k.d.Write(labelSep)
	_, _ = k.d.Write(value)
	_, _ = k.d.Write(labelSep)
}

func (k seriesKey) sum() uint64 { return k.d.Sum64() }

// keyOfLabels is the series key of a WAL series.
func keyOfLabels(k seriesKey, ls labels.Labels) uint64 {
	k.reset()
	ls.Range(func(l labels.Label) { k.add([]byte(l.Name), []byte(l.Value)) })
	return k.sum()
}

// Field numbers of Prometheus' remote-write 1.0 protobuf (prompb/types.proto, remote.proto).
const (
	fieldWriteRequestTimeseries = 1
	fieldTimeSeriesLabels       = 1
	fieldTimeSeriesSamples      = 2
	fieldTimeSeriesHistograms   = 4
	fieldLabelName              = 1
	fieldLabelValue             = 2
	fieldSampleTimestamp        = 2
	fieldHistogramTimestamp     = 15
)

var errWire = errors.New("malformed remote-write request")

// newestPerSeries reads a decompressed remote-write 1.0 request and appends, per series, its key and its
// newest sample or histogram timestamp. It walks the wire format instead of decoding the request: the relay
// does this for every request the queue manager sends.
func newestPerSeries(k seriesKey, req []byte, out []sentlog.Entry) ([]sentlog.Entry, error) {
	for len(req) > 0 {
		num, typ, n := protowire.ConsumeTag(req)
		if n < 0 {
			return out, errWire
		}
		req = req[n:]
		if num != fieldWriteRequestTimeseries || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, req); n < 0 {
				return out, errWire
			}
			req = req[n:]
			continue
		}
		ts, n := protowire.ConsumeBytes(req)
		if n < 0 {
			return out, errWire
		}
		req = req[n:]
		e, err := newestOfSeries(k, ts)
		if err != nil {
			return out, err
		}
		if e.T != math.MinInt64 {
			out = append(out, e)
		}
	}
	return out, nil
}

func newestOfSeries(k seriesKey, ts []byte) (sentlog.Entry, error) {
	k.reset()
	newest := int64(math.MinInt64)
	for len(ts) > 0 {
		num, typ, n := protowire.ConsumeTag(ts)
		if n < 0 {
			return sentlog.Entry{}, errWire
		}
		ts = ts[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, ts); n < 0 {
				return sentlog.Entry{}, errWire
			}
			ts = ts[n:]
			continue
		}
		msg, n := protowire.ConsumeBytes(ts)
		if n < 0 {
			return sentlog.Entry{}, errWire
		}
		ts = ts[n:]
		switch num {
		case fieldTimeSeriesLabels:
			name, value, err := labelOf(msg)
			if err != nil {
				return sentlog.Entry{}, err
			}
			k.add(name, value)
		case fieldTimeSeriesSamples:
			t, err := int64Field(msg, fieldSampleTimestamp)
			if err != nil {
				return sentlog.Entry{}, err
			}
			newest = max(newest, t)
		case fieldTimeSeriesHistograms:
			t, err := int64Field(msg, fieldHistogramTimestamp)
			if err != nil {
				return sentlog.Entry{}, err
			}
			newest = max(newest, t)
		}
	}
	return sentlog.Entry{Key: k.sum(), T: newest}, nil
}

func labelOf(msg []byte) (name, value []byte, _ error) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, nil, errWire
		}
		msg = msg[n:]
		if typ == protowire.BytesType && (num == fieldLabelName || num == fieldLabelValue) {
			b, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return nil, nil, errWire
			}
			msg = msg[n:]
			if num == fieldLabelName {
				name = b
			} else {
				value = b
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, msg); n < 0 {
			return nil, nil, errWire
		}
		msg = msg[n:]
	}
	return name, value, nil
}

// int64Field is the varint field num of msg (0 when absent, as protobuf defines it).
func int64Field(msg []byte, num protowire.Number) (int64, error) {
	var v int64
	for len(msg) > 0 {
		f, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return 0, errWire
		}
		msg = msg[n:]
		if f == num && typ == protowire.VarintType {
			x, n := protowire.ConsumeVarint(msg)
			if n < 0 {
				return 0, errWire
			}
			msg = msg[n:]
			v = int64(x)
			continue
		}
		if n = protowire.ConsumeFieldValue(f, typ, msg); n < 0 {
			return 0, errWire
		}
		msg = msg[n:]
	}
	return v, nil
}
