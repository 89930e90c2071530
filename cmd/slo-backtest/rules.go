// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/slorules"
)

// runRules is the rules subcommand.
func runRules(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slo-backtest rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the slo processor's configuration (the keys under processors: slo:), a collector config holding it, a Sloth prometheus/v1 spec or OpenSLO documents")
	processor := fs.String("processor", "slo", "in a collector config, the id of the slo processor (slo, slo/checkout, ...)")
	opt := slorules.DefaultOptions()
	fs.StringVar(&opt.EventsMetric, "events-metric", opt.EventsMetric, "the name of slo.events where the rules run: slo_events (remote write as deploy/configs/amp.yaml sets it) or slo_events_total (Prometheus exporter)")
	by := fs.String("by", strings.Join(opt.By, ","), "comma-separated labels kept besides slo_name, slo_service and the group_by attributes")
	output := fs.String("o", "", "file to write (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		return errors.New("rules: --config is required")
	}
	opt.By = nil
	for _, l := range strings.Split(*by, ",") {
		if l = strings.TrimSpace(l); l != "" {
			opt.By = append(opt.By, l)
		}
	}
	cfg, err := loadSLOs(*config, *processor, stderr)
	if err != nil {
		return err
	}
	f, notes, err := slorules.Generate(cfg, opt)
	if err != nil {
		return err
	}
	b, err := slorules.Marshal(f, filepath.ToSlash(*config), notes)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	if *output == "" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(*output, b, 0o644)
}
