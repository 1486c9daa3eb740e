// Package container says which container a process belongs to: the
// runtime and ID from its control group, then the name, image and (for
// Kubernetes) pod from the runtime's own API, asked off the refresh path
// and cached.
package container

import (
	"strings"
)

// Ref names a container by its runtime and ID.
type Ref struct {
	Runtime string // "docker", "containerd", "podman", "lxc"
	ID      string // the runtime's ID (64 hex digits), or the LXC name
}

// Short is the ID as admins read it: 12 characters of a hex ID.
func (r Ref) Short() string {
	if len(r.ID) == 64 && isHex(r.ID) {
		return r.ID[:12]
	}
	return r.ID
}

// FromCgroup reads a process's container from its control group path:
//
//	/docker/<id>, /system.slice/docker-<id>.scope                 docker
//	…/cri-containerd-<id>.scope, /kubepods/…/<id>                 containerd (Kubernetes)
//	…/libpod-<id>.scope, /libpod_parent/libpod-<id>               podman
//	/lxc/<name>, /lxc.payload.<name>, /lxc.payload/<name>         lxc
//
// The innermost match wins; ok is false for a process in no container.
func FromCgroup(cgroup string) (ref Ref, ok bool) {
	parts := strings.Split(strings.Trim(cgroup, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		el := parts[i]
		base := strings.TrimSuffix(el, ".scope")
		switch {
		case strings.HasPrefix(base, "docker-") && isHex(base[7:]) && len(base[7:]) == 64:
			return Ref{"docker", base[7:]}, true
		case strings.HasPrefix(base, "cri-containerd-") && isHex(base[15:]):
			return Ref{"containerd", base[15:]}, true
		case strings.HasPrefix(base, "crio-") && isHex(base[5:]):
			return Ref{"cri-o", base[5:]}, true
		case strings.HasPrefix(base, "libpod-") && isHex(base[7:]) && len(base[7:]) == 64:
			return Ref{"podman", base[7:]}, true
		case strings.HasPrefix(el, "lxc.payload."):
			return Ref{"lxc", strings.TrimPrefix(el, "lxc.payload.")}, true
		case len(el) == 64 && isHex(el) && i > 0:
			switch parent := parts[i-1]; {
			case parent == "docker":
				return Ref{"docker", el}, true
			case strings.HasPrefix(parent, "pod") || strings.HasPrefix(parts[0], "kubepods"):
				return Ref{"containerd", el}, true
			}
		case i > 0 && (parts[i-1] == "lxc" || parts[i-1] == "lxc.payload") && el != "":
			return Ref{"lxc", el}, true
		}
	}
	return Ref{}, false
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
