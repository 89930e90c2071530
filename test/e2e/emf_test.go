// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-sre/otelcol-sre/internal/cwlogspeer"
	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
)

const emfLogGroup = "/aws/otelcol-sre/e2e"

// cloudWatchPeerServer is the local CloudWatch Logs protocol peer, checking SigV4 for service logs.
func cloudWatchPeerServer(t *testing.T) *cwlogspeer.Server {
	t.Helper()
	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey,
		Region: "us-east-1", Service: "logs"})
	if err != nil {
		t.Fatal(err)
	}
	return cwlogspeer.New(v)
}

// cloudWatchPeer starts the local CloudWatch Logs protocol peer on a loopback port.
func cloudWatchPeer(t *testing.T) (*cwlogspeer.Server, string) {
	t.Helper()
	peer := cloudWatchPeerServer(t)
	srv := httptest.NewServer(peer)
	t.Cleanup(srv.Close)
	return peer, srv.URL
}

func emfEnv(endpoint, stream, output, maxRetries string) map[string]string {
	return map[string]string{"CWL_ENDPOINT": endpoint, "EMF_STREAM": stream, "EMF_OUTPUT": output, "EMF_MAX_RETRIES": maxRetries}
}

// emfTally counts, for one run, the EMF events carrying its e2e.seq values: distinct ticks and extra copies.
func emfTally(t *testing.T, messages []string, run string) (distinct, duplicates int) {
	return emfTallyMetric(t, messages, run, "e2e.seq")
}

// emfTallyMetric is emfTally for a sender whose ticks are the values of another metric.
func emfTallyMetric(t *testing.T, messages []string, run, metric string) (distinct, duplicates int) {
	t.Helper()
	seen := map[float64]int{}
	for _, m := range messages {
		var ev map[string]any
		if err := json.Unmarshal([]byte(m), &ev); err != nil {
			t.Fatalf("EMF event is not JSON: %v\n%s", err, m)
		}
		if ev["run"] != run {
			continue
		}
		v, ok := ev[metric].(float64)
		if !ok {
			t.Fatalf("event of run %s without a numeric %s: %s", run, metric, m)
		}
		seen[v]++
	}
	for _, n := range seen {
		distinct++
		duplicates += n - 1
	}
	return distinct, duplicates
}

func peerMessages(peer *cwlogspeer.Server, stream string) []string {
	var out []string
	for _, e := range peer.Events() {
		if e.Stream == stream {
			out = append(out, e.Message)
		}
	}
	return out
}

// checkEMFEvent asserts what the metric declaration promises about one event (awsemf sorts the keys of
// each dimension set).
func checkEMFEvent(t *testing.T, message string) {
	t.Helper()
	var ev struct {
		AWS         cwlogspeer.EMFMetadata `json:"_aws"`
		ServiceName string                 `json:"service.name"`
	}
	if err := json.Unmarshal([]byte(message), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("want one metric directive, got %s", message)
	}
	d := ev.AWS.CloudWatchMetrics[0]
	dims, _ := json.Marshal(d.Dimensions)
	if d.Namespace != "otelcol-sre/e2e" || string(dims) != `[["run","service.name"],["service.name"]]` ||
		len(d.Metrics) != 1 || d.Metrics[0].Name != "e2e.seq" || ev.ServiceName != "e2e" {
		t.Fatalf("event does not follow the metric declaration: %s", message)
	}
}

// TestEMFToCloudWatchLogsPeer: awsemf with its endpoint at the local CloudWatch Logs peer. The first
// PutLogEvents meets ResourceNotFoundException; the exporter must create the group and stream and deliver
// every event, each one valid EMF (JSON Schema of the specification) with the declared dimension sets, and
// every request correctly SigV4-signed for service logs.
func TestEMFToCloudWatchLogsPeer(t *testing.T) {
	peer, endpoint := cloudWatchPeer(t)
	proc, otlp := collector(t, "emf.yaml", emfEnv(endpoint, "emf-basic", "cloudwatch", "2"))
	s := newSeqSender(t, otlp, "emf-basic", 1)
	ctx := context.Background()
	const ticks = 50
	for range ticks {
		if err := s.sendNext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	msgs := peerMessages(peer, "emf-basic")
	distinct, dup := emfTally(t, msgs, "emf-basic")
	t.Logf("emf-basic: sent %d, received %d, lost %d, duplicated %d", ticks, distinct, ticks-distinct, dup)
	if distinct != ticks || dup != 0 {
		t.Errorf("received %d distinct events (%d duplicates), want %d\n%s", distinct, dup, ticks, proc.Output())
	}
	for _, inv := range peer.InvalidEMF() {
		t.Errorf("invalid EMF: %v\n%s", inv.Err, inv.Event.Message)
	}
	for _, m := range msgs {
		checkEMFEvent(t, m)
	}
	ops, _ := peer.Requests()
	if ops["CreateLogGroup"] != 1 || ops["CreateLogStream"] < 1 {
		t.Errorf("operations %v: want the ResourceNotFound flow to create the group once and the stream", ops)
	}
	for _, e := range peer.Events() {
		if e.Group != emfLogGroup || !e.EMF {
			t.Errorf("event in group %q with EMF header %v", e.Group, e.EMF)
		}
	}
}

// TestEMFStdout: `output_destination: stdout` prints one EMF event per line (what the CloudWatch agent or
// Fluent Bit would pick up); every line must be valid EMF and every tick must be there.
func TestEMFStdout(t *testing.T) {
	proc, otlp := collector(t, "emf.yaml", emfEnv("http://127.0.0.1:9", "unused", "stdout", "2"))
	s := newSeqSender(t, otlp, "emf-stdout", 1)
	const ticks = 20
	for range ticks {
		if err := s.sendNext(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The export returns once the line is written to the pipe; the test reads the pipe asynchronously.
	var msgs []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		msgs = msgs[:0]
		for _, line := range strings.Split(proc.Output(), "\n") {
			if strings.HasPrefix(line, "{") && strings.Contains(line, `"_aws"`) {
				msgs = append(msgs, line)
			}
		}
		if len(msgs) >= ticks || time.Now().After(deadline) {
			break
		}
	}
	for _, line := range msgs {
		if err := cwlogspeer.ValidateEMF(line); err != nil {
			t.Errorf("invalid EMF on stdout: %v\n%s", err, line)
		}
		checkEMFEvent(t, line)
	}
	distinct, dup := emfTally(t, msgs, "emf-stdout")
	t.Logf("emf-stdout: sent %d, received %d, lost %d, duplicated %d", ticks, distinct, ticks-distinct, dup)
	if distinct != ticks || dup != 0 {
		t.Errorf("stdout had %d distinct events (%d duplicates), want %d", distinct, dup, ticks)
	}
}

// TestEMFFaults5xxLosesNothingThrottlingLosesWithDefaultRetries: the CloudWatch Logs peer answers
// PutLogEvents with 5xx (ServiceUnavailableException) for 15 s, later with ThrottlingException for 15 s,
// while OTLP keeps arriving from a sender that retries what the collector refuses as retryable (as an
// upstream OTLP exporter does). awsemf has no sending queue and no retry_on_failure of its own: a failed
// PutLogEvents goes back to the sender, as Unavailable for 5xx (retried: nothing lost) and, for throttling, as
// a permanent error once the AWS SDK's attempts (max_retries) are used up within the 5 s export timeout: the
// sender drops those (lost). Two collectors see the same faults: max_retries 2 (awsemf's default) loses
// events to throttling; max_retries 20 keeps retrying until the timeout, which is a retryable error, and
// loses nothing.
func TestEMFFaults5xxLosesNothingThrottlingLosesWithDefaultRetries(t *testing.T) {
	t.Parallel() // mostly waiting: runs alongside the other long cases
	peer, endpoint := cloudWatchPeer(t)
	type setup struct {
		name, retries string
		otlp          string
		proc          interface{ Output() string }
	}
	setups := []*setup{{name: "default-retries", retries: "2"}, {name: "max-retries-20", retries: "20"}}
	for _, su := range setups {
		p, otlp := collector(t, "emf.yaml", emfEnv(endpoint, su.name, "cloudwatch", su.retries))
		su.otlp, su.proc = otlp, p
	}
	phases := []struct {
		name  string
		fault cwlogspeer.Fault
	}{{"5xx", cwlogspeer.Unavailable}, {"throttled", cwlogspeer.Throttling}}
	for _, ph := range phases {
		var senders []*seqSender
		for _, su := range setups {
			senders = append(senders, newSeqSender(t, su.otlp, su.name+"-"+ph.name, 1))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		var wg sync.WaitGroup
		for _, s := range senders {
			wg.Add(1)
			go func(s *seqSender) {
				defer wg.Done()
				for _, err := range s.sendFor(ctx, 25*time.Second, 200*time.Millisecond) {
					t.Logf("%s: %v", s.run, err)
				}
			}(s)
		}
		time.Sleep(5 * time.Second)
		peer.SetFault(ph.fault)
		time.Sleep(15 * time.Second)
		peer.SetFault(cwlogspeer.Fault{})
		wg.Wait()
		cancel()
		_, faulted := peer.Requests()
		for i, s := range senders {
			sent, refused := s.counts()
			acked, _ := s.ackedTicks()
			distinct, dup := emfTally(t, peerMessages(peer, setups[i].name), s.run)
			lost := sent - distinct
			t.Logf("%s: sent %d, acknowledged %d, refused %d, received %d, lost %d, duplicated %d (faulted PutLogEvents so far: %d)",
				s.run, sent, acked, refused, distinct, lost, dup, faulted)
			if distinct < acked {
				t.Errorf("%s: %d acknowledged events never arrived", s.run, acked-distinct)
			}
			switch {
			case (ph.name == "5xx" || setups[i].retries != "2") && lost != 0:
				t.Errorf("%s: lost %d events\n%s", s.run, lost, setups[i].proc.Output())
			case ph.name == "throttled" && setups[i].retries == "2" && lost == 0:
				t.Errorf("%s: awsemf's default max_retries lost nothing to 15 s of throttling: upstream behaviour changed, update the documented limit", s.run)
			}
		}
	}
	for _, inv := range peer.InvalidEMF() {
		t.Errorf("invalid EMF: %v", inv.Err)
	}
}
