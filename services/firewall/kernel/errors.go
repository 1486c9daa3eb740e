package kernel

import (
	"errors"
	"syscall"
)

// ErrNoPermission says netfilter refused: reading or changing it needs
// CAP_NET_ADMIN.
var ErrNoPermission = errors.New("netfilter refused: reading or changing nftables needs CAP_NET_ADMIN (run as root)")

// NetfilterErr names the capability when netfilter refuses.
func NetfilterErr(err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return ErrNoPermission
	}
	return err
}
