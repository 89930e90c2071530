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

	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor/sloimport"
)

// loadSLOs reads the SLOs to work on: a Sloth prometheus/v1 spec or OpenSLO
// documents (converted; any SLO that does not convert is an error), or the
// slo processor's own configuration (see sloprocessor.LoadConfigFile).
func loadSLOs(path, processor string, stderr io.Writer) (*sloprocessor.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	format := sloimport.Detect(b)
	if format == "" {
		return sloprocessor.LoadConfigFile(path, processor)
	}
	slos, notes, err := sloimport.Convert(format, b)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", path, format, err)
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	cfg := sloprocessor.NewFactory().CreateDefaultConfig().(*sloprocessor.Config)
	cfg.SLOs = slos
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s (%s): %w", path, format, err)
	}
	return cfg, nil
}

// runConvert is the convert subcommand: it writes the slo processor's
// configuration for a Sloth or OpenSLO specification.
func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slo-backtest convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	input := fs.String("input", "", "a Sloth prometheus/v1 spec or OpenSLO v1 documents (SLO, SLI)")
	output := fs.String("o", "", "file to write (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *input == "" {
		return errors.New("convert: --input is required")
	}
	b, err := os.ReadFile(*input)
	if err != nil {
		return fmt.Errorf("reading the input: %w", err)
	}
	format := sloimport.Detect(b)
	if format == "" {
		return fmt.Errorf("%s: neither a Sloth spec (version: prometheus/v1) nor OpenSLO (apiVersion: openslo/v1)", *input)
	}
	// Write what converts, then fail on what does not.
	slos, notes, convErr := sloimport.Convert(format, b)
	for _, n := range notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	if len(slos) > 0 {
		out, err := sloimport.Marshal(slos, filepath.ToSlash(*input), notes)
		if err != nil {
			return err
		}
		if *output == "" {
			_, err = stdout.Write(out)
		} else {
			err = os.WriteFile(*output, out, 0o644)
		}
		if err != nil {
			return err
		}
	}
	if convErr != nil {
		return fmt.Errorf("%s (%s): not converted: %w", *input, format, convErr)
	}
	return nil
}
