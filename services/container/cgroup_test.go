package container

import "testing"

func TestFromCgroup(t *testing.T) {
	const id = "a38de34a889efe3a3a2bad4cca047f008f05b3c89a04d281ffa642a7d99f1ccc"
	tests := []struct {
		cgroup string
		want   Ref
		ok     bool
	}{
		{"/docker/" + id, Ref{"docker", id}, true},
		{"/system.slice/docker-" + id + ".scope", Ref{"docker", id}, true},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-" + id + ".scope", Ref{"containerd", id}, true},
		{"/kubepods/burstable/pod0e6c2b6a-6f1f-4d55-9a5b-1c1c0d6e8a41/" + id, Ref{"containerd", id}, true},
		{"/machine.slice/libpod-" + id + ".scope", Ref{"podman", id}, true},
		{"/machine.slice/libpod-" + id + ".scope/container", Ref{"podman", id}, true},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/crio-" + id + ".scope", Ref{"cri-o", id}, true},
		{"/lxc/web", Ref{"lxc", "web"}, true},
		{"/lxc.payload.web", Ref{"lxc", "web"}, true},
		{"/lxc.payload/web/init.scope", Ref{"lxc", "web"}, true},
		{"/system.slice/ssh.service", Ref{}, false},
		{"/user.slice/user-1000.slice/session-3.scope", Ref{}, false},
		{"/system.slice/docker.service", Ref{}, false},
		{"/", Ref{}, false},
		{"", Ref{}, false},
		{"/docker/not-an-id", Ref{}, false},
	}
	for _, tt := range tests {
		got, ok := FromCgroup(tt.cgroup)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FromCgroup(%q) = %+v, %v; want %+v, %v", tt.cgroup, got, ok, tt.want, tt.ok)
		}
	}
	if s := (Ref{"docker", id}).Short(); s != id[:12] {
		t.Errorf("Short = %q", s)
	}
}
