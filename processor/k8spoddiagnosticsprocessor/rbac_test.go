// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// TestShippedClusterRoleIsMinimal: the ClusterRole we ship grants read access
// to pods and events and nothing else. (That it suffices is proven against a
// real API server by the integration tests.)
func TestShippedClusterRoleIsMinimal(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "rbac.yaml"))
	require.NoError(t, err)
	defer f.Close()
	var role rbacv1.ClusterRole
	require.NoError(t, yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&role))
	assert.Equal(t, "ClusterRole", role.Kind)
	assert.Equal(t, []rbacv1.PolicyRule{{
		APIGroups: []string{""},
		Resources: []string{"pods", "events"},
		Verbs:     []string{"get", "list", "watch"},
	}}, role.Rules)
}
