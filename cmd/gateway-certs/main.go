// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Command gateway-certs creates the gateway's TLS certificates without cert-manager (deploy/README.md
// "Secure install"): a private CA and a server certificate it signed for the gateway Service's DNS names,
// written as <out>/ca.crt, <out>/tls.crt and <out>/tls.key (0600), the files of the Secret
// otelcol-sre-gateway-tls and of the ConfigMap otelcol-sre-gateway-ca. The CA's key is not kept: to renew,
// run it again and replace both.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/gatewaycerts"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gateway-certs:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gateway-certs", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write ca.crt, tls.crt and tls.key to (created; existing files are not overwritten)")
	names := fs.String("dns", strings.Join(gatewaycerts.ServiceDNSNames, ","), "comma-separated DNS names of the server certificate")
	validity := fs.Duration("validity", 365*24*time.Hour, "how long the CA and the server certificate are valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out: name the directory to write the certificates to")
	}
	b, err := gatewaycerts.New(gatewaycerts.Options{
		DNSNames: strings.Split(*names, ","), Now: time.Now(), CAValidity: *validity, ServerValidity: *validity,
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"ca.crt", b.CACert, 0o644}, {"tls.crt", b.ServerCert, 0o644}, {"tls.key", b.ServerKey, 0o600}} {
		path := filepath.Join(*out, f.name)
		file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return fmt.Errorf("%w (remove the old files to replace them)", err)
		}
		if _, err := file.Write(f.data); err != nil {
			file.Close()
			return err
		}
		if err := file.Close(); err != nil {
			return err
		}
		fmt.Println(path)
	}
	return nil
}
