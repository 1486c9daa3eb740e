package origin

import "testing"

func TestUnit(t *testing.T) {
	tests := map[string]string{
		"/system.slice/nginx.service":                              "nginx.service",
		"/system.slice/system-getty.slice/getty@tty1.service":      "getty@tty1.service",
		"/user.slice/user-1000.slice/session-3.scope":              "session-3.scope",
		"/system.slice/docker-abc.scope/init.scope":                "init.scope",
		"/box/system.slice/redis-server.service":                   "redis-server.service",
		"/system.slice/containerd.service/kubepods/burstable/podx": "containerd.service",
		"/": "", "": "", "/process_api/4178": "",
	}
	for cg, want := range tests {
		if got := Unit(cg); got != want {
			t.Errorf("Unit(%q) = %q, want %q", cg, got, want)
		}
	}
}
