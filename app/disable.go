package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portwarden/portwarden/services/action"
	"github.com/portwarden/portwarden/services/audit"
	"github.com/portwarden/portwarden/services/container"
	"github.com/portwarden/portwarden/services/disable"
	"github.com/portwarden/portwarden/sockets"
)

// DisablePlan is how to keep the services behind some listeners from
// coming back: one plan per service, each with its exact steps.
type DisablePlan struct {
	Services []*disable.Plan
	// Dangers say how the plan cuts the admin's own session; it runs only
	// when forced.
	Dangers []string
}

// DisableSockets resolves what the admin named — a PID, tcp/PORT,
// udp/PORT, :PORT or ADDR:PORT — to listening sockets in snap.
func (a *App) DisableSockets(snap *sockets.Snapshot, arg string) ([]*sockets.Socket, error) {
	pid, err := strconv.Atoi(arg)
	if err != nil {
		return action.Listeners(snap, arg)
	}
	var socks []*sockets.Socket
	for _, s := range snap.HeldBy(pid).Sockets {
		if s.Listening() {
			socks = append(socks, s)
		}
	}
	if len(socks) == 0 {
		return nil, fmt.Errorf("pid %d holds no listening socket", pid)
	}
	return socks, nil
}

// PlanDisable finds what starts the services behind socks — never guessed
// — and the steps that stop and disable (or mask) them. Sockets served by
// the same service share one plan. A socket of a container (as containers,
// the index of the snapshot the admin saw, names it) is disabled by
// stopping the container and setting its restart policy to "no".
func (a *App) PlanDisable(containers *container.Index, socks []*sockets.Socket, how disable.How) (*DisablePlan, error) {
	if a.opts.ReadOnly {
		return nil, ErrReadOnly
	}
	env := disable.Env{ProcRoot: procRoot, Services: servicesFile}
	p := &DisablePlan{}
	seen := map[string]bool{}
	for _, s := range socks {
		plan, err := a.planContainer(containers.Of(s), s, how)
		if plan == nil && err == nil {
			plan, err = disable.For(env, s, how)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", s.Proto, s.Local, err)
		}
		if danger := a.session.DisableDanger(s); danger != "" && !slices.Contains(p.Dangers, danger) {
			p.Dangers = append(p.Dangers, danger)
		}
		if key := plan.String() + " " + plan.Steps[0].Describe; !seen[key] {
			seen[key] = true
			p.Services = append(p.Services, plan)
		}
	}
	return p, nil
}

// Disable makes the planned changes, service by service, and records each.
// A plan with dangers is refused and recorded unless forced.
func (a *App) Disable(p *DisablePlan, forced bool) error {
	var refusal error
	switch {
	case a.opts.ReadOnly:
		refusal = ErrReadOnly
	case len(p.Dangers) > 0 && !forced:
		refusal = ErrOwnSession
	}
	var errs []error
	for _, s := range p.Services {
		var err error
		if err = refusal; err == nil {
			if err = s.Run(); err != nil {
				err = fmt.Errorf("disable %s: %w", s, err)
			}
		}
		errs = append(errs, a.record(disableRecord(s), err))
	}
	if refusal != nil {
		return refusal
	}
	return errors.Join(errs...)
}

// disableRecord is the audit record of a disable plan: the process that
// held the socket, and every step.
func disableRecord(p *disable.Plan) audit.Record {
	steps := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		steps[i] = s.Describe
	}
	return audit.Record{Action: "disable", Target: auditProcess(p.Holder), Detail: p.String() + ": " + strings.Join(steps, "; ")}
}

// planContainer is the plan for a socket of container c: stop it through
// its engine and keep it from coming back. nil, nil when c is nil (not a
// container's socket).
func (a *App) planContainer(c *container.Info, s *sockets.Socket, how disable.How) (*disable.Plan, error) {
	if c == nil {
		return nil, nil
	}
	eng := a.containers.Engine(c.Ref)
	switch {
	case how == disable.Mask:
		return nil, &disable.Unsupported{Reason: "masking is for systemd units; " + c.Label() + " is a container (leave out --mask)"}
	case eng == nil || c.Name == "":
		return nil, &disable.Unsupported{Reason: fmt.Sprintf("the socket belongs to %s container %s, and its engine cannot be asked (is it running? DOCKER_HOST?): stop it with the runtime's own tools", c.Runtime, c.Short())}
	}
	id, name := c.ID, c.Name
	act := func(f func(context.Context, string) error) func() error {
		return func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return f(ctx, id)
		}
	}
	plan := &disable.Plan{Manager: c.Runtime, Service: name, Steps: []disable.Step{
		disable.NewStep("stop container "+name+" ("+c.Short()+", image "+c.Image+")", act(eng.Stop)),
		disable.NewStep("set the restart policy of "+name+" to \"no\" (it was \""+c.Restart+"\"), so that neither "+c.Runtime+" nor a reboot starts it again", act(eng.NoRestart)),
	}, Note: "The container is kept, stopped: `" + c.Runtime + " start " + name + "` brings it back."}
	if len(s.Processes) > 0 {
		plan.Holder = action.TargetOf(s.Processes[0])
	}
	return plan, nil
}
