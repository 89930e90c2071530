// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package podincidentexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Failure classes of a delivery attempt (the class attribute of
// notifications_failed).
const (
	classThrottled   = "throttled"
	classServerError = "server_error"
	classRejected    = "rejected"
	classNetwork     = "network"
	classQueueFull   = "queue_full"
	classRender      = "render"
)

// deliveryError is a failed attempt and its class.
type deliveryError struct {
	class string
	err   error
}

func (e *deliveryError) Error() string { return e.err.Error() }
func (e *deliveryError) Unwrap() error { return e.err }

// classOf returns the class of err from post.
func classOf(err error) string {
	if de, ok := errors.AsType[*deliveryError](err); ok {
		return de.class
	}
	return classNetwork
}

// defaultRetryAfter is the wait after a 429 without a usable Retry-After.
const defaultRetryAfter = time.Second

// post sends body and classifies the answer the way exporterhelper's retry
// sender understands: 429 waits Retry-After, 5xx and network errors retry,
// other 4xx are permanent.
func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return consumererror.NewPermanent(&deliveryError{classRejected, fmt.Errorf("building the request: %w", err)})
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return &deliveryError{classNetwork, err}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("HTTP %d: %q", resp.StatusCode, snippet)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return exporterhelper.NewThrottleRetry(&deliveryError{classThrottled, err}, retryAfter(resp.Header.Get("Retry-After")))
	case resp.StatusCode >= 500:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			return exporterhelper.NewThrottleRetry(&deliveryError{classServerError, err}, retryAfter(ra))
		}
		return &deliveryError{classServerError, err}
	default:
		return consumererror.NewPermanent(&deliveryError{classRejected, err})
	}
}

// retryAfter parses Retry-After (seconds or an HTTP date).
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return defaultRetryAfter
}
