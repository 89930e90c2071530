// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package docs_test keeps docs/DESIGN.md's contract section equal to the names the code exports.
package docs_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/processor/sloprocessor"
)

// contractNames are the attribute and metric names other components, deploy/ and users rely on, as the
// code defines them.
var contractNames = []string{
	diagnosis.AttributeStatus, diagnosis.AttributeStuck, diagnosis.AttributeReason, diagnosis.AttributeContainer,
	diagnosis.AttributeMessage, diagnosis.AttributeSince, diagnosis.AttributeHint,
	diagnosis.MetricDiagnosis, diagnosis.MetricDiagnosisDuration,
	sloprocessor.MetricSLI, sloprocessor.MetricBurnRate, sloprocessor.MetricObjective,
	sloprocessor.MetricBudgetRemaining, sloprocessor.MetricEvents, sloprocessor.MetricCoverage,
	sloprocessor.MetricAlertState,
	sloprocessor.AttrName, sloprocessor.AttrService, sloprocessor.AttrWindow, sloprocessor.AttrSeverity,
	sloprocessor.AttrOutcome,
}

// contractName matches a diagnosis attribute or an SLO metric/attribute name written as code in markdown.
var contractName = regexp.MustCompile("`(k8s\\.pod\\.diagnosis(?:\\.[a-z_.]+)?|slo\\.[a-z_.]+)`")

// DESIGN.md documents every contract name the code defines, and no other.
func TestDesignDocumentsTheContractNames(t *testing.T) {
	b, err := os.ReadFile("DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range contractName.FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	for _, name := range contractNames {
		if !slices.Contains(documented, name) {
			t.Errorf("DESIGN.md does not document %s", name)
		}
	}
	for _, name := range documented {
		if !slices.Contains(contractNames, name) {
			t.Errorf("DESIGN.md names %s, which the code does not define (renamed or removed?)", name)
		}
	}
}
