// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChildEnvDropsProxies(t *testing.T) {
	got := childEnv([]string{"HOME=/root", "HTTPS_PROXY=http://proxy:3128", "http_proxy=x", "NO_PROXY=.corp", "GRPC_PROXY=y", "PATH=/bin"})
	assert.Equal(t, []string{"HOME=/root", "PATH=/bin"}, got)
}
