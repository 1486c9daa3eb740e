package container

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Info is what portwarden knows of a container.
type Info struct {
	Ref
	Name  string // without Docker's leading "/"; "" until the engine answers
	Image string
	// Kubernetes: the pod and its namespace, from the CRI labels.
	Pod, Namespace string
	// Restart is the engine's restart policy ("no", "always",
	// "unless-stopped", "on-failure"): whether a kill brings it back.
	Restart string
	// Ports are its published ports, as the engine records them.
	Ports []Binding
	// IPs are its addresses on the engine's networks.
	IPs []netip.Addr
}

// Binding is a container port published on a host address.
type Binding struct {
	Proto         string // "tcp" or "udp"
	ContainerPort uint16
	Host          netip.AddrPort // 0.0.0.0 for every IPv4 address
}

// Label names the container for people: its name, else runtime:short-id.
func (i *Info) Label() string {
	if i.Name != "" {
		return i.Name
	}
	return i.Runtime + ":" + i.Short()
}

// Engine is a container engine's API: Docker's, or Podman's compatible
// one, on a unix socket.
type Engine struct {
	Runtime string // the runtime its containers have ("docker", "podman")
	Socket  string // the unix socket's path
	client  *http.Client
}

// DefaultEngines are the engines asked about containers: Docker at
// $DOCKER_HOST (a unix:// address) or /run/docker.sock, and Podman's
// compatible API at /run/podman/podman.sock.
func DefaultEngines() []*Engine {
	docker := "/run/docker.sock"
	if host := os.Getenv("DOCKER_HOST"); strings.HasPrefix(host, "unix://") {
		docker = strings.TrimPrefix(host, "unix://")
	}
	return []*Engine{NewEngine("docker", docker), NewEngine("podman", "/run/podman/podman.sock")}
}

// NewEngine returns the API of the engine at a unix socket.
func NewEngine(runtime, socket string) *Engine {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	return &Engine{Runtime: runtime, Socket: socket, client: &http.Client{Transport: &http.Transport{DialContext: dial}}}
}

// errNotFound is the engine's answer for a container it does not know.
var errNotFound = errors.New("no such container")

// Inspect asks the engine about one container. Names, images and labels
// come from whoever started the container: treat them as hostile text.
func (e *Engine) Inspect(ctx context.Context, id string) (Info, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://engine/containers/"+url.PathEscape(id)+"/json", nil)
	if err != nil {
		return Info{}, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return Info{}, fmt.Errorf("%s engine at %s: %w", e.Runtime, e.Socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return Info{}, errNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return Info{}, fmt.Errorf("%s engine at %s: %s", e.Runtime, e.Socket, resp.Status)
	}
	var c struct {
		ID     string `json:"Id"`
		Name   string
		Config struct {
			Image  string
			Labels map[string]string
		}
		HostConfig struct {
			RestartPolicy struct{ Name string }
		}
		NetworkSettings struct {
			Ports    map[string][]struct{ HostIp, HostPort string }
			Networks map[string]struct{ IPAddress, GlobalIPv6Address string }
		}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&c); err != nil {
		return Info{}, fmt.Errorf("%s engine at %s: %w", e.Runtime, e.Socket, err)
	}
	info := Info{Ref: Ref{e.Runtime, c.ID}, Name: strings.TrimPrefix(c.Name, "/"), Image: c.Config.Image,
		Pod: c.Config.Labels["io.kubernetes.pod.name"], Namespace: c.Config.Labels["io.kubernetes.pod.namespace"],
		Restart: c.HostConfig.RestartPolicy.Name}
	if info.Restart == "" {
		info.Restart = "no"
	}
	for spec, hosts := range c.NetworkSettings.Ports {
		port, proto, _ := strings.Cut(spec, "/") // "80/tcp"
		cport, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			continue
		}
		for _, h := range hosts {
			ip, err1 := netip.ParseAddr(h.HostIp)
			hport, err2 := strconv.ParseUint(h.HostPort, 10, 16)
			if err1 == nil && err2 == nil {
				info.Ports = append(info.Ports, Binding{Proto: proto, ContainerPort: uint16(cport), Host: netip.AddrPortFrom(ip, uint16(hport))})
			}
		}
	}
	for _, n := range c.NetworkSettings.Networks {
		for _, a := range []string{n.IPAddress, n.GlobalIPv6Address} {
			if ip, err := netip.ParseAddr(a); err == nil {
				info.IPs = append(info.IPs, ip)
			}
		}
	}
	slices.SortFunc(info.Ports, func(a, b Binding) int { return cmp.Compare(a.Host.Port(), b.Host.Port()) })
	return info, nil
}

// Stop stops a container (the engine's own grace period, then SIGKILL).
func (e *Engine) Stop(ctx context.Context, id string) error {
	return e.post(ctx, "/containers/"+url.PathEscape(id)+"/stop", "")
}

// NoRestart sets a container's restart policy to "no", so that neither the
// engine nor a reboot starts it again.
func (e *Engine) NoRestart(ctx context.Context, id string) error {
	return e.post(ctx, "/containers/"+url.PathEscape(id)+"/update", `{"RestartPolicy":{"Name":"no"}}`)
}

func (e *Engine) post(ctx context.Context, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://engine"+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s engine at %s: %w", e.Runtime, e.Socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified { // 304: already stopped
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s engine at %s: %s: %s", e.Runtime, e.Socket, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
