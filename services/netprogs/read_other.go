//go:build !linux

package netprogs

import "github.com/portwarden/portwarden/sockets"

// Read lists nothing here: eBPF is Linux's.
func Read(procRoot string, namespaces []sockets.Namespace) ([]Program, []string) { return nil, nil }
