// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package ethtoolreceiver

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// selection is the compiled interface and statistic selection of a Config.
type selection struct {
	ifInclude, ifExclude     []*regexp.Regexp
	statInclude, statExclude []*regexp.Regexp
	drivers                  []string
	loopback, virtual        bool
}

func newSelection(cfg *Config) (*selection, error) {
	s := &selection{drivers: cfg.Interfaces.Drivers, loopback: cfg.Interfaces.IncludeLoopback, virtual: cfg.Interfaces.IncludeVirtual}
	var errs [4]error
	s.ifInclude, errs[0] = compilePatterns("interfaces.include", cfg.Interfaces.Include)
	s.ifExclude, errs[1] = compilePatterns("interfaces.exclude", cfg.Interfaces.Exclude)
	s.statInclude, errs[2] = compilePatterns("statistics.include", cfg.Statistics.Include)
	s.statExclude, errs[3] = compilePatterns("statistics.exclude", cfg.Statistics.Exclude)
	return s, errors.Join(errs[:]...)
}

// link reports whether an interface is read, from what is known before any
// ethtool call: its name and whether it is a loopback or a virtual device.
func (s *selection) link(name string, loopback, virtual bool) bool {
	if (loopback && !s.loopback) || (virtual && !s.virtual) {
		return false
	}
	return selected(name, s.ifInclude, s.ifExclude)
}

// driver reports whether interfaces of the driver are read.
func (s *selection) driver(driver string) bool {
	return len(s.drivers) == 0 || slices.Contains(s.drivers, driver)
}

// statistic reports whether a statistic (by its raw name) is reported.
func (s *selection) statistic(raw string) bool {
	return selected(raw, s.statInclude, s.statExclude)
}

func selected(name string, include, exclude []*regexp.Regexp) bool {
	for _, re := range exclude {
		if re.MatchString(name) {
			return false
		}
	}
	if len(include) == 0 {
		return true
	}
	for _, re := range include {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// compilePatterns compiles RE2 patterns anchored to match whole names.
func compilePatterns(field string, patterns []string) ([]*regexp.Regexp, error) {
	res := make([]*regexp.Regexp, 0, len(patterns))
	var errs []error
	for i, p := range patterns {
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not an RE2 regular expression (%w); the pattern must match the whole name, e.g. eth.* or queue_[0-9]+_rx_cnt", field, i, p, err))
			continue
		}
		res = append(res, re)
	}
	return res, errors.Join(errs...)
}
