package signs

import (
	"path"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/services/bpffilter"
	"github.com/portwarden/portwarden/sockets"
)

// rawHolders are the programs that rightly hold packet or raw sockets, by
// the base name of their executable, with what each is. They count only
// when run from a system directory; a busybox applet is named by argv.
var rawHolders = map[string]string{
	"dhclient": "a DHCP client", "dhcpcd": "a DHCP client", "udhcpc": "a DHCP client", "dhcpd": "a DHCP server",
	"kea-dhcp4": "a DHCP server", "kea-dhcp6": "a DHCP server", "dnsmasq": "a DHCP and DNS server",
	"NetworkManager": "NetworkManager", "systemd-networkd": "systemd's network manager",
	"wpa_supplicant": "the Wi-Fi and 802.1X supplicant", "hostapd": "a Wi-Fi access point daemon",
	"lldpd": "an LLDP daemon", "lldpad": "an LLDP daemon", "ladvd": "an LLDP daemon",
	"keepalived": "a VRRP daemon", "radvd": "an IPv6 router advertisement daemon",
	"bird": "a routing daemon", "bird6": "a routing daemon", "ospfd": "a routing daemon", "ospf6d": "a routing daemon",
	"isisd": "a routing daemon", "pimd": "a multicast routing daemon", "ptp4l": "a PTP clock daemon",
	"tcpdump": "a packet capture", "tshark": "a packet capture", "dumpcap": "a packet capture",
	"wireshark": "a packet capture", "arpwatch": "an ARP monitor", "suricata": "an intrusion detection system",
	"snort": "an intrusion detection system", "zeek": "a network monitor", "iftop": "a traffic monitor",
	"ping": "ping", "ping6": "ping", "arping": "arping", "traceroute": "traceroute", "mtr-packet": "mtr",
	"cilium-agent": "Cilium's agent", "calico-node": "Calico's agent", "ovs-vswitchd": "Open vSwitch",
	"portwarden": "portwarden",
}

// ExpectedRawHolder names what p is when it is a program that rightly
// holds packet or raw sockets ("a DHCP client"); "" when it is not one,
// or runs from outside the system's directories.
func ExpectedRawHolder(p *sockets.Process) string {
	exe := strings.TrimSuffix(p.Exe, " (deleted)")
	if exe == "" || exe != p.Exe || !systemDir(path.Dir(exe)) {
		return ""
	}
	name := path.Base(exe)
	if name == "busybox" { // the applet: argv[0] (a link), or "busybox udhcpc"
		args := p.Cmdline
		if len(args) > 1 && path.Base(args[0]) == "busybox" {
			args = args[1:]
		}
		if len(args) == 0 {
			return ""
		}
		name = path.Base(args[0])
	}
	return rawHolders[name]
}

// OfRaw returns the signs of p's packet and raw sockets: one for holding
// them, unless p is a program that rightly does, and one for each whose
// filter waits for a magic packet, whoever holds it.
func OfRaw(p *sockets.Process, held []*sockets.RawSocket) []Sign {
	var out []Sign
	expected := ExpectedRawHolder(p)
	var packets, raws []string
	for _, r := range held {
		if t := bpffilter.Triggers(r.Filter); len(t) > 0 {
			out = append(out, Sign{Code: MagicFilter, Risk: MagicFilter.Risk(), Detail: "the filter on its " + r.String() + " waits for " + triggerList(t)})
		}
		if expected != "" {
			continue
		}
		desc := r.String() + filterNote(r)
		if r.Kind == sockets.PacketSocket {
			packets = append(packets, desc)
		} else {
			raws = append(raws, desc)
		}
	}
	exe := p.Exe
	if exe == "" {
		exe = "an executable that could not be read"
	}
	if len(packets) > 0 {
		out = append(out, Sign{Code: PacketSocket, Risk: PacketSocket.Risk(),
			Detail: quote(exe) + " holds " + safeList(packets) + ", and is no program known to need one"})
	}
	if len(raws) > 0 {
		out = append(out, Sign{Code: RawSocket, Risk: RawSocket.Risk(),
			Detail: quote(exe) + " holds " + safeList(raws) + ", and is no program known to need one"})
	}
	return out
}

// filterNote says what is known of a raw socket's filter.
func filterNote(r *sockets.RawSocket) string {
	switch r.FilterState {
	case sockets.FilterAttached:
		return " (a filter of " + strconv.Itoa(len(r.Filter)) + " instructions)"
	case sockets.FilterEBPF:
		return " (an eBPF filter, which cannot be read back)"
	case sockets.FilterUnread:
		return " (its filter could not be read)"
	}
	return ""
}

func triggerList(t []bpffilter.Trigger) string {
	parts := make([]string, len(t))
	for i, x := range t {
		parts[i] = x.String()
	}
	return "packets where " + strings.Join(parts, ", or ")
}

func safeList(items []string) string {
	if len(items) == 1 {
		return "a " + items[0]
	}
	return strconv.Itoa(len(items)) + " sockets: " + strings.Join(items, "; ")
}

// systemDir reports whether dir is where a distribution installs daemons.
func systemDir(dir string) bool {
	switch dir {
	case "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/libexec", "/usr/lib/systemd", "/lib/systemd",
		"/usr/lib/openssh", "/usr/local/sbin", "/usr/local/bin":
		return true
	}
	return strings.HasPrefix(dir, "/usr/lib/") || strings.HasPrefix(dir, "/opt/")
}
