// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGenerateNamePrefix(t *testing.T) {
	tests := []struct{ name, testName, want string }{
		{name: "plain", testName: "TestFoo", want: "testfoo-"},
		{name: "subtest with punctuation", testName: "TestFoo/bar_baz#01", want: "testfoo-bar-baz-01-"},
		{name: "runs of separators collapse", testName: "Test__A//B", want: "test-a-b-"},
		{name: "long names are cut to a label", testName: "TestAVeryLongTestNameThatGoesOnAndOn/with_a_subtest_too", want: "testaverylongtestnamethatgoesonandon-wit-"},
		{name: "no usable characters", testName: "_/_", want: "test-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, generateNamePrefix(tt.testName))
		})
	}
}
