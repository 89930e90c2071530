// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Package embedschema compiles JSON Schemas embedded in test peers (the EMF specification, X-Ray segment
// documents) and validates documents against them.
package embedschema

import (
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MustCompile compiles the schema text embedded as name; a broken embedded file is a build defect, so it
// panics.
func MustCompile(name, text string) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return c.MustCompile(name)
}

// Validate decodes doc as JSON (numbers as json.Number) and validates it against s, returning the decoded
// document. what names the format in the error ("EMF schema").
func Validate(s *jsonschema.Schema, what, doc string) (any, error) {
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(inst); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return inst, nil
}
