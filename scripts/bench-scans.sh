#!/usr/bin/env bash
# bench-scans.sh — what tracing scans costs the flight recorder.
#
#   sudo scripts/bench-scans.sh [--seconds S] [--rate R] [--runs N]
#
# Builds portwarden, makes two network namespaces joined by a veth pair
# (198.51.100.0/24, nothing on the host's links), starts `portwarden record`
# on a new database, then N times (default 5): S seconds (default 20) with
# no load, and S seconds of a real nmap SYN scan of closed ports at R probes
# a second (default 10,000) from one namespace to the other. For each run it
# prints the probes the record holds, the recorder's CPU (utime + stime from
# /proc) as % of one core with and without the scan, and the eBPF program's
# own time in the kernel (kernel.bpf_stats_enabled, set for the run and put
# back after), then the medians. Needs root, go, nmap and bpftool.
set -euo pipefail

secs=20 rate=10000 runs=5
while (($#)); do
	case $1 in
	--seconds) secs=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "bench-scans: unknown argument $1" >&2; exit 2 ;;
	esac
done
((EUID == 0)) || { echo "bench-scans: run as root" >&2; exit 1; }
for c in nmap bpftool python3; do
	command -v "$c" >/dev/null || { echo "bench-scans: $c is required" >&2; exit 1; }
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/bench-scans.XXXXXX)
(cd "$repo" && go build -o "$work/portwarden" .)
db=$work/history.db rec="" ns=pwscan-$$
stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled)
cleanup() {
	[[ -n $rec ]] && kill "$rec" 2>/dev/null && wait "$rec" 2>/dev/null
	echo "$stats_was" >/proc/sys/kernel/bpf_stats_enabled
	ip netns del "$ns-a" 2>/dev/null || true
	ip netns del "$ns-b" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns-a" && ip netns add "$ns-b"
ip -n "$ns-a" link add eth0 type veth peer name eth0 netns "$ns-b"
ip -n "$ns-a" addr add 198.51.100.1/24 dev eth0 && ip -n "$ns-b" addr add 198.51.100.2/24 dev eth0
ip -n "$ns-a" link set eth0 up && ip -n "$ns-b" link set eth0 up
ip -n "$ns-a" link set lo up && ip -n "$ns-b" link set lo up

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
prog_ns() { bpftool prog show name dropped --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]; print(sum(p.get("run_time_ns",0) for p in d))'; }
probes() {
	"$work/portwarden" peers --json --db "$db" --no-dns --since 24h 2>/dev/null |
		python3 -c 'import json,sys
n=0
for l in sys.stdin:
    p=json.loads(l)
    if p["address"]=="198.51.100.1": n+=sum(s["probes"] for s in p["scans"])
print(n)'
}

echo 1 >/proc/sys/kernel/bpf_stats_enabled
"$work/portwarden" record --db "$db" >"$work/record.log" 2>&1 &
rec=$!
for _ in $(seq 100); do grep -q "recording" "$work/record.log" && break; sleep 0.1; done
head -1 "$work/record.log"
sleep 2

results=()
for run in $(seq "$runs"); do
	t0=$(cpu_ticks "$rec")
	sleep "$secs"
	t1=$(cpu_ticks "$rec") b1=$(prog_ns) p1=$(probes) start=$(date +%s.%N)
	# The scan: every port, again and again, for S seconds at R a second.
	end=$(($(date +%s) + secs))
	while (($(date +%s) < end)); do
		ip netns exec "$ns-a" nmap -sS -Pn -n --max-retries 0 --min-rate "$rate" --max-rate "$rate" \
			--host-timeout "$((end - $(date +%s) + 1))s" -p 1-65535 198.51.100.2 >/dev/null 2>&1 || true
	done
	stop=$(date +%s.%N)
	t2=$(cpu_ticks "$rec") b2=$(prog_ns)
	sleep 2 # the last probes committed
	p2=$(probes)
	line=$(python3 -c "
el = $stop - $start
print('%.0f %.2f %.2f %.2f' % (($p2 - $p1) / el, 100 * ($t1 - $t0) / $hz / $secs, 100 * ($t2 - $t1) / $hz / el, 100 * ($b2 - $b1) / 1e9 / el))")
	read -r rps idle busy prog <<<"$line"
	printf 'run %d: %s probes a second recorded; recorder %s %% of a core idle, %s %% scanned; eBPF program %s %%\n' "$run" "$rps" "$idle" "$busy" "$prog"
	results+=("$line")
done
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
m = [statistics.median(c) for c in zip(*rows)]
print("median: %.0f probes a second; recorder %.2f %% of a core idle, %.2f %% scanned; eBPF program %.2f %%; scanned minus idle plus program %.2f %%" % (m[0], m[1], m[2], m[3], m[2] - m[1] + m[3]))'
