package action

import (
	"os/exec"
	"strings"

	"github.com/portwarden/portwarden/services/origin"
)

// ComesBack says when killing a process will not keep it away: a systemd
// unit with Restart= restarts it, an inetd-style super-server starts it on
// the next connection. "" when nothing known will bring it back.
func ComesBack(info origin.Info) string {
	if info.Inetd != "" {
		return "it was started by " + info.Inetd + ", which starts it again on the next connection: disable the service instead (d)"
	}
	if info.Unit == "" {
		return ""
	}
	// systemctl with an argument vector, never a shell.
	out, err := exec.Command("systemctl", "show", "--property=Restart", "--value", "--", info.Unit).Output()
	restart := strings.TrimSpace(string(out))
	if err != nil || restart == "" || restart == "no" {
		return ""
	}
	return "its systemd unit " + info.Unit + " has Restart=" + restart + ", so systemd will start it again: disable the service instead (d)"
}
