// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package sigv4verify is a local protocol peer for tests: it checks AWS Signature Version 4 on incoming HTTP
// requests the way an AWS endpoint (Amazon Managed Service for Prometheus, CloudWatch Logs) does, by
// recomputing the signature with the AWS SDK's own signer from static test credentials. It is not AWS and
// talks to nothing outside the process; Handler puts it in front of a real backend (e.g. Prometheus' remote
// write receiver on 127.0.0.1) so that only correctly signed requests reach it.
package sigv4verify

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	algorithm    = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	scopeDateFmt = "20060102"
	// DefaultMaxSkew is how far a request's X-Amz-Date may be from the verifier's clock; AWS allows 5 minutes.
	DefaultMaxSkew = 5 * time.Minute
)

// Reasons a request is rejected; errors returned by Verify wrap exactly one of them.
var (
	ErrMissingAuth       = errors.New("missing or malformed SigV4 Authorization header")
	ErrUnknownAccessKey  = errors.New("unknown access key")
	ErrWrongRegion       = errors.New("credential scope names the wrong region")
	ErrWrongService      = errors.New("credential scope names the wrong service")
	ErrSkew              = errors.New("request time too far from server time")
	ErrSignatureMismatch = errors.New("signature does not match (body or signed headers altered, or wrong secret)")
)

// Config names what the verifier accepts.
type Config struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string // e.g. us-east-1
	Service         string // e.g. aps, logs
	// MaxSkew defaults to DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the verifier's clock; defaults to time.Now.
	Now func() time.Time
}

// Verifier recomputes SigV4 signatures.
type Verifier struct {
	cfg    Config
	signer *v4.Signer
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	switch {
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return nil, errors.New("sigv4verify: AccessKeyID and SecretAccessKey must be set")
	case cfg.Region == "":
		return nil, errors.New("sigv4verify: Region must be set (e.g. us-east-1)")
	case cfg.Service == "":
		return nil, errors.New("sigv4verify: Service must be set (aps for AMP remote write, logs for CloudWatch Logs)")
	}
	if cfg.MaxSkew == 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, signer: v4.NewSigner()}, nil
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/aps/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, fmt.Errorf("%w: algorithm is not %s", ErrMissingAuth, algorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("%w: component %q has no '='", ErrMissingAuth, part)
		}
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return a, fmt.Errorf("%w: Credential %q is not AKID/date/region/service/aws4_request", ErrMissingAuth, fields["Credential"])
	}
	a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	if fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return a, fmt.Errorf("%w: SignedHeaders or Signature empty", ErrMissingAuth)
	}
	a.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	a.signature = fields["Signature"]
	return a, nil
}

// Verify checks r, whose body has already been read into body. The error wraps one of the Err* reasons.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if a.accessKey != v.cfg.AccessKeyID {
		return fmt.Errorf("%w: %q", ErrUnknownAccessKey, a.accessKey)
	}
	if a.region != v.cfg.Region {
		return fmt.Errorf("%w: got %q, this endpoint is %q", ErrWrongRegion, a.region, v.cfg.Region)
	}
	if a.service != v.cfg.Service {
		return fmt.Errorf("%w: got %q, this endpoint is %q", ErrWrongService, a.service, v.cfg.Service)
	}
	signedAt, err := time.Parse(amzDateFmt, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("%w: X-Amz-Date %q: %v", ErrMissingAuth, r.Header.Get("X-Amz-Date"), err)
	}
	if signedAt.Format(scopeDateFmt) != a.date {
		return fmt.Errorf("%w: scope date %s differs from X-Amz-Date %s", ErrSignatureMismatch, a.date, signedAt.Format(amzDateFmt))
	}
	if skew := v.cfg.Now().Sub(signedAt).Abs(); skew > v.cfg.MaxSkew {
		return fmt.Errorf("%w: signed at %s, %s away (max %s)", ErrSkew, signedAt.Format(time.RFC3339), skew.Round(time.Second), v.cfg.MaxSkew)
	}

	want, err := v.expectedAuthorization(r, a, body, signedAt)
	if err != nil {
		return err
	}
	got := r.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fmt.Errorf("%w: recomputed %q", ErrSignatureMismatch, want)
	}
	return nil
}

// expectedAuthorization signs a copy of r that carries only the headers the client said it signed, with the
// hash of the body as received, and returns the Authorization header the SDK's signer produces for it.
func (v *Verifier) expectedAuthorization(r *http.Request, a authorization, body []byte, signedAt time.Time) (string, error) {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	cp, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("%w: rebuilding request: %v", ErrMissingAuth, err)
	}
	cp.Host = r.Host
	for _, h := range a.signedHeaders {
		switch h {
		case "host", "x-amz-date":
			// host comes from cp.Host; the signer sets x-amz-date from signedAt.
		case "content-length":
			cp.ContentLength = int64(len(body))
		default:
			vals, ok := r.Header[http.CanonicalHeaderKey(h)]
			if !ok {
				return "", fmt.Errorf("%w: signed header %q not present", ErrSignatureMismatch, h)
			}
			cp.Header[http.CanonicalHeaderKey(h)] = vals
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: v.cfg.AccessKeyID, SecretAccessKey: v.cfg.SecretAccessKey}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != "" {
		creds.SessionToken = tok
	}
	if err := v.signer.SignHTTP(context.Background(), creds, cp, hex.EncodeToString(sum[:]), a.service, a.region, signedAt); err != nil {
		return "", fmt.Errorf("recomputing signature: %w", err)
	}
	return cp.Header.Get("Authorization"), nil
}
