package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// daemonForTest starts a daemon and ends it (by its PID) when the test ends.
func daemonForTest(t *testing.T, name string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s said:\n%s", name, out.String())
		}
	})
}

// promQuery runs an instant query and returns its status, error and the
// label sets of its result.
func promQuery(base, expr string) (status, errText string, result []map[string]string) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return "", err.Error(), nil
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err.Error(), nil
	}
	for _, r := range body.Data.Result {
		result = append(result, r.Metric)
	}
	return body.Status, body.Error, result
}

// TestFleetMonitoringWithRealPrometheus: check writes the textfile,
// Debian's node_exporter serves it, Debian's Prometheus loads the shipped
// rules; a new unexpected listener on an external-facing address raises
// the alert labelled with its port, and every expression of the shipped
// Grafana dashboard is a valid query against that Prometheus.
func TestFleetMonitoringWithRealPrometheus(t *testing.T) {
	for _, c := range []string{"prometheus", "prometheus-node-exporter", "promtool"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is required (scripts/test.sh installs it)", c)
		}
	}
	f := newNSFixture(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.toml")
	if out, errOut, code := f.run(t, "baseline", "init", "--baseline", base); code != 0 {
		t.Fatalf("baseline init: exit %d %s%s", code, out, errOut)
	}
	var ln net.Listener
	if err := f.peer.Do(func() (err error) { ln, err = net.Listen("tcp4", fmt.Sprintf("%s:8443", f.peer.Peer4)); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	textfiles := filepath.Join(dir, "textfile")
	if err := os.Mkdir(textfiles, 0o755); err != nil {
		t.Fatal(err)
	}
	prom := filepath.Join(textfiles, "portwarden.prom")
	if out, errOut, code := f.run(t, "check", "--baseline", base, "--prometheus", prom); code != 1 {
		t.Fatalf("check: exit %d, want 1 for the new listener\n%s%s", code, out, errOut)
	}
	metrics, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = bytes.NewReader(metrics)
	if out, err := lint.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	exporter := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	daemonForTest(t, "prometheus-node-exporter", "--web.listen-address="+exporter,
		"--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory="+textfiles)
	rules, err := filepath.Abs("../packaging/prometheus/portwarden.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: [%q]
`, rules, exporter)), 0o644); err != nil {
		t.Fatal(err)
	}
	api := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	daemonForTest(t, "prometheus", "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+api)
	baseURL := "http://" + api

	alert := `ALERTS{alertname="PortwardenUnexpectedListenerReachable", alertstate="firing", port="8443"}`
	var got []map[string]string
	if !sockettest.WaitFor(60*time.Second, func() bool {
		_, _, got = promQuery(baseURL, alert)
		return len(got) > 0
	}) {
		t.Fatalf("Prometheus never fired %s", alert)
	}
	if a := got[0]; a["bind"] != f.peer.Peer4.String() || a["proto"] != "tcp" || a["verdict"] != "unexpected" || a["severity"] != "warning" {
		t.Errorf("the alert's labels: %v", a)
	}
	// The telnet listener the baseline documents raises nothing.
	if _, _, quiet := promQuery(baseURL, `ALERTS{alertname="PortwardenUnexpectedListenerReachable", port="23"}`); len(quiet) > 0 {
		t.Errorf("an expected listener raised the alert: %v", quiet)
	}

	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile("../packaging/grafana/portwarden-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			n++
			expr := strings.ReplaceAll(target.Expr, "$instance", ".*")
			if status, errText, _ := promQuery(baseURL, expr); status != "success" {
				t.Errorf("panel %q: %s: %s %s", p.Title, expr, status, errText)
			}
		}
	}
	if n < 10 {
		t.Errorf("the dashboard has %d expressions: expected its panels", n)
	}
	if _, _, hosts := promQuery(baseURL, `portwarden_listener_info{verdict="unexpected", port="8443"}`); len(hosts) != 1 {
		t.Errorf("the unexpected listeners panel's series: %v", hosts)
	}
}
