// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package incident

import (
	"strings"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

// family maps reasons the kubelet alternates between for one problem to one
// name, so a pod flipping ErrImagePull <-> ImagePullBackOff stays in one
// incident when incidents are grouped by reason.
func family(reason string) string {
	if reason == "ErrImagePull" {
		return "ImagePullBackOff"
	}
	return reason
}

// Severity ranks of reasons: an incident escalates when a pod with a higher
// rank joins it (only possible when reason is not a group_by dimension).
const (
	rankSlow     = 1 // scheduling, creating, initializing, not ready, terminating
	rankNoStart  = 2 // the container cannot start: image, config, runtime
	rankCrashing = 3 // the container starts and dies
	rankLost     = 4 // the pod is gone or failed for good
)

var reasonRanks = map[string]int{
	"ImagePullBackOff":                   rankNoStart,
	"InvalidImageName":                   rankNoStart,
	"ErrImageNeverPull":                  rankNoStart,
	"CreateContainerConfigError":         rankNoStart,
	"CreateContainerError":               rankNoStart,
	"RunContainerError":                  rankNoStart,
	"StartError":                         rankNoStart,
	"ContainerCannotRun":                 rankNoStart,
	diagnosis.ReasonCrashLoopBackOff:     rankCrashing,
	diagnosis.ReasonInitCrashLoopBackOff: rankCrashing,
	diagnosis.ReasonInitError:            rankCrashing,
	diagnosis.ReasonOOMKilled:            rankCrashing,
	"Error":                              rankCrashing,
	"Evicted":                            rankLost,
	"DeadlineExceeded":                   rankLost,
	"NodeLost":                           rankLost,
	diagnosis.ReasonNodeShutdown:         rankLost,
	diagnosis.ReasonFailed:               rankLost,
}

// rank is the severity of a (family) reason; unknown reasons and slow states
// rank lowest.
func rank(reason string) int {
	if r, ok := reasonRanks[reason]; ok {
		return r
	}
	if strings.HasPrefix(reason, "OutOf") {
		return rankLost
	}
	return rankSlow
}
