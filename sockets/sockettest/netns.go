//go:build linux

package sockettest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/portwarden/portwarden/internal/netns"
)

// ExternalPeer is a network namespace joined to this one by a veth pair,
// with documentation addresses on both ends and no default route: sockets
// made inside it look like an external host to this one, and no traffic
// can leave the machine.
type ExternalPeer struct {
	Name                 string     // namespace name
	Host4, Peer4         netip.Addr // host end (.1) and namespace end (.7)
	Host6, Peer6         netip.Addr
	hostLink, peerLink   string
	created, linkCreated bool
}

// NewExternalPeer makes a namespace with the peer end of a veth pair. net4
// and net6 must be subnets of the documentation prefixes 198.51.100.0/24
// and 2001:db8::/32 not used by another test running at the same time.
// (203.0.113.0/24 and 192.0.2.0/24 are this machine's own networks: never
// on a host-side link.)
func NewExternalPeer(net4, net6 netip.Prefix) (*ExternalPeer, error) {
	if !net4.Addr().Is4() || !net6.Addr().Is6() {
		return nil, errors.New("sockettest: want an IPv4 and an IPv6 prefix")
	}
	// Unique per process and per prefix, and short: link names stop at 15 bytes.
	a := net4.Masked().Addr().As4()
	id := fmt.Sprintf("%d-%x%x", os.Getpid()%100000, a[2], a[3])
	p := &ExternalPeer{
		Name:     "pw-ext-" + id,
		hostLink: "pwh" + id,
		peerLink: "pwp" + id,
		Host4:    nth(net4.Masked().Addr(), 1), Peer4: nth(net4.Masked().Addr(), 7),
		Host6: nth(net6.Masked().Addr(), 1), Peer6: nth(net6.Masked().Addr(), 7),
	}
	if len(p.hostLink) > 15 {
		return nil, fmt.Errorf("sockettest: link name %q too long", p.hostLink)
	}
	steps := [][]string{
		{"netns", "add", p.Name},
		{"link", "add", p.hostLink, "type", "veth", "peer", "name", p.peerLink, "netns", p.Name},
		{"addr", "add", fmt.Sprintf("%s/%d", p.Host4, net4.Bits()), "dev", p.hostLink},
		{"addr", "add", fmt.Sprintf("%s/%d", p.Host6, net6.Bits()), "dev", p.hostLink, "nodad"},
		{"link", "set", p.hostLink, "up"},
		{"-n", p.Name, "addr", "add", fmt.Sprintf("%s/%d", p.Peer4, net4.Bits()), "dev", p.peerLink},
		{"-n", p.Name, "addr", "add", fmt.Sprintf("%s/%d", p.Peer6, net6.Bits()), "dev", p.peerLink, "nodad"},
		{"-n", p.Name, "link", "set", p.peerLink, "up"},
		{"-n", p.Name, "link", "set", "lo", "up"},
	}
	for i, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			p.Close()
			return nil, fmt.Errorf("sockettest: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		p.created = true
		p.linkCreated = i >= 1
	}
	return p, nil
}

func nth(base netip.Addr, n int) netip.Addr {
	b := base.AsSlice()
	b[len(b)-1] += byte(n)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// AddHostAddress adds a (within the peer's IPv4 network) to the host end
// of the link, so that the host can also connect from it: a second
// client. remove takes it away; the link's removal does too.
func (p *ExternalPeer) AddHostAddress(a netip.Addr) (remove func() error, err error) {
	pfx := netip.PrefixFrom(a, 32).String()
	if out, err := exec.Command("ip", "addr", "add", pfx, "dev", p.hostLink).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sockettest: ip addr add %s dev %s: %v: %s", pfx, p.hostLink, err, out)
	}
	return func() error {
		if out, err := exec.Command("ip", "addr", "del", pfx, "dev", p.hostLink).CombinedOutput(); err != nil {
			return fmt.Errorf("sockettest: ip addr del %s dev %s: %v: %s", pfx, p.hostLink, err, out)
		}
		return nil
	}, nil
}

// Do runs fn on an OS thread moved into the namespace: sockets fn creates
// belong to the namespace (and to this process).
func (p *ExternalPeer) Do(fn func() error) error { return netns.Do("/var/run/netns/"+p.Name, fn) }

// Command returns a command that runs inside the namespace.
func (p *ExternalPeer) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", p.Name, name}, args...)...)
}

// Close removes the veth pair and the namespace.
func (p *ExternalPeer) Close() error {
	var errs []error
	if p.linkCreated {
		if out, err := exec.Command("ip", "link", "del", p.hostLink).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", p.hostLink, err, out))
		}
	}
	if p.created {
		if out, err := exec.Command("ip", "netns", "del", p.Name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", p.Name, err, out))
		}
	}
	return errors.Join(errs...)
}
