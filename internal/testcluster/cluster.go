// Copyright otelcol-sre authors
// SPDX-License-Identifier: Apache-2.0

package testcluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// startTimeout bounds how long one component may take to become ready. It is
// generous because the machines running the tests are shared and slow.
const startTimeout = 2 * time.Minute

// Cluster is a running etcd, kube-apiserver and kube-scheduler, all bound to
// 127.0.0.1 on free ports, with their data and credentials in a temporary
// directory. No kubelet and no controller-manager run (see the package doc).
// Its methods are safe for concurrent use.
type Cluster struct {
	dir             string
	bins            binaries
	admin           *rest.Config
	client          kubernetes.Interface
	adminKubeconfig string
	apiserverArgs   []string
	health          *http.Client
	startup         time.Duration

	mu                         sync.Mutex
	etcd, apiserver, scheduler *process
	stopped                    bool
}

// New starts a control plane and returns once etcd, kube-apiserver (/readyz)
// and kube-scheduler (/readyz) are ready. The error wraps ErrBinariesMissing
// when the binaries are not built. Call Stop when done; in tests prefer Start
// or Shared, which do that and skip or fail properly.
func New() (*Cluster, error) {
	bins, err := findBinaries(BinDir())
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "otelcol-sre-testcluster-")
	if err != nil {
		return nil, fmt.Errorf("creating the cluster directory: %w", err)
	}
	c := &Cluster{dir: dir, bins: bins}
	began := time.Now()
	if err := c.start(); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	c.startup = time.Since(began)
	return c, nil
}

func (c *Cluster) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, schedPort := ports[0], ports[1], ports[2], ports[3]

	creds, err := writePKI(c.dir)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(creds.caPEM)
	c.health = &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}
	adminToken, schedulerToken := rand.Text(), rand.Text()
	tokenFile := filepath.Join(c.dir, "tokens.csv")
	tokens := adminToken + `,admin,admin,"system:masters"` + "\n" +
		schedulerToken + `,system:kube-scheduler,system:kube-scheduler,"system:masters"` + "\n"
	if err := os.WriteFile(tokenFile, []byte(tokens), 0o600); err != nil {
		return fmt.Errorf("writing the token file: %w", err)
	}

	etcdURL := loopbackURL("http", etcdPort)
	peerURL := loopbackURL("http", peerPort)
	c.etcd, err = startProcess("etcd", c.bins.etcd, []string{
		"--name=default",
		"--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--unsafe-no-fsync",
	}, filepath.Join(c.dir, "etcd.log"))
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, c.etcd, etcdURL+"/health", ""); err != nil {
		return err
	}

	c.admin = &rest.Config{
		Host:            loopbackURL("https", apiPort),
		BearerToken:     adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: creds.caPEM},
		QPS:             -1, // no client-side throttling in tests
	}
	if c.client, err = kubernetes.NewForConfig(c.admin); err != nil {
		return fmt.Errorf("creating the admin client: %w", err)
	}
	c.adminKubeconfig = filepath.Join(c.dir, "admin.kubeconfig")
	if err := writeKubeconfig(c.adminKubeconfig, c.admin, ""); err != nil {
		return err
	}
	c.apiserverArgs = append(servingFlags(creds, filepath.Join(c.dir, "apiserver"), apiPort),
		"--etcd-servers="+etcdURL,
		"--advertise-address=127.0.0.1",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+creds.saPub,
		"--service-account-signing-key-file="+creds.saKey,
		"--token-auth-file="+tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none",
		// No controller-manager creates default service accounts or lifts the not-ready taint.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		"--allow-privileged=true",
		// Shut down in ≈2 s instead of waiting up to --request-timeout (60 s) for open watches.
		"--shutdown-send-retry-after=true",
		"--profiling=false",
	)
	if err := c.startAPIServer(ctx); err != nil {
		return err
	}

	schedulerConfig := rest.CopyConfig(c.admin)
	schedulerConfig.BearerToken = schedulerToken
	schedulerKubeconfig := filepath.Join(c.dir, "scheduler.kubeconfig")
	if err := writeKubeconfig(schedulerKubeconfig, schedulerConfig, ""); err != nil {
		return err
	}
	c.scheduler, err = startProcess("kube-scheduler", c.bins.scheduler, append(servingFlags(creds, filepath.Join(c.dir, "scheduler"), schedPort),
		"--kubeconfig="+schedulerKubeconfig,
		"--authentication-kubeconfig="+schedulerKubeconfig,
		"--authorization-kubeconfig="+schedulerKubeconfig,
		"--leader-elect=false",
	), filepath.Join(c.dir, "kube-scheduler.log"))
	if err != nil {
		return err
	}
	return c.waitReady(ctx, c.scheduler, loopbackURL("https", schedPort)+"/readyz", "")
}

// servingFlags are the flags of a component that serves HTTPS on
// 127.0.0.1:port with the cluster's serving certificate.
func servingFlags(creds pki, certDir string, port int) []string {
	return []string{
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + certDir, // unused with the files below, but keeps any write inside the cluster dir
		"--tls-cert-file=" + creds.certFile,
		"--tls-private-key-file=" + creds.keyFile,
	}
}

// startAPIServer starts kube-apiserver and waits for /readyz; c.mu must be
// held or the cluster not yet shared.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	p, err := startProcess("kube-apiserver", c.bins.apiserver, c.apiserverArgs, filepath.Join(c.dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	c.apiserver = p
	if err := c.waitReady(ctx, p, c.admin.Host+"/readyz", c.admin.BearerToken); err != nil {
		p.stop()
		c.apiserver = nil
		return err
	}
	return nil
}

// StopAPIServer stops kube-apiserver (SIGTERM, then SIGKILL after 15 s) and
// returns once it has exited. etcd and kube-scheduler keep running, so
// clients see connection errors until StartAPIServer. Stopping a stopped API
// server does nothing. Do not use it on a Shared cluster whose tests run in
// parallel.
func (c *Cluster) StopAPIServer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver != nil {
		c.apiserver.stop()
		c.apiserver = nil
	}
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the same
// port with the same flags, credentials and etcd data, and returns once it is
// ready. Existing clients and kubeconfig files keep working. Starting a
// running API server does nothing.
//
// Clients come back on their own schedule: while the API server is down,
// client-go reflectors back off to one retry every 30–60 s; after a 60 s
// outage the scheduler took ≈85 s from the restart to act on a new Node in
// our measurement. Give waits after a restart a deadline of minutes.
func (c *Cluster) StartAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.stopped:
		return errors.New("testcluster: StartAPIServer after Stop")
	case c.apiserver != nil:
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return c.startAPIServer(ctx)
}

// Stop stops kube-scheduler, kube-apiserver and etcd, in this order (etcd
// first would leave the API server hanging), kills what is left of their
// process groups and deletes the cluster's directory. It is idempotent.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	for _, p := range []*process{c.scheduler, c.apiserver, c.etcd} {
		if p != nil {
			p.stop()
		}
	}
	c.scheduler, c.apiserver, c.etcd = nil, nil, nil
	if c.health != nil {
		c.health.CloseIdleConnections()
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("testcluster: removing %s: %w", c.dir, err)
	}
	return nil
}

// Config returns a copy of the admin rest.Config: a system:masters bearer
// token, the cluster CA, and no client-side rate limit.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.admin) }

// Client returns a clientset for the admin (system:masters).
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Host returns the API server URL, https://127.0.0.1:<port>; it does not
// change across StopAPIServer/StartAPIServer.
func (c *Cluster) Host() string { return c.admin.Host }

// AdminKubeconfig returns the path of a kubeconfig file for the admin. It
// lives as long as the cluster.
func (c *Cluster) AdminKubeconfig() string { return c.adminKubeconfig }

// logTails returns the last lines of the log of every running component.
func (c *Cluster) logTails(lines int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, p := range []*process{c.etcd, c.apiserver, c.scheduler} {
		if p != nil {
			fmt.Fprintf(&b, "--- last %d lines of the %s log:\n%s\n", lines, p.name, p.logTail(lines))
		}
	}
	return b.String()
}

// waitReady polls url until it answers 200, failing early when p exits.
func (c *Cluster) waitReady(ctx context.Context, p *process, url, token string) error {
	for {
		err := c.probe(ctx, url, token)
		if err == nil {
			return nil
		}
		if exit := p.exitErr(); exit != nil {
			return exit
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s: %w; last log lines:\n%s", p.name, startTimeout, err, p.logTail(30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) probe(ctx context.Context, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.health.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. Another process
// may take one before the component binds it; that start then fails.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close() // held until all are chosen, so they are distinct
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopbackURL(scheme string, port int) string {
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
