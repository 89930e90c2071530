// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Command gendeploy writes the files deploy/internal/gen derives (run by `go generate ./deploy`).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otelcol-sre/otelcol-sre/deploy/internal/gen"
)

func main() {
	deployDir := flag.String("deploy", ".", "the repository's deploy directory")
	flag.Parse()
	files, err := gen.All(*deployDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendeploy:", err)
		os.Exit(1)
	}
	stale, err := gen.StaleChartFiles(*deployDir, files)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendeploy:", err)
		os.Exit(1)
	}
	for _, f := range stale {
		if err := os.Remove(filepath.Join(*deployDir, f)); err != nil {
			fmt.Fprintln(os.Stderr, "gendeploy:", err)
			os.Exit(1)
		}
		fmt.Println("removed", filepath.Join(*deployDir, f))
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(*deployDir, f.Path)), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gendeploy:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(*deployDir, f.Path), f.Content, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendeploy:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", filepath.Join(*deployDir, f.Path))
	}
}
