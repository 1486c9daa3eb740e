package action

import (
	"os/exec"
	"strings"

	"github.com/portwarden/portwarden/services/origin"
)

// ComesBack says when killing a process will not keep it away: a systemd
// unit with Restart= restarts it, a socket unit starts it again on the
// next connection, an inetd-style super-server likewise. "" when nothing
// known will bring it back.
func ComesBack(info origin.Info) string {
	if info.Inetd != "" {
		return "it was started by " + info.Inetd + ", which starts it again on the next connection: disable the service instead (d)"
	}
	if info.Unit == "" {
		return ""
	}
	// systemctl with an argument vector, never a shell.
	out, err := exec.Command("systemctl", "show", "--property=Restart", "--property=TriggeredBy", "--", info.Unit).Output()
	if err != nil {
		return ""
	}
	var restart string
	var sockets []string
	for line := range strings.Lines(string(out)) {
		key, val, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch key {
		case "Restart":
			restart = val
		case "TriggeredBy":
			for _, u := range strings.Fields(val) {
				if strings.HasSuffix(u, ".socket") {
					sockets = append(sockets, u)
				}
			}
		}
	}
	switch {
	case len(sockets) > 0:
		return "its systemd unit " + info.Unit + " is started by " + strings.Join(sockets, " ") + " on the next connection: disable the service instead (d)"
	case restart != "" && restart != "no":
		return "its systemd unit " + info.Unit + " has Restart=" + restart + ", so systemd will start it again: disable the service instead (d)"
	}
	return ""
}
