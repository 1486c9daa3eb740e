package cli

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/services/whereabouts/geotest"
	"github.com/portwarden/portwarden/sockets/sockettest"
)

type peerLine struct {
	Address         string   `json:"address"`
	RDNS            *string  `json:"rdns"`
	ASN             *uint32  `json:"asn"`
	ASName          *string  `json:"as_name"`
	Country         *string  `json:"country"`
	ConnectionsOpen int      `json:"connections_open"`
	PreAuthOpen     int      `json:"preauth_open"`
	Lifetimes       int      `json:"lifetimes"`
	Ports           []uint16 `json:"ports"`
	Scans           []struct {
		Kind     string `json:"kind"`
		Ports    int    `json:"ports"`
		PortList string `json:"port_list"`
	} `json:"scans"`
	FailedLogins []struct {
		Service string   `json:"service"`
		Count   int      `json:"count"`
		Users   []string `json:"users"`
	} `json:"failed_logins"`
	Bans []struct {
		By          string  `json:"by"`
		Set         string  `json:"set"`
		Jail        *string `json:"jail"`
		Expires     *string `json:"expires"`
		ExpiryKnown bool    `json:"expiry_known"`
	} `json:"bans"`
}

// TestPeersOfARealAttack: one attacker (9.9.9.9, Quad9's address, inside
// namespaces of the test's own) SYN-scans a server namespace with real
// nmap, holds a connection to its real sshd without logging in, fails
// three passwords and is banned by a real fail2ban. `portwarden peers
// --json` tells it all on the attacker's one line: the scan from the
// recorder, the pre-authentication connection, the failed logins from
// rsyslog's file, the ban with its expiry from fail2ban's database, and
// who the address belongs to from real GeoIP data.
func TestPeersOfARealAttack(t *testing.T) {
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "history.db")
	bed := sockettest.FirewallBedForTest(t)
	attacker := netip.MustParseAddr("9.9.9.9")
	for _, err := range []error{
		bed.Public.IP("addr", "add", attacker.String()+"/32", "dev", "eth0"),
		bed.Server.IP("route", "add", attacker.String()+"/32", "dev", bed.PublicLink),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	auth := sockettest.AuthBedForTest(t, bed.Server, bed.ServerPublic4, sockettest.AuthBedOptions{Fail2ban: true})
	recorderForTest(t, bin, db)
	geo := geotest.DirForTest(t, attacker)

	if err := bed.Public.Run("nmap", "-sS", "-Pn", "-n", "-T5", "--max-retries", "0", "-S", attacker.String(), "-e", "eth0",
		"-p", "1-500", bed.ServerPublic4.String()); err != nil {
		t.Fatal(err)
	}
	var held net.Conn
	err := bed.Public.Do(func() (err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: attacker.AsSlice()}, Timeout: 5 * time.Second}
		held, err = d.Dial("tcp4", netip.AddrPortFrom(bed.ServerPublic4, uint16(auth.Port)).String())
		return err
	})
	if err != nil {
		out, _ := exec.Command("ip", "netns", "exec", bed.Server.Name, "sh", "-c", "ss -ltnp; nft list ruleset; ip route; ip -n "+bed.Public.Name+" addr").CombinedOutput()
		log, _ := os.ReadFile(auth.AuthLog)
		t.Fatalf("%v\n%s\n%s", err, out, log)
	}
	defer held.Close()
	for range 3 {
		if err := auth.FailPassword(bed.Public, attacker, "root"); err != nil {
			t.Fatal(err)
		}
	}

	var line peerLine
	var stderr string
	ok := sockettest.WaitFor(60*time.Second, func() bool {
		out, errOut, code := runBin(t, bin, "peers", "--json", "--db", db, "--auth-log", auth.AuthLog, "--geoip-dir", geo, "--no-dns")
		stderr = errOut
		if code != 0 {
			t.Fatalf("peers: exit %d: %s", code, errOut)
		}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var p peerLine
			if json.Unmarshal([]byte(l), &p) == nil && p.Address == attacker.String() {
				line = p
			}
		}
		return len(line.Scans) == 1 && line.Scans[0].Ports == 500 && len(line.FailedLogins) == 1 &&
			line.FailedLogins[0].Count == 3 && len(line.Bans) > 0 && line.Bans[0].ExpiryKnown && line.PreAuthOpen == 1
	})
	if !ok {
		t.Fatalf("the attacker's line: %+v\nstderr: %s", line, stderr)
	}
	if s := line.Scans[0]; s.Kind != "syn" || s.PortList != "1-500" {
		t.Errorf("scan %+v, want a SYN scan of 1-500", s)
	}
	if f := line.FailedLogins[0]; f.Service != "sshd" || !slices.Equal(f.Users, []string{"root"}) {
		t.Errorf("failed logins %+v, want sshd's, as root", f)
	}
	b := line.Bans[0]
	expires, err := time.Parse(time.RFC3339Nano, deref(b.Expires))
	if b.By != "fail2ban" || deref(b.Jail) != "sshd" || b.Set != "inet f2b-table addr-set-sshd" || err != nil ||
		time.Until(expires) < 500*time.Second || time.Until(expires) > 601*time.Second {
		t.Errorf("ban %+v (expires %s): want fail2ban's jail sshd, ending in 600 s", b, deref(b.Expires))
	}
	row, _ := geotest.Lookup(t, attacker)
	if line.ASN == nil || *line.ASN != row.Number || deref(line.ASName) != row.Name || deref(line.Country) != geotest.Country(t, attacker) {
		t.Errorf("whereabouts AS%v %q in %q, want AS%d %q in %q", line.ASN, deref(line.ASName), deref(line.Country),
			row.Number, row.Name, geotest.Country(t, attacker))
	}
	if line.RDNS != nil {
		t.Errorf("rdns %q with --no-dns", *line.RDNS)
	}
	if !slices.Contains(line.Ports, uint16(auth.Port)) || line.ConnectionsOpen < 1 || line.Lifetimes < 3 {
		t.Errorf("ports %v, %d open, %d recorded: want sshd's port %d, the held connection, the three logins",
			line.Ports, line.ConnectionsOpen, line.Lifetimes, auth.Port)
	}
	table, _, code := runBin(t, bin, "peers", "--db", db, "--auth-log", auth.AuthLog, "--geoip-dir", geo, "--no-dns")
	if code != 0 || !strings.Contains(table, attacker.String()) || !strings.Contains(table, "AS"+strconv.Itoa(int(row.Number))) ||
		!strings.Contains(table, "500 ports") || !strings.Contains(table, "fail2ban") {
		t.Errorf("peers table (exit %d):\n%s", code, table)
	}
}

// TestCheckFailsOnScansAndFailedLogins: after a real SYN scan of 200
// ports and four failed passwords, check with --fail-on-scan 100 and
// --fail-on-failed-logins 3 exits 1 and lists both under between_checks;
// its textfile counts them and names the peer (promtool accepts it); a
// check that asks for scans where no record is exits 2.
func TestCheckFailsOnScansAndFailedLogins(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	db, base, prom := filepath.Join(dir, "history.db"), filepath.Join(dir, "baseline.toml"), filepath.Join(dir, "portwarden.prom")
	bed := sockettest.FirewallBedForTest(t)
	auth := sockettest.AuthBedForTest(t, bed.Server, bed.ServerPublic4, sockettest.AuthBedOptions{})
	recorderForTest(t, bin, db)
	scanner, _ := bed.ClientAddrs()
	if out, _, code := runBin(t, bin, "baseline", "init", "--baseline", base, "--netns", bed.Server.Name); code != 0 {
		t.Fatalf("baseline init: exit %d: %s", code, out)
	}
	if err := bed.Public.Run("nmap", "-sS", "-Pn", "-n", "-T5", "--max-retries", "0", "-p", "1-200", bed.ServerPublic4.String()); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := auth.FailPassword(bed.Public, netip.Addr{}, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"check", "--json", "--netns", bed.Server.Name, "--baseline", base, "--history-db", db, "--auth-log", auth.AuthLog,
		"--fail-on-scan", "100", "--fail-on-failed-logins", "3", "--prometheus", prom}
	var doc struct {
		OK            bool `json:"ok"`
		BetweenChecks struct {
			Scans []struct {
				Peer  string `json:"peer"`
				Kind  string `json:"kind"`
				Ports int    `json:"ports"`
			} `json:"scans"`
			FailedLogins []struct {
				Count int      `json:"count"`
				Users []string `json:"users"`
			} `json:"failed_logins"`
		} `json:"between_checks"`
	}
	var out, errOut string
	var code int
	ok := sockettest.WaitFor(30*time.Second, func() bool {
		out, errOut, code = runBin(t, bin, args...)
		return code == 1 && json.Unmarshal([]byte(out), &doc) == nil && len(doc.BetweenChecks.Scans) == 1
	})
	if !ok {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, errOut)
	}
	if s := doc.BetweenChecks.Scans[0]; s.Peer != scanner[0].String() || s.Kind != "syn" || s.Ports != 200 || doc.OK {
		t.Errorf("scan %+v (ok %v): want %s's SYN scan of 200 ports, failing", s, doc.OK, scanner[0])
	}
	if f := doc.BetweenChecks.FailedLogins; len(f) != 1 || f[0].Count != 4 || !slices.Equal(f[0].Users, []string{"admin"}) {
		t.Errorf("failed logins %+v: want 4 as admin", f)
	}
	text, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`portwarden_scans_total{kind="syn"} `, `portwarden_scanned_ports_total{kind="syn"} `,
		`portwarden_failed_logins_total{service="sshd"} 4`, `portwarden_peer_tried{peer="` + scanner[0].String() + `",asn="",country="",banned="false"} 204`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the textfile lacks %q:\n%s", want, text)
		}
	}
	if out, err := exec.Command("sh", "-c", "promtool check metrics < "+prom).CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v: %s", err, out)
	}
	_, errOut, code = runBin(t, bin, "check", "--netns", bed.Server.Name, "--baseline", base, "--history-db", filepath.Join(dir, "none.db"),
		"--auth-log", auth.AuthLog, "--fail-on-scan", "100")
	if code != 2 || !strings.Contains(errOut, "scans are not known") {
		t.Errorf("without a record: exit %d, %q; want 2 saying scans are not known", code, errOut)
	}
}
