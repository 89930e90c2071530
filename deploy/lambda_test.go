// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-sre/otelcol-sre/deploy/dashboards"
)

// The `lambda` option: YACE's configuration (its documented v1alpha1 format, decoded strictly), the names
// it produces (YACE cannot be fetched here: its naming is written down once, in yaceMetricName), its IAM
// policy, and how the overlay wires YACE to the SLO tier's scrape.

const (
	lambdaComponent = "kustomize/components/lambda"
	yaceConfigFile  = lambdaComponent + "/yace-config.yaml"
	yacePolicyFile  = lambdaComponent + "/yace-iam-policy.json"
	lambdaOverlay   = "gateway-lambda"
)

// yaceConfig is the subset of YACE's v1alpha1 scrape configuration (docs/configuration.md) this repository
// uses; decoding it strictly rejects a misspelt or unsupported field.
type yaceConfig struct {
	APIVersion string `json:"apiVersion"`
	StsRegion  string `json:"sts-region"`
	Discovery  struct {
		ExportedTagsOnMetrics map[string][]string `json:"exportedTagsOnMetrics"`
		Jobs                  []yaceJob           `json:"jobs"`
	} `json:"discovery"`
	CustomNamespace []yaceJob `json:"customNamespace"`
}

// yaceJob is a discovery job (type) or a custom namespace job (name, namespace).
type yaceJob struct {
	Type       string   `json:"type,omitempty"`
	Name       string   `json:"name,omitempty"`
	Namespace  string   `json:"namespace,omitempty"`
	Regions    []string `json:"regions"`
	SearchTags []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"searchTags,omitempty"`
	DimensionNameRequirements []string `json:"dimensionNameRequirements,omitempty"`
	Period                    int      `json:"period"`
	Length                    int      `json:"length"`
	Statistics                []string `json:"statistics,omitempty"`
	AddCloudwatchTimestamp    *bool    `json:"addCloudwatchTimestamp,omitempty"`
	Metrics                   []struct {
		Name                   string   `json:"name"`
		Statistics             []string `json:"statistics"`
		NilToZero              *bool    `json:"nilToZero,omitempty"`
		AddCloudwatchTimestamp *bool    `json:"addCloudwatchTimestamp,omitempty"`
	} `json:"metrics"`
}

func readYACEConfig(t *testing.T) yaceConfig {
	t.Helper()
	b, err := os.ReadFile(yaceConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var c yaceConfig
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("%s: %v", yaceConfigFile, err)
	}
	return c
}

// yaceMetricName is YACE's naming (pkg/promutil BuildMetricName, v0.63.0): "aws_" + the lower-cased
// namespace + the metric in snake case without a repeated namespace prefix + the statistic.
func yaceMetricName(namespace, metric, statistic string) string {
	ns := strings.TrimPrefix(yacePromString(strings.ToLower(namespace)), "_")
	m := yacePromString(metric)
	for _, part := range strings.Split(ns, "_") {
		m = strings.TrimPrefix(m, part)
	}
	prefix := ns
	if !strings.HasPrefix(ns, "aws") {
		prefix = "aws_" + ns
	}
	return prefix + "_" + strings.TrimPrefix(m, "_") + "_" + yacePromString(statistic)
}

// yacePromString is YACE's name sanitizer: separators become '_', a capital after a lower-case letter
// or digit starts a new snake-case word.
func yacePromString(s string) string {
	var b strings.Builder
	var prev rune
	for _, c := range s {
		switch {
		case strings.ContainsRune(" ,\t/\\.-:=@<>()", c):
			b.WriteByte('_')
		case c == '%':
			b.WriteString("_percent")
		default:
			if unicode.IsUpper(c) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
		}
		prev = c
	}
	return b.String()
}

func TestYACEMetricName(t *testing.T) {
	for _, tc := range []struct{ ns, metric, stat, want string }{
		{"AWS/Lambda", "DeadLetterErrors", "Sum", "aws_lambda_dead_letter_errors_sum"},
		{"AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations", "Sum", "aws_lambda_provisioned_concurrency_spillover_invocations_sum"},
		{"AWS/Lambda", "Duration", "p99", "aws_lambda_duration_p99"},
		{"AWS/Lambda", "ClaimedAccountConcurrency", "Maximum", "aws_lambda_claimed_account_concurrency_maximum"},
		{"LambdaInsights", "init_duration", "p90", "aws_lambdainsights_init_duration_p90"},
		// YACE's changelog examples of a namespace prefix dropped from the metric name (v0.59.0).
		{"Glue", "glue.driver.aggregate.bytesRead", "Sum", "aws_glue_driver_aggregate_bytes_read_sum"},
		{"AWS/Kafka", "KafkaDataLogsDiskUsed", "Average", "aws_kafka_data_logs_disk_used_average"},
	} {
		if got := yaceMetricName(tc.ns, tc.metric, tc.stat); got != tc.want {
			t.Errorf("yaceMetricName(%s, %s, %s) = %s, want %s", tc.ns, tc.metric, tc.stat, got, tc.want)
		}
	}
}

// yaceNames lists every series name the config exports, and adds the names and labels to the contract
// sets: YACE's own labels, dimension_<Dimension>, tag_<Tag>, the scrape's job and instance, and `up`
// (the prometheus receiver's per-target health) and YACE's API error counter.
func yaceNames(t *testing.T, metrics, labels map[string]bool) []string {
	t.Helper()
	c := readYACEConfig(t)
	var names []string
	jobs := slices.Concat(c.Discovery.Jobs, c.CustomNamespace)
	for _, j := range jobs {
		ns := cmpOr(j.Type, j.Namespace)
		for _, m := range j.Metrics {
			for _, s := range cmpOrSlice(m.Statistics, j.Statistics) {
				names = append(names, yaceMetricName(ns, m.Name, s))
			}
		}
		for _, d := range j.DimensionNameRequirements {
			labels["dimension_"+d] = true
		}
	}
	for _, tags := range c.Discovery.ExportedTagsOnMetrics {
		for _, tag := range tags {
			labels["tag_"+tag] = true
		}
	}
	for _, n := range names {
		metrics[n] = true
	}
	metrics["up"], metrics["yace_cloudwatch_request_errors"] = true, true
	for _, l := range []string{"name", "region", "account_id", "job", "instance"} {
		labels[l] = true
	}
	return names
}

func cmpOrSlice(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

var yaceStatistic = regexp.MustCompile(`^(Sum|Average|Maximum|Minimum|SampleCount|p\d{1,2}(\.\d{1,2})?|p100)$`)

// The config is one YACE v0.63.0 loads (its documented validation: a known discovery type, regions,
// metrics with statistics, length >= period) and that is safe behind remote write.
func TestYACEConfig(t *testing.T) {
	c := readYACEConfig(t)
	if c.APIVersion != "v1alpha1" {
		t.Errorf("apiVersion %q, want v1alpha1", c.APIVersion)
	}
	if len(c.Discovery.Jobs) == 0 {
		t.Fatal("no discovery jobs")
	}
	for _, j := range c.Discovery.Jobs {
		if j.Type != "AWS/Lambda" || j.Name != "" || j.Namespace != "" {
			t.Errorf("discovery job %+v: want type AWS/Lambda (the namespace, not the alias) and no name/namespace", j)
		}
	}
	for _, j := range c.CustomNamespace {
		if j.Name == "" || j.Namespace == "" || j.Type != "" {
			t.Errorf("customNamespace job %+v: name and namespace required, no type", j)
		}
	}
	for ns := range c.Discovery.ExportedTagsOnMetrics {
		if !slices.ContainsFunc(c.Discovery.Jobs, func(j yaceJob) bool { return j.Type == ns }) {
			t.Errorf("exportedTagsOnMetrics key %q matches no discovery job type", ns)
		}
	}
	for i, j := range slices.Concat(c.Discovery.Jobs, c.CustomNamespace) {
		where := fmt.Sprintf("job %d (%s)", i, cmpOr(j.Type, j.Name))
		if len(j.Regions) == 0 || len(j.Metrics) == 0 {
			t.Errorf("%s: regions and metrics required", where)
		}
		if j.Period <= 0 || j.Length < j.Period {
			t.Errorf("%s: period %d, length %d: length must cover at least one period", where, j.Period, j.Length)
		}
		for _, st := range j.SearchTags {
			if _, err := regexp.Compile(st.Value); err != nil {
				t.Errorf("%s: searchTags %s: %v", where, st.Key, err)
			}
		}
		if j.AddCloudwatchTimestamp != nil && *j.AddCloudwatchTimestamp {
			t.Errorf("%s: addCloudwatchTimestamp re-sends a changing partial period at the same timestamp; remote write rejects it", where)
		}
		for _, m := range j.Metrics {
			stats := cmpOrSlice(m.Statistics, j.Statistics)
			if m.Name == "" || len(stats) == 0 {
				t.Errorf("%s: metric %q needs a name and statistics", where, m.Name)
			}
			for _, s := range stats {
				if !yaceStatistic.MatchString(s) {
					t.Errorf("%s: metric %s: statistic %q is not one YACE knows", where, m.Name, s)
				}
			}
			if m.AddCloudwatchTimestamp != nil && *m.AddCloudwatchTimestamp {
				t.Errorf("%s: metric %s: addCloudwatchTimestamp (see above)", where, m.Name)
			}
		}
	}
}

// Every statistic YACE is asked for (and billed for, per GetMetricData metric) is read by a rule or a
// dashboard panel; what they read is checked the other way by TestRulesAndDashboardsUseContractNames.
func TestEveryYACEStatisticIsUsed(t *testing.T) {
	names := yaceNames(t, map[string]bool{}, map[string]bool{})
	var exprs []string
	for _, rf := range ruleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				exprs = append(exprs, r.Expr)
			}
		}
	}
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		exprs = append(exprs, q.Expr)
	}
	used := regexp.MustCompile(`[a-z_:][a-z0-9_:]*`)
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, w := range used.FindAllString(e, -1) {
			seen[w] = true
		}
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("YACE exports %s (%s) but no rule or dashboard reads it: drop the statistic", n, yaceConfigFile)
		}
	}
}

// YACE's role may read CloudWatch metrics and resource tags, nothing more.
func TestYACEIAMPolicy(t *testing.T) {
	b, err := os.ReadFile(yacePolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Version   string
		Statement []struct {
			Sid      string
			Effect   string
			Action   []string
			Resource string
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", yacePolicyFile, err)
	}
	var actions []string
	for _, s := range p.Statement {
		if s.Effect != "Allow" || s.Resource != "*" {
			t.Errorf("statement %s: Effect %q Resource %q (these read APIs take no resource ARNs)", s.Sid, s.Effect, s.Resource)
		}
		actions = append(actions, s.Action...)
	}
	slices.Sort(actions)
	want := []string{"cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "tag:GetResources"}
	if p.Version != "2012-10-17" || !slices.Equal(actions, want) {
		t.Errorf("policy version %q actions %v, want 2012-10-17 and exactly %v", p.Version, actions, want)
	}
}

// The overlay runs YACE with the config file byte for byte, exposes it where configs/gateway-lambda.yaml
// scrapes, and makes the SLO tier load that file; only the first SLO replica keeps the target.
func TestLambdaOptionWiring(t *testing.T) {
	objs := rendered(t)[lambdaOverlay]
	find := func(kind, prefix string) *unstructured.Unstructured {
		for _, o := range objs {
			if o.GetKind() == kind && strings.HasPrefix(o.GetName(), prefix) {
				return o
			}
		}
		t.Fatalf("overlay %s has no %s %s*", lambdaOverlay, kind, prefix)
		return nil
	}
	decode := func(o *unstructured.Unstructured) any {
		obj, err := decodeStrict(o)
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	yace := decode(find("Deployment", "otelcol-sre-yace")).(*appsv1.Deployment)
	svc := decode(find("Service", "otelcol-sre-yace")).(*corev1.Service)
	cm := decode(find("ConfigMap", "otelcol-sre-yace-config-")).(*corev1.ConfigMap)
	slo := decode(find("StatefulSet", "otelcol-sre-gateway-slo")).(*appsv1.StatefulSet)

	if yace.Namespace != "otelcol-sre" || *yace.Spec.Replicas != 1 {
		t.Errorf("YACE Deployment: namespace %q, replicas %d; want otelcol-sre and exactly 1", yace.Namespace, *yace.Spec.Replicas)
	}
	onDisk, err := os.ReadFile(yaceConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	c := yace.Spec.Template.Spec.Containers[0]
	var configPath string
	for _, m := range c.VolumeMounts {
		if cmName := volumeConfigMap(yace.Spec.Template.Spec.Volumes, m.Name); cmName == cm.Name {
			for key, data := range cm.Data {
				if data == string(onDisk) {
					configPath = filepath.Join(m.MountPath, key)
				}
			}
		}
	}
	if configPath == "" || !slices.Contains(c.Args, "--config.file="+configPath) {
		t.Errorf("YACE args %v must load %s from the ConfigMap carrying %s verbatim", c.Args, configPath, yaceConfigFile)
	}

	scrape := yaceScrapeConfig(t)
	var port int32
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.String() == c.Ports[0].Name && c.Ports[0].ContainerPort == 5000 {
			port = p.Port
		}
	}
	if want := fmt.Sprintf("%s:%d", svc.Name, port); port == 0 || !slices.Equal(scrape.targets, []string{want}) {
		t.Errorf("gateway-lambda.yaml scrapes %v, want the YACE Service %s", scrape.targets, want)
	}
	if want := slo.Name + "-0"; scrape.keepScraper != want {
		t.Errorf("gateway-lambda.yaml keeps the scrape on %q, want the first SLO replica %q", scrape.keepScraper, want)
	}
	args := slo.Spec.Template.Spec.Containers[0].Args
	if args[len(args)-1] != "--config=/conf/gateway-lambda.yaml" {
		t.Errorf("SLO tier args %v: gateway-lambda.yaml must be loaded last (it replaces the metrics receivers list)", args)
	}
	// The merged receivers list is gateway-slo.yaml's plus prometheus/yace, nothing lost.
	base := pipelineReceivers(t, "gateway-slo.yaml")
	if got := pipelineReceivers(t, "gateway-lambda.yaml"); !slices.Equal(got, append(base, "prometheus/yace")) {
		t.Errorf("gateway-lambda.yaml metrics receivers %v, want gateway-slo.yaml's %v + prometheus/yace", got, base)
	}
}

type yaceScrape struct {
	targets     []string
	keepScraper string
}

// yaceScrapeConfig reads the YACE job of configs/gateway-lambda.yaml: its targets and the scraper pod
// its keep rule allows (the regex of the keep rule on __tmp_scraper, which is set from K8S_POD_NAME).
func yaceScrapeConfig(t *testing.T) yaceScrape {
	t.Helper()
	var cfg struct {
		Receivers map[string]struct {
			Config struct {
				ScrapeConfigs []struct {
					JobName       string `json:"job_name"`
					StaticConfigs []struct {
						Targets []string `json:"targets"`
					} `json:"static_configs"`
					RelabelConfigs []struct {
						SourceLabels []string `json:"source_labels"`
						TargetLabel  string   `json:"target_label"`
						Replacement  string   `json:"replacement"`
						Regex        string   `json:"regex"`
						Action       string   `json:"action"`
					} `json:"relabel_configs"`
				} `json:"scrape_configs"`
			} `json:"config"`
		} `json:"receivers"`
	}
	b, err := os.ReadFile("configs/gateway-lambda.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var out yaceScrape
	for _, sc := range cfg.Receivers["prometheus/yace"].Config.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			out.targets = append(out.targets, st.Targets...)
		}
		setFromPodName := false
		for _, r := range sc.RelabelConfigs {
			if r.TargetLabel == "__tmp_scraper" && r.Replacement == "${env:K8S_POD_NAME}" {
				setFromPodName = true
			}
			if setFromPodName && r.Action == "keep" && slices.Equal(r.SourceLabels, []string{"__tmp_scraper"}) {
				out.keepScraper = r.Regex
			}
		}
	}
	return out
}

func pipelineReceivers(t *testing.T, file string) []string {
	t.Helper()
	svc, _ := readConfig(t, file)["service"].(map[string]any)
	ps, _ := svc["pipelines"].(map[string]any)
	m, _ := ps["metrics"].(map[string]any)
	var out []string
	list, _ := m["receivers"].([]any)
	for _, r := range list {
		out = append(out, r.(string))
	}
	return out
}
