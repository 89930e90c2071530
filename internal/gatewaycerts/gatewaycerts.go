// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package gatewaycerts creates what the gateway's TLS needs when cert-manager is not installed: a private
// CA and a server certificate signed by it for the gateway Service's DNS names, in the layout of a
// cert-manager Secret (ca.crt, tls.crt, tls.key, PEM). cmd/gateway-certs writes them to files; the TLS
// end-to-end test creates its certificates with it.
package gatewaycerts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ServiceDNSNames are the names agents and sidecars reach the gateway's stateless tier by: its Service
// otelcol-sre-gateway-lb in namespace otelcol-sre (deploy/kustomize/overlays/gateway/lb.yaml; the senders'
// GATEWAY_ENDPOINT names the first). deploy's tests hold the cert-manager Certificate to the same list.
var ServiceDNSNames = []string{
	"otelcol-sre-gateway-lb.otelcol-sre.svc.cluster.local",
	"otelcol-sre-gateway-lb.otelcol-sre.svc",
}

// Bundle is a CA and one server certificate it signed, PEM-encoded under the names a cert-manager
// Secret uses.
type Bundle struct {
	CACert     []byte // ca.crt
	ServerCert []byte // tls.crt
	ServerKey  []byte // tls.key (PKCS #8)
}

// Options of New.
type Options struct {
	// DNSNames the server certificate is valid for (at least one).
	DNSNames []string
	// Now is the start of validity (one minute earlier, for clock skew).
	Now time.Time
	// CAValidity and ServerValidity are how long each certificate is valid from Now.
	CAValidity, ServerValidity time.Duration
}

// New creates a CA (ECDSA P-256, self-signed, only for signing certificates, path length 0) and a server
// certificate for o.DNSNames signed by it (ECDSA P-256, server authentication only).
func New(o Options) (Bundle, error) {
	if len(o.DNSNames) == 0 {
		return Bundle{}, errors.New("no DNS names for the server certificate: name the gateway Service (e.g. otelcol-sre-gateway-lb.otelcol-sre.svc.cluster.local)")
	}
	if o.CAValidity <= 0 || o.ServerValidity <= 0 || o.ServerValidity > o.CAValidity {
		return Bundle{}, fmt.Errorf("validity: want 0 < server (%s) <= CA (%s)", o.ServerValidity, o.CAValidity)
	}
	notBefore := o.Now.Add(-time.Minute)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Bundle{}, fmt.Errorf("CA key: %w", err)
	}
	caTemplate := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "otelcol-sre gateway CA"},
		NotBefore:             notBefore,
		NotAfter:              o.Now.Add(o.CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, ca, err := sign(caTemplate, nil, caKey.Public(), caKey)
	if err != nil {
		return Bundle{}, fmt.Errorf("CA certificate: %w", err)
	}
	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Bundle{}, fmt.Errorf("server key: %w", err)
	}
	serverTemplate := &x509.Certificate{
		Subject:     pkix.Name{CommonName: o.DNSNames[0]},
		DNSNames:    o.DNSNames,
		NotBefore:   notBefore,
		NotAfter:    o.Now.Add(o.ServerValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	serverDER, _, err := sign(serverTemplate, ca, serverKey.Public(), caKey)
	if err != nil {
		return Bundle{}, fmt.Errorf("server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return Bundle{}, fmt.Errorf("server key: %w", err)
	}
	return Bundle{
		CACert:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		ServerCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverDER}),
		ServerKey:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// sign creates template with a random serial number, signed by parent's key (template itself when
// parent is nil), and returns it as DER and parsed.
func sign(template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	template.SerialNumber = serial
	if parent == nil {
		parent = template
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return der, cert, nil
}
