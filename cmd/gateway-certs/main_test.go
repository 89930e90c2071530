// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritesTheSecretsFilesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := run([]string{"-out", dir}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := tls.X509KeyPair(read("tls.crt"), read("tls.key")); err != nil {
		t.Fatalf("tls.crt/tls.key: %v", err)
	}
	if !strings.HasPrefix(string(read("ca.crt")), "-----BEGIN CERTIFICATE-----") {
		t.Fatal("ca.crt is not a PEM certificate")
	}
	if fi, err := os.Stat(filepath.Join(dir, "tls.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tls.key mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if err := run([]string{"-out", dir}); err == nil || !strings.Contains(err.Error(), "remove the old files") {
		t.Fatalf("second run into the same directory: %v, want a refusal to overwrite", err)
	}
	if err := run(nil); err == nil || !strings.Contains(err.Error(), "-out") {
		t.Fatalf("without -out: %v", err)
	}
}
