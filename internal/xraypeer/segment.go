// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package xraypeer

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/otelcol-sre/otelcol-sre/internal/embedschema"
)

// MaxDocumentBytes is X-Ray's limit on one segment document.
const MaxDocumentBytes = 64 * 1024

//go:embed segment.schema.json
var segmentSchemaJSON string

var segmentSchema = embedschema.MustCompile("segment.schema.json", segmentSchemaJSON)

// ValidateSegment checks one document against X-Ray's segment document format: the JSON Schema in
// segment.schema.json (required name, 16-hex-digit id, trace_id 1-<8 hex>-<24 hex>, start_time, end_time or
// in_progress, annotation keys and value types, nested subsegments) plus what a schema cannot say: no end
// before its start, anywhere in the tree, and X-Ray's 64 KB document limit. It returns the decoded document
// (also when invalid, as far as it decoded).
func ValidateSegment(doc string) (Segment, error) {
	var seg Segment
	_ = json.Unmarshal([]byte(doc), &seg)
	if len(doc) > MaxDocumentBytes {
		return seg, fmt.Errorf("document is %d bytes, over X-Ray's %d byte limit", len(doc), MaxDocumentBytes)
	}
	if _, err := embedschema.Validate(segmentSchema, "segment schema", doc); err != nil {
		return seg, err
	}
	return seg, checkTimes(seg, "segment")
}

func checkTimes(s map[string]any, where string) error {
	var errs []error
	start, _ := s["start_time"].(float64)
	if end, ok := s["end_time"].(float64); ok && end < start {
		errs = append(errs, fmt.Errorf("%s %v: end_time %f before start_time %f", where, s["id"], end, start))
	}
	subs, _ := s["subsegments"].([]any)
	for i, sub := range subs {
		if m, ok := sub.(map[string]any); ok {
			errs = append(errs, checkTimes(m, fmt.Sprintf("%s.subsegments[%d]", where, i)))
		}
	}
	return errors.Join(errs...)
}
