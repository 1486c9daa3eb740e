//go:build linux

package signs

import (
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/portwarden/portwarden/safetext"
	"github.com/portwarden/portwarden/sockets"
)

// shells are the shells and interpreters that become a command line when
// their standard streams are a network socket; nc, ncat and socat serve
// one when they run a program (the program is then the shell that is
// caught).
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true,
	"csh": true, "tcsh": true, "ash": true, "fish": true, "busybox": true, "python": true, "python2": true,
	"python3": true, "perl": true, "ruby": true, "php": true, "lua": true, "node": true, "nc": true,
	"ncat": true, "netcat": true, "socat": true, "telnet": true, "awk": true, "gawk": true}

// shellOnSocket says which standard streams of a shell are network
// sockets: "its stdin, stdout and stderr are a TCP connection to …"; ""
// when none is, or p is no shell.
func shellOnSocket(dir string, p *sockets.Process, exe string, network Network) string {
	name := p.Name
	if !shells[name] && !shells[path.Base(exe)] && !shells[strings.TrimRight(path.Base(exe), "0123456789.")] {
		return ""
	}
	var streams []string
	desc := ""
	for fd, stream := range []string{"stdin", "stdout", "stderr"} {
		target, err := os.Readlink(dir + "/fd/" + strconv.Itoa(fd))
		inode, ok := strings.CutPrefix(target, "socket:[")
		if err != nil || !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(inode, "]"), 10, 64)
		if err != nil {
			continue
		}
		if d, ok := network(n); ok {
			streams = append(streams, stream)
			desc = d
		}
	}
	if len(streams) == 0 {
		return ""
	}
	what := strings.Join(streams, ", ")
	if len(streams) > 1 {
		what = strings.Join(streams[:len(streams)-1], ", ") + " and " + streams[len(streams)-1]
	}
	return safetext.Visible(name) + "'s " + what + " " + map[bool]string{true: "are", false: "is"}[len(streams) > 1] + " " + desc
}

// mimics returns the name under which a user-space process (it has an
// executable) passes for a kernel thread: an argv[0] in brackets
// ("[kworker/0:2]"), or a name or argv[0] kernel threads go by
// ("kworker/1:1", set with prctl); "" when it does not.
func mimics(p *sockets.Process) string {
	if p.Exe == "" {
		return ""
	}
	n := commandName(p)
	if len(n) > 2 && n[0] == '[' && n[len(n)-1] == ']' {
		return n
	}
	for _, name := range []string{p.Name, n} {
		if kernelThreadName(name) {
			return name
		}
	}
	return ""
}

// kernelThreadPrefixes and kernelThreadNames are the names kernel threads
// go by (ps -o comm --ppid 2): per-CPU and per-device ones by prefix.
var kernelThreadPrefixes = []string{"kworker/", "ksoftirqd/", "migration/", "cpuhp/", "watchdog/", "irq/",
	"jbd2/", "xfsaild/", "scsi_eh_", "scsi_tmf_", "kswapd", "kcompactd", "rcu_", "idle_inject/", "kthreadd"}

var kernelThreadNames = map[string]bool{"khungtaskd": true, "kauditd": true, "kdevtmpfs": true, "oom_reaper": true,
	"writeback": true, "kblockd": true, "ksmd": true, "khugepaged": true, "kintegrityd": true, "kstrp": true,
	"netns": true, "kthrotld": true, "ipv6_addrconf": true, "mm_percpu_wq": true, "inet_frag_wq": true,
	"ext4-rsv-conver": true, "edac-poller": true, "devfreq_wq": true, "watchdogd": true, "kworker": true}

// kernelThreadName reports whether name is one a kernel thread goes by.
func kernelThreadName(name string) bool {
	if kernelThreadNames[name] {
		return true
	}
	for _, pre := range kernelThreadPrefixes {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}

// claimedName is the program argv[0] names: "sshd: root@notty" claims
// sshd, "/usr/sbin/nginx" nginx.
func claimedName(p *sockets.Process) string {
	if len(p.Cmdline) == 0 {
		return ""
	}
	first, _, _ := strings.Cut(p.Cmdline[0], " ")
	return path.Base(strings.TrimSuffix(first, ":"))
}

// commandName is what a process list shows: argv[0], else comm.
func commandName(p *sockets.Process) string {
	if len(p.Cmdline) > 0 && p.Cmdline[0] != "" {
		return p.Cmdline[0]
	}
	return p.Name
}

// daemons are names malware borrows, with the binaries that rightly run
// under each.
var daemons = map[string][]string{
	"sshd": {"sshd", "sshd-session", "sshd-auth"}, "cron": {"cron"}, "crond": {"crond"}, "nginx": {"nginx"}, "apache2": {"apache2"},
	"httpd": {"httpd"}, "mysqld": {"mysqld", "mariadbd"}, "mariadbd": {"mariadbd"}, "postgres": {"postgres"},
	"redis-server": {"redis-server", "redis-check-rdb"}, "rsyslogd": {"rsyslogd"}, "dockerd": {"dockerd"},
	"containerd": {"containerd"}, "dnsmasq": {"dnsmasq"}, "named": {"named"}, "sendmail": {"sendmail", "sendmail-mta"},
	"systemd": {"systemd"}, "init": {"systemd", "init", "busybox"}, "kthreadd": {},
}

// knownName returns a daemon's name when comm claims one, else "".
func knownName(comm string) string {
	if _, ok := daemons[comm]; ok {
		return comm
	}
	return ""
}

// sameProgram reports whether exe (a base name) is one a daemon named
// name rightly runs.
func sameProgram(name, exe string) bool {
	for _, b := range daemons[name] {
		if exe == b {
			return true
		}
	}
	return false
}

// preload names what is preloaded into the process: LD_PRELOAD in its
// environment, or /etc/ld.so.preload in its root; "" for nothing.
func preload(dir string) (string, error) {
	env, err := os.ReadFile(dir + "/environ")
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil // gone
		}
		return "", err
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "LD_PRELOAD="); ok && strings.TrimSpace(v) != "" {
			return "LD_PRELOAD=" + quote(v) + " in its environment", nil
		}
	}
	if b, err := os.ReadFile(dir + "/root/etc/ld.so.preload"); err == nil && strings.TrimSpace(string(b)) != "" {
		return "/etc/ld.so.preload preloads " + quote(strings.TrimSpace(string(b))) + " into every program", nil
	}
	return "", nil
}
