package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portwarden/portwarden/services/catalog"
	"github.com/portwarden/portwarden/services/paths"
)

// configKeys maps each key of the config file to the flag it sets. A flag
// given on the command line wins over the file.
var configKeys = map[string]string{
	"interval":          "interval",
	"kill_wait":         "kill-wait",
	"trace":             "trace",
	"read_only":         "read-only",
	"baseline":          "baseline",
	"audit_log":         "audit-log",
	"netns":             "netns",
	"fail_on":           "fail-on",
	"fail_on_external":  "fail-on-external",
	"fail_on_sign":      "fail-on-sign",
	"internal_networks": "internal-networks",
	"history_db":        "db",
	"history_max_age":   "max-age",
	"history_max_size":  "max-size",
	"auth_log":          "auth-log",
	"geoip_dir":         "geoip-dir",
	"no_dns":            "no-dns",
	"bulk_outbound":     "bulk-outbound",
}

// configAliases names the flag a key sets on the commands that spell it
// otherwise.
var configAliases = map[string]string{
	"history_db": "history-db", // check
}

// DefaultConfigPath is /etc/portwarden/config.toml for root, else
// $XDG_CONFIG_HOME/portwarden/config.toml (~/.config by default).
func DefaultConfigPath() string { return paths.ConfigFile("config.toml") }

// applyConfig reads the config file and sets every flag of cmd the admin
// did not give. The default file may be missing (or unreadable: another
// user's $HOME); one named by --config may not. An unknown key or a bad value is bad usage, naming the line.
func applyConfig(cmd *cobra.Command, path string, explicit bool) error {
	text, err := os.ReadFile(path)
	if !explicit && (errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission)) {
		return nil // no config here (or another user's $HOME, under sudo -u)
	}
	if err != nil {
		return broken(fmt.Errorf("config: %w", err))
	}
	var values map[string]any
	if _, err := toml.Decode(string(text), &values); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return badConfig("%s:%d:%d: %s", path, pe.Position.Line, pe.Position.Col, pe.Message)
		}
		return badConfig("%s: %v", path, err)
	}
	for key, v := range values {
		name, ok := configKeys[key]
		if !ok {
			return badConfig("%s:%d: unknown key %q (known: %s)", path, lineOf(text, key), key, knownKeys())
		}
		value, err := flagValue(v)
		if err == nil {
			err = checkValue(key, value) // every key, whichever command reads it
		}
		f := cmd.Flags().Lookup(name)
		if f == nil {
			f = cmd.Flags().Lookup(configAliases[key])
		}
		if err == nil && f != nil && !f.Changed {
			err = f.Value.Set(value) // a flag given on the command line wins
		}
		if err != nil {
			return badConfig("%s:%d: %s: %v", path, lineOf(text, key), key, err)
		}
	}
	return nil
}

// checkValue says what is wrong with a key's value, before any command
// uses it.
func checkValue(key, value string) error {
	switch key {
	case "interval", "kill_wait":
		_, err := time.ParseDuration(value)
		return err
	case "history_max_age":
		_, err := parseAge(value)
		return err
	case "history_max_size":
		_, err := parseSize(value)
		return err
	case "bulk_outbound":
		_, err := parseBulkOutbound(value)
		return err
	case "read_only":
		_, err := strconv.ParseBool(value)
		return err
	case "fail_on", "fail_on_external", "fail_on_sign":
		_, err := catalog.ParseRisk(value)
		return err
	case "internal_networks":
		for _, s := range strings.Split(value, ",") {
			if _, err := netip.ParsePrefix(strings.TrimSpace(s)); s != "" && err != nil {
				return fmt.Errorf("%q is not a network in CIDR form (like 192.0.2.0/24)", s)
			}
		}
	}
	return nil
}

func badConfig(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf("config: "+format, a...)}
}

// flagValue spells a TOML value as the flag would be given.
func flagValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return "", fmt.Errorf("want a list of strings")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("value %v of type %T: want a string, a boolean or a list", v, v)
}

// lineOf finds the line that sets key, for the error message.
func lineOf(text []byte, key string) int {
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i, l := range strings.Split(string(text), "\n") {
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

func knownKeys() string {
	keys := make([]string, 0, len(configKeys))
	for k := range configKeys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// configFlag registers --config on the root.
func configFlag(root *cobra.Command) *string {
	path := new(string)
	root.PersistentFlags().StringVar(path, "config", DefaultConfigPath(), "the config file: what an admin sets once per box")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		return applyConfig(cmd, *path, flagChanged(cmd.Flags(), "config"))
	}
	return path
}

func flagChanged(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}
