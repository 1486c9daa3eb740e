package cli

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestDockerPublishedPortPassesInputDrop is the classic surprise: an input
// chain that drops everything, and a port Docker publishes by DNAT is
// still open, because its packets take the forward path. A client in a
// namespace of the test's own, joined to the engine's namespace, connects
// for real; portwarden must say the container's listener is reachable
// from the public, and that the port dockerd reserves is redirected.
func TestDockerPublishedPortPassesInputDrop(t *testing.T) {
	d := sockettest.DockerNATForTest(t, netip.MustParsePrefix("198.51.100.193/28"))
	bin := buildBinary(t)
	client := &sockettest.Namespace{Name: fmt.Sprintf("pw-dkc-%d", os.Getpid()%100000)}
	link := fmt.Sprintf("pwdc%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", client.Name).Run() })
	engineAddr := netip.MustParseAddr("198.51.100.209")
	for _, args := range [][]string{
		{"netns", "add", client.Name},
		{"-n", d.NetNS, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", client.Name},
		{"-n", d.NetNS, "addr", "add", engineAddr.String() + "/28", "dev", link},
		{"-n", d.NetNS, "link", "set", link, "up"},
		{"-n", client.Name, "addr", "add", "198.51.100.215/28", "dev", "eth0"},
		{"-n", client.Name, "link", "set", "eth0", "up"},
		{"-n", client.Name, "route", "add", "default", "via", engineAddr.String()},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := d.Run("run", "-d", "--name", "web7", "-p", "18087:80", d.Image, "/bin/busybox", "httpd", "-f", "-p", "80"); err != nil {
		t.Fatal(err)
	}
	pid, err := d.PID("web7")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "web7 to listen", func() bool { return slices.Contains(ssListeners(t, pid), "tcp [::]:80") })
	// Drop every new connection at input in the engine's namespace.
	if out, err := exec.Command("ip", "netns", "exec", d.NetNS, "nft",
		"table inet lockdown { chain input { type filter hook input priority 0; policy drop; iif lo accept; }; }").CombinedOutput(); err != nil {
		t.Fatalf("nft: %v %s", err, out)
	}
	published := netip.AddrPortFrom(engineAddr, 18087)
	if !sockettest.Probe(client, "tcp", published, 2*time.Second) {
		t.Fatal("the client could not connect to the published port: the bed is wrong, not portwarden")
	}
	// The input drop is real: the engine's own address refuses another port.
	if sockettest.Probe(client, "tcp", netip.AddrPortFrom(engineAddr, 22), 300*time.Millisecond) {
		t.Fatal("input drop lets port 22 through")
	}

	// A decoy: another namespace holding an address of the container's
	// network (as a second engine or a VPN may), which forwards nothing.
	decoy := fmt.Sprintf("pw-dkd-%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", decoy).Run() })
	for _, args := range [][]string{{"netns", "add", decoy}, {"-n", decoy, "link", "add", "br0", "type", "bridge"},
		{"-n", decoy, "addr", "add", "198.51.100.206/28", "dev", "br0"}, {"-n", decoy, "link", "set", "br0", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	snap := snapshotOf(t, bin, d, "--listening", "--tcp")
	var container, reserved bool
	for _, s := range snap.Sockets {
		switch {
		case s.LocalPort == 80 && s.Container != nil && deref(s.Container.Name) == "web7":
			container = deref(s.Reach) == "public" && s.Firewall != nil && s.Firewall.Verdict == "accept"
			if !container {
				t.Errorf("web7's listener: reach %q, firewall %+v; want public, accepted", deref(s.Reach), s.Firewall)
			}
		case s.LocalPort == 18087 && len(s.Processes) > 0 && s.Processes[0].Name == "dockerd":
			reserved = s.Firewall != nil && s.Firewall.Verdict == "redirect" && strings.Contains(s.Firewall.Rule, "nat")
			if !reserved {
				t.Errorf("dockerd's reserved port: reach %q, firewall %+v; want redirected by the nat rule", deref(s.Reach), s.Firewall)
			}
		}
	}
	if !container || !reserved {
		for _, s := range snap.Sockets {
			if s.LocalPort == 80 || s.LocalPort == 18087 {
				t.Logf("%s %s:%d %+v reach %q firewall %+v", s.Proto, s.LocalIP, s.LocalPort, s.Container, deref(s.Reach), s.Firewall)
			}
		}
		ps, _ := d.Run("ps", "-a")
		t.Errorf("container listener judged %v, reserved port judged %v\n%s", container, reserved, ps)
	}
}

// TestDockerPublishedBesideFirewalld runs Debian's firewalld in the
// namespace of a Docker engine that publishes by DNAT — firewalld's inet
// table beside Docker's iptables-nft chains, as on a RHEL host — with the
// client's link in firewalld's public zone. Whatever the two let through
// to the published container, portwarden's reach must say the same (or
// unknown), and firewalld's own rules must not make it unknown.
func TestDockerPublishedBesideFirewalld(t *testing.T) {
	var fw *sockettest.Firewalld
	d := sockettest.DockerNATBesideForTest(t, netip.MustParsePrefix("198.51.100.161/28"), func(netns string) error {
		fw = sockettest.FirewalldForTest(t, &sockettest.Namespace{Name: netns})
		return nil
	})
	bin := buildBinary(t)
	client := &sockettest.Namespace{Name: fmt.Sprintf("pw-dfc-%d", os.Getpid()%100000)}
	link := fmt.Sprintf("pwdf%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", client.Name).Run() })
	engineAddr := netip.MustParseAddr("198.51.100.177")
	for _, args := range [][]string{
		{"netns", "add", client.Name},
		{"-n", d.NetNS, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", client.Name},
		{"-n", d.NetNS, "addr", "add", engineAddr.String() + "/28", "dev", link},
		{"-n", d.NetNS, "link", "set", link, "up"},
		{"-n", client.Name, "addr", "add", "198.51.100.183/28", "dev", "eth0"},
		{"-n", client.Name, "link", "set", "eth0", "up"},
		{"-n", client.Name, "route", "add", "default", "via", engineAddr.String()},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	if err := fw.Cmd("--zone=public", "--change-interface="+link); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run("run", "-d", "--name", "web8", "-p", "18088:80", d.Image, "/bin/busybox", "httpd", "-f", "-p", "80"); err != nil {
		t.Fatal(err)
	}
	pid, err := d.PID("web8")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "web8 to listen", func() bool { return slices.Contains(ssListeners(t, pid), "tcp [::]:80") })
	reached := sockettest.Probe(client, "tcp", netip.AddrPortFrom(engineAddr, 18088), 2*time.Second)

	snap := snapshotOf(t, bin, d, "--listening", "--tcp")
	found := false
	for _, s := range snap.Sockets {
		if s.LocalPort != 80 || s.Container == nil || deref(s.Container.Name) != "web8" {
			continue
		}
		found = true
		reach := deref(s.Reach)
		t.Logf("web8: reach %s (%+v); the client got through: %v", reach, s.Firewall, reached)
		switch {
		case reach == "unknown":
			t.Errorf("web8's reach is unknown beside firewalld: %+v", s.Firewall)
		case reached != (reach == "public"):
			t.Errorf("web8: reach %q (%+v), but the client connecting from outside: %v", reach, s.Firewall, reached)
		}
	}
	if !found {
		t.Error("web8's listener is not in the snapshot")
	}
}
