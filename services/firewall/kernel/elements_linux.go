//go:build linux

package kernel

import (
	"encoding/binary"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// google/nftables reads a map's elements without their verdicts: it
// encodes SetElement.VerdictData but never decodes it, leaving the nested
// NFTA_DATA_VERDICT attributes in Val. A verdict map read as is has no
// verdicts at all, and every lookup in it misses. (It also records a
// verdict map's data type in KeyType.) decodeVerdicts restores them.

// isVerdictMap reports whether s maps keys to verdicts.
func isVerdictMap(s *nftables.Set) bool {
	return s.IsMap && (s.KeyType.Name == nftables.TypeVerdict.Name || s.DataType.Name == nftables.TypeVerdict.Name)
}

// decodeVerdicts sets VerdictData of each element of a verdict map from
// its Val: NFTA_VERDICT_CODE and NFTA_VERDICT_CHAIN. An element whose
// verdict cannot be read keeps none, and the evaluator says so.
func decodeVerdicts(els []nftables.SetElement) {
	for i := range els {
		if v, ok := decodeVerdict(els[i].Val); ok {
			els[i].VerdictData = v
		}
	}
}

func decodeVerdict(b []byte) (*expr.Verdict, bool) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, false
	}
	ad.ByteOrder = binary.BigEndian
	v, code := &expr.Verdict{}, false
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			v.Kind, code = expr.VerdictKind(int32(ad.Uint32())), true
		case unix.NFTA_VERDICT_CHAIN:
			v.Chain = ad.String()
		}
	}
	return v, code && ad.Err() == nil
}
