#!/usr/bin/env bash
# bench-namespaces.sh — what extra network namespaces cost a snapshot.
#
#   sudo scripts/bench-namespaces.sh [--runs R] [CONNS/PROCS] [EXTRA]
#
# Defaults: 10000/100 and 30 extra namespaces, 9 runs. It starts the
# population with scripts/sockload, then times, on that same population,
# `portwarden snapshot --json` and `ss -tuanp` (the host namespace alone)
# with no extra namespace, then again with EXTRA namespaces made by `ip
# netns add`, each with a process listening on its loopback. It prints the
# medians, the ratio to ss, and the cost of one extra namespace, and removes
# every namespace it made, on failure too.
set -euo pipefail

runs=9 scale=10000/100 extra=30
while (($#)); do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*/*) scale=$1; shift ;;
	[0-9]*) extra=$1; shift ;;
	*) echo "bench-namespaces: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
((EUID == 0)) || { echo "bench-namespaces: run as root" >&2; exit 1; }
command -v busybox >/dev/null || { echo "bench-namespaces: busybox missing: apt-get install -y busybox-static" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/bench-namespaces.XXXXXX)
(cd "$repo" && go build -o "$work/portwarden" . && go build -o "$work/sockload" ./scripts/sockload)
names=() pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for n in "${names[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

"$work/sockload" --conns "${scale%/*}" --procs "${scale#*/}" >"$work/load.out" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q '^ready' "$work/load.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$work/load.out" || { echo "bench-namespaces: the population did not start" >&2; cat "$work/load.out" >&2; exit 1; }

# median_ms CMD...: the median wall time of runs runs, in milliseconds.
median_ms() {
	local t=()
	for _ in $(seq "$runs"); do
		local s e
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s%N)
		t+=($(((e - s) / 1000000)))
	done
	printf '%s\n' "${t[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

pw0=$(median_ms "$work/portwarden" snapshot --json --baseline "$work/none.toml")
ss0=$(median_ms ss -tuanp)
for i in $(seq "$extra"); do
	n="pwbench-$$-$i"
	ip netns add "$n"
	names+=("$n")
	ip netns exec "$n" sh -c 'ip link set lo up && exec busybox nc -ll -p 5432 -e /bin/true' &
	pids+=($!)
done
pwN=$(median_ms "$work/portwarden" snapshot --json --baseline "$work/none.toml")
ssN=$(median_ms ss -tuanp)

echo "Host: $(uname -r), $(nproc) CPUs; population $scale; $runs runs, medians"
echo
echo "| extra namespaces | portwarden snapshot --json ms | ss -tuanp (host only) ms | portwarden ÷ ss |"
echo "|---|---|---|---|"
awk -v a="$pw0" -v b="$ss0" 'BEGIN { printf "| 0 | %d | %d | %.2f |\n", a, b, a / b }'
awk -v a="$pwN" -v b="$ssN" -v n="$extra" 'BEGIN { printf "| %d | %d | %d | %.2f |\n", n, a, b, a / b }'
echo
awk -v a="$pw0" -v b="$pwN" -v n="$extra" 'BEGIN { printf "Cost of one extra namespace: %.2f ms\n", (b - a) / n }'
awk -v a="$pwN" -v b="$ssN" -v n="$extra" 'BEGIN { r = a / b; printf "%s with %d extra namespaces: portwarden ÷ ss (host only) = %.2f ≤ 1.0\n", (r <= 1 ? "PASS" : "FAIL"), n, r }'
