// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Command imagebuild writes the otelcol-sre OCI image from static binaries, without a container engine
// or base image (`make image` runs it): an OCI layout directory <out>/oci, the same as an oci-archive
// <out>/otelcol-sre-<version>.oci.tar, and one CycloneDX SBOM per platform,
// <out>/otelcol-sre-<version>.<os>-<arch>.cdx.json. It prints the index digest and the size per platform.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/imagebuild"
)

type binaries []imagebuild.Platform

func (b *binaries) String() string { return fmt.Sprint(*b) }

func (b *binaries) Set(v string) error {
	plat, path, ok := strings.Cut(v, "=")
	goos, arch, ok2 := strings.Cut(plat, "/")
	if !ok || !ok2 || path == "" {
		return fmt.Errorf("-binary %q: want os/arch=path, e.g. linux/arm64=bin/linux_arm64/otelcol-sre", v)
	}
	*b = append(*b, imagebuild.Platform{OS: goos, Architecture: arch, Binary: path})
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	o := imagebuild.Options{
		Name:         "otelcol-sre",
		Description:  "otelcol-sre - OpenTelemetry Collector distribution for SREs on Kubernetes",
		Source:       "https://github.com/otelcol-sre/otelcol-sre",
		Licenses:     "Apache-2.0",
		ExposedPorts: []string{"4317/tcp", "4318/tcp", "8888/tcp", "13133/tcp"},
	}
	var bins binaries
	out := fs.String("out", "bin/image", "output directory")
	fs.StringVar(&o.Version, "version", "", "release (ocb's dist.version)")
	fs.StringVar(&o.Revision, "revision", "", "git revision the binaries were built from")
	epoch := fs.String("source-date-epoch", "", "Unix seconds every timestamp in the image gets (the commit time)")
	fs.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle for /"+imagebuild.CABundlePath)
	fs.StringVar(&o.ZoneInfo, "zoneinfo", "", "Go's lib/time/zoneinfo.zip (from `go env GOROOT`) for /"+imagebuild.ZoneInfoPath)
	caPkg := fs.String("ca-package", "", "Debian package=version the CA bundle comes from (for the SBOM)")
	fs.Var(&bins, "binary", "os/arch=path of a static binary; repeat per platform")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secs, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("-source-date-epoch %q: want Unix seconds (git log -1 --format=%%ct)", *epoch)
	}
	o.Created, o.Platforms = time.Unix(secs, 0).UTC(), bins
	var ca imagebuild.DebianPackage
	if *caPkg != "" {
		var ok bool
		if ca.Name, ca.Version, ok = strings.Cut(*caPkg, "="); !ok || ca.Version == "" {
			return fmt.Errorf("-ca-package %q: want name=version", *caPkg)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	res, err := imagebuild.Write(filepath.Join(*out, "oci"), o)
	if err != nil {
		return err
	}
	base := filepath.Join(*out, o.Name+"-"+o.Version)
	if err := imagebuild.Archive(filepath.Join(*out, "oci"), base+".oci.tar", o.Created); err != nil {
		return err
	}
	fmt.Printf("%s:%s index %s\n", filepath.Join(*out, "oci"), o.Version, res.Index.Digest)
	for _, pm := range res.Manifests {
		bom, err := imagebuild.SBOM(o, pm.Platform, ca)
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(bom, "", "  ")
		if err != nil {
			return err
		}
		sbom := fmt.Sprintf("%s.%s-%s.cdx.json", base, pm.Platform.OS, pm.Platform.Architecture)
		if err := os.WriteFile(sbom, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Printf("  %s manifest %s, %.1f MiB compressed; SBOM %s\n", pm.Platform, pm.Manifest.Digest, float64(pm.Size)/(1<<20), sbom)
	}
	return nil
}
