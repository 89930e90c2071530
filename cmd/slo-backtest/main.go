// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Command slo-backtest runs the slo processor's engine over recorded metrics
// so an SLO can be tried on last week's data before it is deployed.
//
//	slo-backtest --config slo.yaml --input metrics.jsonl [--at RFC3339,...] [-o json|table]
//
// --config holds the processor's own configuration (the keys under
// processors: slo:); --input is OTLP JSON lines as the file exporter writes
// them. Without --at it evaluates every evaluation_interval across the data.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "slo-backtest:", err)
		os.Exit(2)
	}
}

// options are the parsed command line.
type options struct {
	config, input, output string
	at                    []time.Time
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var at string
	fs := flag.NewFlagSet("slo-backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "YAML file with the slo processor's configuration (the keys under processors: slo:)")
	fs.StringVar(&o.input, "input", "", "OTLP JSON lines, as the file exporter writes them")
	fs.StringVar(&at, "at", "", "comma-separated RFC 3339 times to evaluate at (default: every evaluation_interval across the data)")
	fs.StringVar(&o.output, "o", "table", "output format: json (one object per data point and line) or table")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.config == "" || o.input == "" {
		return o, errors.New("--config and --input are required")
	}
	if o.output != "json" && o.output != "table" {
		return o, fmt.Errorf("-o: want json or table, got %q", o.output)
	}
	for _, s := range strings.Split(at, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return o, fmt.Errorf("--at: %q is not an RFC 3339 time like 2026-03-10T12:00:00Z", s)
		}
		o.at = append(o.at, t)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "rules":
			return runRules(args[1:], stdout, stderr)
		case "convert":
			return runConvert(args[1:], stdout, stderr)
		}
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadSLOs(o.config, "slo", stderr)
	if err != nil {
		return err
	}
	batches, err := readInput(o.input)
	if err != nil {
		return err
	}
	results, summary, err := backtest(cfg, batches, o.at)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, summary)
	if o.output == "json" {
		return writeJSON(stdout, results)
	}
	return writeTable(stdout, results)
}
