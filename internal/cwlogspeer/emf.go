// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package cwlogspeer

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/otelcol-sre/otelcol-sre/internal/embedschema"
)

// MaxEventBytes is the CloudWatch Logs limit on one log event (message plus 26 bytes of overhead) that EMF
// events must fit.
const MaxEventBytes = 256 * 1024

// eventOverhead is what CloudWatch Logs adds to every event's size for its batch limits.
const eventOverhead = 26

//go:embed emf.schema.json
var emfSchemaJSON string

var emfSchema = embedschema.MustCompile("emf.schema.json", emfSchemaJSON)

// EMFMetadata is an EMF event's `_aws` member, for decoding events in tests.
type EMFMetadata struct {
	Timestamp         int64
	CloudWatchMetrics []struct {
		Namespace  string
		Dimensions [][]string
		Metrics    []struct{ Name, Unit string }
	}
}

// ValidateEMF checks one log event message against the CloudWatch Embedded Metric Format specification: the
// JSON Schema in emf.schema.json (structure, `_aws.Timestamp` in milliseconds, ≤ 30 keys per dimension set,
// ≤ 100 metrics per directive, known units) plus what a schema cannot say: every dimension key a directive
// references is a string member of the root, every metric name it references is a number or an array of at
// most 100 numbers there, and the event fits CloudWatch Logs' 256 KB event limit.
func ValidateEMF(message string) error {
	if n := len(message) + eventOverhead; n > MaxEventBytes {
		return fmt.Errorf("event is %d bytes with overhead, over the %d byte limit", n, MaxEventBytes)
	}
	inst, err := embedschema.Validate(emfSchema, "EMF schema", message)
	if err != nil {
		return err
	}
	var ev struct {
		AWS EMFMetadata `json:"_aws"`
	}
	if err := json.Unmarshal([]byte(message), &ev); err != nil {
		return fmt.Errorf("decoding directives: %w", err)
	}
	root := inst.(map[string]any)
	var errs []error
	for i, d := range ev.AWS.CloudWatchMetrics {
		for j, set := range d.Dimensions {
			for _, key := range set {
				if _, ok := root[key].(string); !ok {
					errs = append(errs, fmt.Errorf("CloudWatchMetrics[%d].Dimensions[%d]: key %q is not a string member of the event (got %T)", i, j, key, root[key]))
				}
			}
		}
		for _, m := range d.Metrics {
			if err := checkMetricValue(root[m.Name]); err != nil {
				errs = append(errs, fmt.Errorf("CloudWatchMetrics[%d]: metric %q: %w", i, m.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func checkMetricValue(v any) error {
	switch v := v.(type) {
	case json.Number:
		return nil
	case []any:
		if len(v) > 100 {
			return fmt.Errorf("array of %d values, at most 100 allowed", len(v))
		}
		for _, x := range v {
			if _, ok := x.(json.Number); !ok {
				return fmt.Errorf("array holds a %T, only numbers allowed", x)
			}
		}
		return nil
	case nil:
		return errors.New("referenced but not present in the event")
	default:
		return fmt.Errorf("value is a %T, want a number or an array of numbers", v)
	}
}
