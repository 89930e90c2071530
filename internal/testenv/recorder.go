// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testenv

import (
	"fmt"
	"testing"
)

// Recorder is a testing.TB that records how a helper ends a test (Skipf, Fatalf) instead of ending
// it, to test helpers built on Unavailable. Its other testing.TB methods are not implemented.
type Recorder struct {
	testing.TB
	SkipMessage, FatalMessage string
}

func (r *Recorder) Helper()                        {}
func (r *Recorder) Skipf(format string, a ...any)  { r.SkipMessage = fmt.Sprintf(format, a...) }
func (r *Recorder) Fatalf(format string, a ...any) { r.FatalMessage = fmt.Sprintf(format, a...) }
