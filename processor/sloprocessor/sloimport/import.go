// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package sloimport converts SLO specifications written for other tools into
// the slo processor's configuration: Sloth's prometheus/v1 spec and OpenSLO
// v1 SLO documents (ratio and threshold metrics from Prometheus queries).
// What the processor cannot express is refused with the reason; what
// converts with a change of meaning is listed in notes.
package sloimport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// Format is a specification format.
type Format string

// Formats Convert reads.
const (
	Sloth   Format = "sloth"
	OpenSLO Format = "openslo"
)

// Detect tells the format of a document, or "" when it is neither (the
// processor's own configuration).
func Detect(b []byte) Format {
	var head struct {
		Version    string `yaml:"version"`
		APIVersion string `yaml:"apiVersion"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for dec.Decode(&head) == nil {
		switch {
		case head.Version == "prometheus/v1":
			return Sloth
		case strings.HasPrefix(head.APIVersion, "openslo/"):
			return OpenSLO
		}
	}
	return ""
}

// Convert reads a document of format f into SLO configurations. Every SLO
// that cannot be expressed is an error naming it and why; notes say what
// converted with a difference.
func Convert(f Format, b []byte) (slos []sloprocessor.SLOConfig, notes []string, err error) {
	switch f {
	case Sloth:
		return convertSloth(b)
	case OpenSLO:
		return convertOpenSLO(b)
	}
	return nil, nil, fmt.Errorf("unknown format %q: want sloth or openslo", f)
}

// indicator builds an indicator from the events a good or a bad query counts
// and the total query. A good query over a histogram bucket (le) with the
// same histogram's count as total is a latency indicator.
func indicator(good, bad *counted, total counted) (sloprocessor.IndicatorConfig, []string, error) {
	if total.le != "" {
		return sloprocessor.IndicatorConfig{}, nil, errors.New("total: a bucket counts only the events under its bound, not all events")
	}
	if bad != nil {
		if bad.le != "" {
			return sloprocessor.IndicatorConfig{}, nil, errors.New("bad: events over a bucket bound cannot be read from a bucket; give the good events (le) instead")
		}
		return sloprocessor.IndicatorConfig{Ratio: &sloprocessor.RatioConfig{Total: total.sel, Bad: bad.sel}}, nil, nil
	}
	if good.le == "" {
		return sloprocessor.IndicatorConfig{Ratio: &sloprocessor.RatioConfig{Total: total.sel, Good: good.sel}}, nil, nil
	}
	if good.sel.Metric != total.sel.Metric || good.sel.Condition != total.sel.Condition || fmt.Sprint(good.sel.Attributes) != fmt.Sprint(total.sel.Attributes) {
		return sloprocessor.IndicatorConfig{}, nil, errors.New("good is a bucket of another histogram or other series than total: a latency SLO reads one histogram's bucket and count")
	}
	bound, err := strconv.ParseFloat(good.le, 64)
	if err != nil {
		return sloprocessor.IndicatorConfig{}, nil, fmt.Errorf("good: le=%q is not a number", good.le)
	}
	return latency(good.sel, bound)
}

// latency is a latency indicator on sel's histogram with a threshold in the
// unit its Prometheus name ends with.
func latency(sel *sloprocessor.MetricSelector, bound float64) (sloprocessor.IndicatorConfig, []string, error) {
	units := []struct {
		suffix, unit string
		d            time.Duration
	}{{"_seconds", "s", time.Second}, {"_milliseconds", "ms", time.Millisecond}, {"_microseconds", "us", time.Microsecond}}
	for _, u := range units {
		if strings.HasSuffix(sel.Metric, u.suffix) {
			return sloprocessor.IndicatorConfig{Latency: &sloprocessor.LatencyConfig{
				MetricSelector: *sel, Threshold: time.Duration(bound * float64(u.d)), Unit: u.unit,
			}}, nil, nil
		}
	}
	return sloprocessor.IndicatorConfig{}, nil, fmt.Errorf("%s: the unit of the bound %v cannot be told from the name (want a _seconds, _milliseconds or _microseconds histogram)", sel.Metric, bound)
}

// sloErrors prefixes the errors of SLO i.
func sloError(i int, name string, err error) error {
	return fmt.Errorf("slos[%d] (%s): %w", i, name, err)
}

// decodeAll reads every YAML document of b.
func decodeAll[T any](b []byte) ([]T, error) {
	var out []T
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}
