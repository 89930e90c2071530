// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package cwlogspeer

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/otelcol-sre/otelcol-sre/internal/sigv4verify"
)

const (
	testKey    = "AKIDOTELCOLSRETEST"
	testSecret = "otelcol-sre-test-secret"
)

// client is the AWS SDK's own CloudWatch Logs client pointed at the peer, retries off so that every fault
// shows, and with the EMF header the awsemf exporter adds.
func client(t *testing.T, url, secret string, emf bool) *cloudwatchlogs.Client {
	t.Helper()
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(testKey, secret, ""),
		Retryer:      aws.NopRetryer{},
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			if !emf {
				return nil
			}
			return s.Build.Add(middleware.BuildMiddlewareFunc("emfHeader", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					req.Header.Set("x-amzn-logs-format", "json/emf")
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
		}},
	})
}

func newPeer(t *testing.T) (*Server, string) {
	t.Helper()
	v, err := sigv4verify.New(sigv4verify.Config{AccessKeyID: testKey, SecretAccessKey: testSecret, Region: "us-east-1", Service: "logs"})
	if err != nil {
		t.Fatal(err)
	}
	s := New(v)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func put(ctx context.Context, c *cloudwatchlogs.Client, group, stream string, messages ...string) error {
	var evs []types.InputLogEvent
	now := time.Now().UnixMilli()
	for i, m := range messages {
		evs = append(evs, types.InputLogEvent{Timestamp: aws.Int64(now + int64(i)), Message: aws.String(m)})
	}
	_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: &group, LogStreamName: &stream, LogEvents: evs})
	return err
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestResourceNotFoundFlowWithTheSDKClient(t *testing.T) {
	ctx := context.Background()
	peer, url := newPeer(t)
	c := client(t, url, testSecret, true)
	group, stream := "/aws/containerinsights/e2e/performance", "otel-stream"

	var rnf *types.ResourceNotFoundException
	if err := put(ctx, c, group, stream, emfEvent(nil)); !errors.As(err, &rnf) {
		t.Fatalf("PutLogEvents to a missing group: %v, want ResourceNotFoundException", err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &stream}); !errors.As(err, &rnf) {
		t.Fatalf("CreateLogStream in a missing group: %v, want ResourceNotFoundException", err)
	}
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil {
		t.Fatal(err)
	}
	var rae *types.ResourceAlreadyExistsException
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); !errors.As(err, &rae) {
		t.Fatalf("second CreateLogGroup: %v, want ResourceAlreadyExistsException", err)
	}
	if err := put(ctx, c, group, stream, emfEvent(nil)); !errors.As(err, &rnf) {
		t.Fatalf("PutLogEvents to a missing stream: %v, want ResourceNotFoundException", err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &stream}); err != nil {
		t.Fatal(err)
	}
	out, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: &group, LogStreamName: &stream,
		LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String(emfEvent(nil))}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.NextSequenceToken == nil {
		t.Error("PutLogEvents answered without nextSequenceToken; the contrib client would resend the batch")
	}
	if err := put(ctx, c, group, stream, `{"not":"emf"}`); err != nil {
		t.Fatal(err)
	}
	if got := len(peer.Events()); got != 2 {
		t.Fatalf("%d events stored, want 2", got)
	}
	inv := peer.InvalidEMF()
	if len(inv) != 1 || inv[0].Event.Message != `{"not":"emf"}` {
		t.Fatalf("invalid EMF events %v, want only the one without _aws", inv)
	}
	ops, _ := peer.Requests()
	if ops["PutLogEvents"] != 4 || ops["CreateLogGroup"] != 2 || ops["CreateLogStream"] != 2 {
		t.Errorf("operations %v", ops)
	}
}

func TestPlainLogsAreNotValidatedAsEMF(t *testing.T) {
	ctx := context.Background()
	peer, url := newPeer(t)
	c := client(t, url, testSecret, false)
	group, stream := "/aws/containerinsights/e2e/application", "pod-a"
	_, _ = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group})
	_, _ = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &stream})
	if err := put(ctx, c, group, stream, "plain text line"); err != nil {
		t.Fatal(err)
	}
	if evs := peer.Events(); len(evs) != 1 || evs[0].EMF || len(peer.InvalidEMF()) != 0 {
		t.Fatalf("events %v invalid %v", evs, peer.InvalidEMF())
	}
}

func TestFaultsAndBatchRules(t *testing.T) {
	ctx := context.Background()
	group, stream := "g", "s"
	tests := []struct {
		name     string
		fault    Fault
		secret   string
		messages []string
		events   func() []types.InputLogEvent
		wantCode string
	}{
		{name: "throttled", fault: Throttling, messages: []string{"a"}, wantCode: "ThrottlingException"},
		{name: "service unavailable", fault: Unavailable, messages: []string{"a"}, wantCode: "ServiceUnavailableException"},
		{name: "bad signature", secret: "wrong", messages: []string{"a"}, wantCode: "InvalidSignatureException"},
		{name: "events out of chronological order", events: func() []types.InputLogEvent {
			return []types.InputLogEvent{{Timestamp: aws.Int64(2000), Message: aws.String("b")}, {Timestamp: aws.Int64(1000), Message: aws.String("a")}}
		}, wantCode: "InvalidParameterException"},
		{name: "batch spans more than 24h", events: func() []types.InputLogEvent {
			return []types.InputLogEvent{{Timestamp: aws.Int64(0), Message: aws.String("a")}, {Timestamp: aws.Int64(maxBatchSpanMs + 1), Message: aws.String("b")}}
		}, wantCode: "InvalidParameterException"},
		{name: "healthy", messages: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer, url := newPeer(t)
			secret := testSecret
			if tt.secret != "" {
				secret = tt.secret
			}
			setup := client(t, url, testSecret, false)
			_, _ = setup.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group})
			_, _ = setup.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &stream})
			peer.SetFault(tt.fault)
			c := client(t, url, secret, false)
			var err error
			if tt.events != nil {
				_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: &group, LogStreamName: &stream, LogEvents: tt.events()})
			} else {
				err = put(ctx, c, group, stream, tt.messages...)
			}
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("error %v (code %q), want code %q", err, got, tt.wantCode)
			}
			wantEvents := 0
			if tt.wantCode == "" {
				wantEvents = len(tt.messages)
			}
			if got := len(peer.Events()); got != wantEvents {
				t.Errorf("%d events stored, want %d", got, wantEvents)
			}
			peer.SetFault(Fault{})
			if err := put(ctx, setup, group, stream, "after"); err != nil {
				t.Errorf("after clearing the fault: %v", err)
			}
		})
	}
}
