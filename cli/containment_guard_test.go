package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestBlockSparesTheBoxsLifelines: in a namespace whose default route goes
// through the host end of its link, blocking the gateway, every IPv4 or
// IPv6 address, a DNS resolver, a link-local range or the namespace's own
// address is refused without --force — the dry run too, with exit 1 and
// the reason — while an ordinary documentation peer is not.
func TestBlockSparesTheBoxsLifelines(t *testing.T) {
	f := newNSFixture(t)
	if out, err := exec.Command("ip", "-n", f.peer.Name, "route", "add", "default", "via", f.peer.Host4.String()).CombinedOutput(); err != nil {
		t.Fatalf("default route: %v: %s", err, out)
	}
	cases := map[string]string{
		f.peer.Host4.String(): "a default gateway",
		"0.0.0.0/0":           "every IPv4 address",
		"::/0":                "every IPv6 address",
		"169.254.0.0/16":      "link-local",
		"fe80::1":             "neighbour discovery",
		f.peer.Peer4.String(): "this host's own addresses",
		"127.0.0.1":           "loopback",
	}
	if ns := firstNameserver(); ns != "" {
		cases[ns] = "a DNS resolver"
	}
	for peer, why := range cases {
		out, errOut, code := f.run(t, "block", "--dry-run", "--yes", peer)
		out += errOut
		if code != 1 || !strings.Contains(out, why) || !strings.Contains(out, "--force") {
			t.Errorf("block --dry-run %s: exit %d, want 1 naming %q\n%s", peer, code, why, out)
		}
	}
	if out, _, code := f.run(t, "block", "--dry-run", "--yes", "198.51.100.250"); code != 0 {
		t.Errorf("block --dry-run of an ordinary peer: exit %d\n%s", code, out)
	}
	if out, _, code := f.run(t, "block", "--yes", "0.0.0.0/0"); code != 1 {
		t.Errorf("block 0.0.0.0/0 without --force: exit %d\n%s", code, out)
	}
	if out, _ := f.peer.Command("nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), "portwarden") {
		t.Errorf("a refused block made a table:\n%s", out)
	}
}

// firstNameserver is the first resolver /etc/resolv.conf names, or "".
func firstNameserver() string {
	file, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "nameserver" {
			return f[1]
		}
	}
	return ""
}

// TestConcurrentBlocksShareOneTable: twenty portwarden processes block
// twenty peers at once; the namespace ends with one table holding the
// twenty peers and one set of rules (four per chain), and lifting the
// last block removes the table.
func TestConcurrentBlocksShareOneTable(t *testing.T) {
	f := newNSFixture(t)
	t.Cleanup(func() { f.peer.Command("nft", "delete", "table", "inet", "portwarden").Run() })
	var wg sync.WaitGroup
	failures := make(chan string, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			peer := fmt.Sprintf("198.51.100.%d", 200+i)
			cmd := f.peer.Command(f.bin, "block", "--yes", "--for", "5m", peer, "--netns", "self", "--audit-log", f.audit)
			if out, err := cmd.CombinedOutput(); err != nil {
				failures <- fmt.Sprintf("block %s: %v\n%s", peer, err, out)
			}
		}()
	}
	wg.Wait()
	close(failures)
	for msg := range failures {
		t.Error(msg)
	}
	out, err := f.peer.Command("nft", "-j", "list", "table", "inet", "portwarden").Output()
	if err != nil {
		t.Fatalf("nft list table: %v", err)
	}
	var listing struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &listing); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, obj := range listing.Nftables {
		for kind := range obj {
			counts[kind]++
		}
	}
	if counts["table"] != 1 || counts["chain"] != 2 || counts["rule"] != 8 {
		t.Errorf("want one table, 2 chains and 8 rules, got %v", counts)
	}
	stdout, _, code := f.run(t, "blocks", "--json")
	var blocks struct {
		Blocks []struct {
			Peer    string `json:"peer"`
			Expires string `json:"expires"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(stdout), &blocks); err != nil || code != 0 {
		t.Fatalf("blocks --json: exit %d, %v\n%s", code, err, stdout)
	}
	if len(blocks.Blocks) != 20 || blocks.Blocks[0].Expires == "" {
		t.Errorf("blocks lists %d peers (want 20, each with its expiry): %+v", len(blocks.Blocks), blocks.Blocks)
	}
	text, _, _ := f.run(t, "blocks")
	if !strings.Contains(text, "flushed") || !strings.Contains(text, "until ") {
		t.Errorf("blocks does not say until when, or what lasts:\n%s", text)
	}
	for i := range 20 {
		if out, _, code := f.run(t, "unblock", fmt.Sprintf("198.51.100.%d", 200+i)); code != 0 {
			t.Fatalf("unblock: exit %d\n%s", code, out)
		}
	}
	if out, _ := f.peer.Command("nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), "portwarden") {
		t.Errorf("the table stayed after its last block was lifted:\n%s", out)
	}
}

// TestUnprivilegedBlocks: a user who cannot read netfilter is told so
// (exit 2, naming CAP_NET_ADMIN), never "nothing is blocked"; unblock
// --all likewise does not claim success.
func TestUnprivilegedBlocks(t *testing.T) {
	f := newNSFixture(t)
	t.Cleanup(func() { f.peer.Command("nft", "delete", "table", "inet", "portwarden").Run() })
	if out, _, code := f.run(t, "block", "--yes", "198.51.100.240"); code != 0 {
		t.Fatalf("block as root: exit %d\n%s", code, out)
	}
	asNobody := func(args ...string) (string, int) {
		cmd := f.peer.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", f.bin}, args...)...)
		return combinedOutput(t, cmd)
	}
	for _, args := range [][]string{{"blocks"}, {"blocks", "--json"}, {"unblock", "--all", "--audit-log", "/dev/null"}} {
		out, code := asNobody(args...)
		if code != 2 || !strings.Contains(out, "CAP_NET_ADMIN") || strings.Contains(out, "nothing is blocked") {
			t.Errorf("%v as nobody: exit %d, want 2 naming CAP_NET_ADMIN\n%s", args, code, out)
		}
	}
	if out, _, _ := f.run(t, "blocks"); !strings.Contains(out, "198.51.100.240") {
		t.Errorf("the block did not survive the unprivileged attempts:\n%s", out)
	}
}
