// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package diagnosis

import "unsafe"

type mapInterner map[string]string

func (m mapInterner) Intern(s string) string {
	if v, ok := m[s]; ok {
		return v
	}
	m[s] = s
	return s
}

func unsafeStringData(s string) *byte { return unsafe.StringData(s) }
