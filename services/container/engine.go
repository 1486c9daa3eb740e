package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
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
	return info, nil
}
