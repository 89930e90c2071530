// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

// Command kubectl-diagnose is a kubectl plugin that explains why a pod is
// stuck, with the same diagnosis core as the k8spoddiagnostics processor.
//
//	kubectl diagnose pod NAME [-n NAMESPACE] [--context CTX] [--kubeconfig FILE] [-o text|json]
//	kubectl diagnose -f pod.json [--events events.json] [--now RFC3339] [-o text|json]
//
// -f takes what `kubectl get pod -o json` prints (a Pod, or a List of pods;
// "-" reads stdin), --events what `kubectl get events -o json` prints.
// JSON output is one object per pod keyed by the k8s.pod.diagnosis.*
// attribute names.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/otelcol-sre/otelcol-sre/internal/poddiagnosis/diagnosis"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, clientFromKubeconfig))
}

// clientProvider builds a clientset for a kubeconfig path and context (empty:
// kubectl's defaults) and returns the namespace of that context.
type clientProvider func(kubeconfig, context string) (kubernetes.Interface, string, error)

func clientFromKubeconfig(kubeconfig, kubeContext string) (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("reading the kubeconfig namespace: %w", err)
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading the kubeconfig: %w", err)
	}
	rc.UserAgent = "kubectl-diagnose"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, "", fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	return cs, ns, nil
}

const usage = `Explain why a pod is stuck (the k8spoddiagnostics processor's diagnosis).

Usage:
  kubectl diagnose pod NAME [-n NAMESPACE] [--context CTX] [--kubeconfig FILE] [-o text|json]
  kubectl diagnose -f pod.json [--events events.json] [--now RFC3339] [-o text|json]

Flags:
`

type options struct {
	namespace, kubeContext, kubeconfig string
	file, events, now, output          string
	diag                               diagnosis.Options
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, newClient clientProvider) int {
	o := options{diag: diagnosis.DefaultOptions()}
	fs := flag.NewFlagSet("kubectl-diagnose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.namespace, "n", "", "namespace of the pod (default: the kubeconfig context's)")
	fs.StringVar(&o.namespace, "namespace", "", "same as -n")
	fs.StringVar(&o.kubeContext, "context", "", "kubeconfig context to use")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.file, "f", "", "pod JSON as printed by kubectl get pod -o json (a Pod or a List); - reads stdin")
	fs.StringVar(&o.events, "events", "", "events JSON as printed by kubectl get events -o json")
	fs.StringVar(&o.now, "now", "", "evaluate ages at this RFC 3339 time instead of the current time")
	fs.StringVar(&o.output, "o", "text", "output format: text or json")
	fs.IntVar(&o.diag.MaxMessageLength, "max-message-length", o.diag.MaxMessageLength, "cut messages to this many bytes (0: no limit)")

	positional, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if err := diagnoseCommand(ctx, o, positional, stdin, stdout, newClient); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

// parseInterleaved parses flags placed before, between or after positional
// arguments, as kubectl users type them ("pod NAME -n NS").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func diagnoseCommand(ctx context.Context, o options, positional []string, stdin io.Reader, stdout io.Writer, newClient clientProvider) error {
	if o.output != "text" && o.output != "json" {
		return fmt.Errorf("-o: unknown output format %q — use text or json", o.output)
	}
	now := time.Now()
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return fmt.Errorf("--now: %q is not an RFC 3339 time (e.g. 2026-11-22T12:00:00Z): %w", o.now, err)
		}
		now = t
	}
	var pods []corev1.Pod
	var events []corev1.Event
	var err error
	switch {
	case o.file != "" && len(positional) > 0:
		return errors.New("give either -f FILE or pod NAME, not both")
	case o.file != "":
		if pods, events, err = readFiles(o, stdin); err != nil {
			return err
		}
	case len(positional) == 2 && (positional[0] == "pod" || positional[0] == "pods" || positional[0] == "po"):
		if o.events != "" {
			return errors.New("--events only applies with -f; with pod NAME the events come from the cluster")
		}
		if pods, events, err = fetch(ctx, o, positional[1], newClient); err != nil {
			return err
		}
	default:
		return errors.New("usage: kubectl diagnose pod NAME [-n NAMESPACE] | kubectl diagnose -f pod.json [--events events.json]")
	}
	// The events are chosen as the collector's informer cache chooses them.
	choice := diagnosis.NewEventChoice(nil, 0)
	for i := range pods {
		p := &pods[i]
		lean := diagnosis.FromPod(p, o.diag.MaxMessageLength, nil)
		var le []diagnosis.Event
		for _, e := range EventsFor(p, events) {
			if choice.Relevant(&e) {
				le = append(le, diagnosis.FromEvent(&e, o.diag.MaxMessageLength, nil))
			}
		}
		d := diagnosis.Diagnose(&lean, choice.Newest(le), now, o.diag)
		if err := write(stdout, o.output, p, d, now); err != nil {
			return err
		}
	}
	return nil
}

func readFiles(o options, stdin io.Reader) ([]corev1.Pod, []corev1.Event, error) {
	data, err := readInput(o.file, stdin)
	if err != nil {
		return nil, nil, fmt.Errorf("-f: %w", err)
	}
	pods, err := DecodePods(data)
	if err != nil {
		return nil, nil, fmt.Errorf("-f %s: %w", o.file, err)
	}
	if o.events == "" {
		return pods, nil, nil
	}
	data, err = readInput(o.events, stdin)
	if err != nil {
		return nil, nil, fmt.Errorf("--events: %w", err)
	}
	events, err := DecodeEvents(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--events %s: %w", o.events, err)
	}
	return pods, events, nil
}

func readInput(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}

func fetch(ctx context.Context, o options, name string, newClient clientProvider) ([]corev1.Pod, []corev1.Event, error) {
	cs, ns, err := newClient(o.kubeconfig, o.kubeContext)
	if err != nil {
		return nil, nil, err
	}
	if o.namespace != "" {
		ns = o.namespace
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("getting pod %s/%s: %w", ns, name, err)
	}
	selector := fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.uid", string(pod.UID)),
		fields.OneTermEqualSelector("type", corev1.EventTypeWarning),
	).String()
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: selector})
	if err != nil {
		return nil, nil, fmt.Errorf("listing the Warning events of pod %s/%s: %w", ns, name, err)
	}
	return []corev1.Pod{*pod}, list.Items, nil
}

func write(w io.Writer, format string, p *corev1.Pod, d diagnosis.Diagnosis, now time.Time) error {
	if format == "json" {
		m := d.Attributes()
		m["k8s.pod.name"] = p.Name
		m["k8s.namespace.name"] = p.Namespace
		m["k8s.pod.uid"] = string(p.UID)
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encoding the diagnosis: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	state := "ok"
	if d.Stuck {
		state = "STUCK"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s/%s\t%s\t%s\n", p.Namespace, p.Name, d.Status, state)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&sb, "  %-10s %s\n", k+":", indent(v))
		}
	}
	line("reason", d.Reason)
	line("container", d.Container)
	if !d.Since.IsZero() {
		line("since", d.Since.UTC().Format(time.RFC3339)+" ("+now.Sub(d.Since).Round(time.Second).String()+" ago)")
	}
	line("message", d.Message)
	line("hint", d.Hint)
	_, err := io.WriteString(w, sb.String())
	return err
}

// indent keeps multi-line messages (log tails) under their label.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+strings.Repeat(" ", 13))
}
