package disable

// The two ways of talking to systemd: D-Bus (go-systemd), and systemctl
// run with an argument vector where D-Bus cannot be reached.

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// dbusSystemd talks to systemd over D-Bus.
type dbusSystemd struct{ c *sdbus.Conn }

func (d dbusSystemd) Close() { d.c.Close() }

func (d dbusSystemd) Sockets(ctx context.Context) ([]socketUnit, error) {
	list, err := d.c.ListUnitsByPatternsContext(ctx, nil, []string{"*.socket"})
	if err != nil {
		return nil, fmt.Errorf("list socket units: %w", err)
	}
	var units []socketUnit
	for _, u := range list {
		prop, err := d.c.GetUnitTypePropertyContext(ctx, u.Name, "Socket", "Listen")
		if err != nil {
			continue // unloaded meanwhile
		}
		entries, _ := prop.Value.Value().([][]any)
		su := socketUnit{Name: u.Name}
		for _, e := range entries {
			if len(e) == 2 {
				typ, _ := e[0].(string)
				addr, _ := e[1].(string)
				su.Listen = append(su.Listen, listenAddr{typ, addr})
			}
		}
		units = append(units, su)
	}
	return units, nil
}

func (d dbusSystemd) TriggeredBy(ctx context.Context, unit string) ([]string, error) {
	prop, err := d.c.GetUnitPropertyContext(ctx, unit, "TriggeredBy")
	if err != nil {
		return nil, fmt.Errorf("ask systemd what triggers %s: %w", unit, err)
	}
	names, _ := prop.Value.Value().([]string)
	return names, nil
}

func (d dbusSystemd) FragmentPath(ctx context.Context, unit string) (string, error) {
	prop, err := d.c.GetUnitPropertyContext(ctx, unit, "FragmentPath")
	if err != nil {
		return "", fmt.Errorf("ask systemd where %s is defined: %w", unit, err)
	}
	frag, _ := prop.Value.Value().(string)
	return frag, nil
}

func (d dbusSystemd) Stop(ctx context.Context, unit string) error {
	done := make(chan string, 1)
	if _, err := d.c.StopUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("stop %s: the job ended %q", unit, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", unit, ctx.Err())
	}
}

func (d dbusSystemd) Disable(ctx context.Context, units []string) error {
	if _, err := d.c.DisableUnitFilesContext(ctx, units, false); err != nil {
		return fmt.Errorf("disable %s: %w", strings.Join(units, " "), err)
	}
	return d.reload(ctx)
}

func (d dbusSystemd) Mask(ctx context.Context, units []string) error {
	if _, err := d.c.MaskUnitFilesContext(ctx, units, false, true); err != nil {
		return fmt.Errorf("mask %s: %w", strings.Join(units, " "), err)
	}
	return d.reload(ctx)
}

func (d dbusSystemd) reload(ctx context.Context) error {
	if err := d.c.ReloadContext(ctx); err != nil {
		return fmt.Errorf("reload systemd: %w", err)
	}
	return nil
}

// systemctl runs the systemctl command, with an argument vector and never
// a shell, where no D-Bus connection is possible.
type systemctl struct{}

func (systemctl) Close() {}

func (systemctl) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "systemctl", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func (s systemctl) Sockets(ctx context.Context) ([]socketUnit, error) {
	out, err := s.run(ctx, "list-units", "--type=socket", "--all", "--plain", "--no-legend", "--no-pager")
	if err != nil {
		return nil, err
	}
	var names []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasSuffix(f[0], ".socket") {
			names = append(names, f[0])
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	out, err = s.run(ctx, append([]string{"show", "--property=Id,Listen", "--"}, names...)...)
	if err != nil {
		return nil, err
	}
	return parseShowListen(out), nil
}

// parseShowListen reads `systemctl show --property=Id,Listen` output: one
// block per unit, "Listen=127.0.0.1:7 (Stream)" once per address.
func parseShowListen(out string) []socketUnit {
	var units []socketUnit
	for block := range strings.SplitSeq(out, "\n\n") {
		var u socketUnit
		for line := range strings.Lines(block) {
			key, val, _ := strings.Cut(strings.TrimSpace(line), "=")
			switch key {
			case "Id":
				u.Name = val
			case "Listen":
				if open := strings.LastIndex(val, " ("); open > 0 && strings.HasSuffix(val, ")") {
					u.Listen = append(u.Listen, listenAddr{Type: val[open+2 : len(val)-1], Address: val[:open]})
				}
			}
		}
		if u.Name != "" {
			units = append(units, u)
		}
	}
	return units
}

func (s systemctl) TriggeredBy(ctx context.Context, unit string) ([]string, error) {
	out, err := s.run(ctx, "show", "--property=TriggeredBy", "--value", "--", unit)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

func (s systemctl) FragmentPath(ctx context.Context, unit string) (string, error) {
	out, err := s.run(ctx, "show", "--property=FragmentPath", "--value", "--", unit)
	return strings.TrimSpace(out), err
}

func (s systemctl) Stop(ctx context.Context, unit string) error {
	_, err := s.run(ctx, "stop", "--", unit)
	return err
}

func (s systemctl) Disable(ctx context.Context, units []string) error {
	_, err := s.run(ctx, append([]string{"disable", "--"}, units...)...)
	return err
}

func (s systemctl) Mask(ctx context.Context, units []string) error {
	_, err := s.run(ctx, append([]string{"mask", "--"}, units...)...)
	return err
}
