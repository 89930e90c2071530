// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package sloimport

import (
	"errors"
	"fmt"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// slothSpec is Sloth's prometheus/v1 service spec (the fields that convert
// or are refused).
type slothSpec struct {
	Version string            `yaml:"version"`
	Service string            `yaml:"service"`
	Labels  map[string]string `yaml:"labels"`
	SLOs    []struct {
		Name        string            `yaml:"name"`
		Description string            `yaml:"description"`
		Objective   float64           `yaml:"objective"`
		Labels      map[string]string `yaml:"labels"`
		SLI         struct {
			Events *struct {
				ErrorQuery string `yaml:"error_query"`
				TotalQuery string `yaml:"total_query"`
			} `yaml:"events"`
			Raw *struct {
				ErrorRatioQuery string `yaml:"error_ratio_query"`
			} `yaml:"raw"`
			Plugin *struct {
				ID string `yaml:"id"`
			} `yaml:"plugin"`
		} `yaml:"sli"`
		Alerting struct {
			Name string `yaml:"name"`
		} `yaml:"alerting"`
	} `yaml:"slos"`
}

func convertSloth(b []byte) ([]sloprocessor.SLOConfig, []string, error) {
	specs, err := decodeAll[slothSpec](b)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the Sloth spec: %w", err)
	}
	var out []sloprocessor.SLOConfig
	var notes []string
	var errs []error
	for _, spec := range specs {
		if spec.Version != "prometheus/v1" {
			errs = append(errs, fmt.Errorf("version %q: only Sloth's prometheus/v1 spec converts (Kubernetes PrometheusServiceLevel: use its spec)", spec.Version))
			continue
		}
		if len(spec.Labels) > 0 {
			notes = append(notes, fmt.Sprintf("%s: labels %v are not converted (the processor's series carry slo.name and slo.service)", spec.Service, spec.Labels))
		}
		for i, s := range spec.SLOs {
			slo := sloprocessor.SLOConfig{
				Name: spec.Service + "-" + s.Name, Service: spec.Service, Description: s.Description,
				Objective:  sloprocessor.ObjectiveConfig{TargetPercent: s.Objective},
				TimeWindow: sloprocessor.TimeWindowConfig{Duration: "30d"}, // Sloth's default SLO period
			}
			switch {
			case s.SLI.Plugin != nil:
				errs = append(errs, sloError(i, s.Name, fmt.Errorf("sli.plugin %q: plugins write PromQL at generation time; there is no query to convert", s.SLI.Plugin.ID)))
				continue
			case s.SLI.Raw != nil:
				errs = append(errs, sloError(i, s.Name, errors.New("sli.raw.error_ratio_query: a ratio of rates has no event counts; give sli.events (error_query and total_query)")))
				continue
			case s.SLI.Events == nil:
				errs = append(errs, sloError(i, s.Name, errors.New("sli: events, raw or plugin required")))
				continue
			}
			bad, err := selectorOf(s.SLI.Events.ErrorQuery)
			if err != nil {
				errs = append(errs, sloError(i, s.Name, fmt.Errorf("sli.events.error_query: %w", err)))
				continue
			}
			total, err := selectorOf(s.SLI.Events.TotalQuery)
			if err != nil {
				errs = append(errs, sloError(i, s.Name, fmt.Errorf("sli.events.total_query: %w", err)))
				continue
			}
			ind, n, err := indicator(nil, &bad, total)
			if err != nil {
				errs = append(errs, sloError(i, s.Name, fmt.Errorf("sli.events: %w", err)))
				continue
			}
			slo.Indicator = ind
			notes = append(notes, n...)
			if len(s.Labels) > 0 || s.Alerting.Name != "" {
				notes = append(notes, fmt.Sprintf("%s: labels and alerting (names, labels, annotations) are not converted; the processor's alert rules are alerting.rules (the same SRE workbook windows as Sloth's defaults)", slo.Name))
			}
			out = append(out, slo)
		}
	}
	return out, notes, errors.Join(errs...)
}
