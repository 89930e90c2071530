// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package k8spoddiagnosticsprocessor

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/podcache"
)

type signalKind int

const (
	signalMetrics signalKind = iota
	signalLogs
	signalTraces
)

var signalNames = [...]string{signalMetrics: "metrics", signalLogs: "logs", signalTraces: "traces"}

var outcomeNames = [...]string{outcomeAnnotated: "annotated", outcomeUnmatched: "unmatched", outcomeUnidentified: "unidentified", outcomeNotStarted: "not_started"}

// signalProcessor annotates the resources of one signal with the attributes
// selected for it.
type signalProcessor struct {
	pd *podDiagnostics
	// selected holds, per attribute key, whether this signal carries it.
	status, stuck, reason, container, message, since, hint bool
	// count is the number of selected attributes.
	count int
	// outcomeOpts are the precomputed telemetry attribute sets per outcome.
	outcomeOpts [outcomeCount]metric.AddOption
}

func newSignalProcessor(pd *podDiagnostics, kind signalKind) *signalProcessor {
	names := map[signalKind][]string{
		signalMetrics: pd.cfg.Attributes.Metrics,
		signalLogs:    pd.cfg.Attributes.Logs,
		signalTraces:  pd.cfg.Attributes.Traces,
	}[kind]
	sp := &signalProcessor{pd: pd, count: len(names)}
	for _, n := range names {
		switch attributeNames[n] {
		case diagnosis.AttributeStatus:
			sp.status = true
		case diagnosis.AttributeStuck:
			sp.stuck = true
		case diagnosis.AttributeReason:
			sp.reason = true
		case diagnosis.AttributeContainer:
			sp.container = true
		case diagnosis.AttributeMessage:
			sp.message = true
		case diagnosis.AttributeSince:
			sp.since = true
		case diagnosis.AttributeHint:
			sp.hint = true
		}
	}
	for o := range outcomeCount {
		sp.outcomeOpts[o] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("otelcol.signal", signalNames[kind]),
			attribute.String("outcome", outcomeNames[o]),
		))
	}
	return sp
}

// batch counts outcomes over one batch so that telemetry is recorded once per
// batch, not once per resource.
type batch struct {
	sp     *signalProcessor
	cache  *podcache.Cache
	counts [outcomeCount]int64
}

func (sp *signalProcessor) newBatch() batch {
	return batch{sp: sp, cache: sp.pd.cache.Load()}
}

func (b *batch) annotate(ctx context.Context, attrs pcommon.Map) {
	if b.cache == nil {
		// Not started yet: pass through, counted as such (not as unmatched:
		// no cache was asked).
		b.counts[outcomeNotStarted]++
		return
	}
	r, o := b.sp.pd.lookup(ctx, b.cache, attrs)
	b.counts[o]++
	if r != nil {
		b.sp.apply(attrs, r)
	}
}

func (b *batch) record(ctx context.Context) {
	for o, n := range b.counts {
		if n > 0 {
			b.sp.pd.tb.K8sPodDiagnosticsResources.Add(ctx, n, b.sp.outcomeOpts[o])
		}
	}
}

// apply writes the selected attributes. Empty values are removed rather than
// written, so that a stale diagnosis set upstream (an agent in front of a
// gateway) never survives next to a fresh one.
func (sp *signalProcessor) apply(m pcommon.Map, r *podcache.Result) {
	m.EnsureCapacity(m.Len() + sp.count)
	if sp.status {
		m.PutStr(diagnosis.AttributeStatus, r.Status)
	}
	if sp.stuck {
		m.PutBool(diagnosis.AttributeStuck, r.Stuck)
	}
	if sp.reason {
		putOrRemove(m, diagnosis.AttributeReason, r.Reason)
	}
	if sp.container {
		putOrRemove(m, diagnosis.AttributeContainer, r.Container)
	}
	if sp.message {
		putOrRemove(m, diagnosis.AttributeMessage, r.Message)
	}
	if sp.since {
		putOrRemove(m, diagnosis.AttributeSince, r.SinceRFC3339)
	}
	if sp.hint {
		putOrRemove(m, diagnosis.AttributeHint, r.Hint)
	}
}

func putOrRemove(m pcommon.Map, key, value string) {
	if value == "" {
		m.Remove(key)
		return
	}
	m.PutStr(key, value)
}

func (sp *signalProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if sp.count == 0 {
		// Nothing selected for this signal (the default for metrics): no
		// lookup, no counting, the data passes through untouched.
		return md, nil
	}
	b := sp.newBatch()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if diagnosisSeriesOnly(rms.At(i)) {
			continue
		}
		b.annotate(ctx, rms.At(i).Resource().Attributes())
	}
	b.record(ctx)
	return md, nil
}

// diagnosisSeriesOnly tells whether a resource carries nothing but the
// k8spoddiagnostics receiver's own series. They hold the diagnosis as data
// point attributes already; the resource attributes would only repeat it as
// a second set of labels. Such resources are left alone (and not counted).
func diagnosisSeriesOnly(rm pmetric.ResourceMetrics) bool {
	sms := rm.ScopeMetrics()
	found := false
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if n := ms.At(j).Name(); n != diagnosis.MetricDiagnosis && n != diagnosis.MetricDiagnosisDuration {
				return false
			}
			found = true
		}
	}
	return found
}

func (sp *signalProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	b := sp.newBatch()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		b.annotate(ctx, rls.At(i).Resource().Attributes())
	}
	b.record(ctx)
	return ld, nil
}

func (sp *signalProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	b := sp.newBatch()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		b.annotate(ctx, rss.At(i).Resource().Attributes())
	}
	b.record(ctx)
	return td, nil
}
