#!/usr/bin/env bash
# bench-recorder.sh — what the flight recorder keeps up with, and costs.
#
#   sudo scripts/bench-recorder.sh [--burst N] [--seconds S]
#
# Builds portwarden and scripts/connload, starts `portwarden record` on a new
# database, waits for its first commit, then:
#   burst  N loopback connections (default 100,000) as fast as 4 threads make
#          them: connections per second, lifetimes recorded (both ends of each
#          are on this host: 2 per connection), events the kernel dropped
#   cpu    1,000 connections per second for S seconds (default 20): the
#          recorder's CPU (utime + stime from /proc) as % of one core, beside
#          its CPU with no load over the same time; then 1,000 UDP exchanges
#          a second (a new socket each, as DNS clients do), recorded from
#          the kernel too
# Needs root and go.
set -euo pipefail

burst=100000 secs=20
while (($#)); do
	case $1 in
	--burst) burst=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "bench-recorder: unknown argument $1" >&2; exit 2 ;;
	esac
done
((EUID == 0)) || { echo "bench-recorder: run as root" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench-recorder: python3 is required" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/bench-recorder.XXXXXX)
(cd "$repo" && go build -o "$work/portwarden" . && go build -o "$work/connload" ./scripts/connload)
db=$work/history.db rec=""
cleanup() {
	[[ -n $rec ]] && kill "$rec" 2>/dev/null && wait "$rec" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
stats() { "$work/portwarden" history --db "$db" --stats --json; }
# cpu_ticks PID: user + system time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# commit_after T: wait until the recorder has committed after time T (RFC 3339).
commit_after() {
	for _ in $(seq 300); do
		local c
		c=$(stats 2>/dev/null | json "['last_commit']" 2>/dev/null || true)
		[[ -n $c && $c > $1 ]] && return 0
		sleep 0.1
	done
	echo "bench-recorder: the recorder stopped committing" >&2
	exit 1
}

"$work/portwarden" record --db "$db" >"$work/record.log" 2>&1 &
rec=$!
commit_after "$(date -u +%FT%T)"
head -1 "$work/record.log"

echo "== burst: $burst connections"
out=$("$work/connload" --conns "$burst" --workers 4)
commit_after "$(date -u +%FT%T.%N)"
sleep 2 # connections still closing (FIN_WAIT) end within a second or two
commit_after "$(date -u +%FT%T.%N)"
port=$(json "['port']" <<<"$out")
recorded=$("$work/portwarden" history --db "$db" --since all --connections --port "$port" --json | wc -l)
printf 'connections per second  %.0f\n' "$(json "['per_second']" <<<"$out")"
printf 'lifetimes recorded      %d of %d\n' "$recorded" $((2 * burst))
printf 'lost                    %s\n' "$(stats | json "['lost']")"

echo "== cpu: idle, then 1,000 connections per second, $secs s each"
t0=$(cpu_ticks "$rec")
sleep "$secs"
t1=$(cpu_ticks "$rec")
"$work/connload" --rate 1000 --seconds "$secs" --workers 2 >/dev/null
t2=$(cpu_ticks "$rec")
python3 -c "print('idle                    %.2f %% of a core' % (100 * ($t1 - $t0) / $hz / $secs))"
python3 -c "print('at 1,000 per second     %.2f %% of a core' % (100 * ($t2 - $t1) / $hz / $secs))"
out=$("$work/connload" --udp --rate 1000 --seconds "$secs" --workers 2)
t3=$(cpu_ticks "$rec")
sleep 2 # the last exchanges' releases read and committed
commit_after "$(date -u +%FT%T.%N)"
uport=$(json "['port']" <<<"$out")
lines=$("$work/portwarden" history --db "$db" --since all --connections --port "$uport" --json | grep '"proto":"udp"' || true)
udpout=$(grep -c "\"remote_port\":$uport," <<<"$lines" || true)
udpin=$(grep -c "\"local_port\":$uport," <<<"$lines" || true)
python3 -c "print('UDP at 1,000 per second %.2f %% of a core' % (100 * ($t3 - $t2) / $hz / $secs))"
printf 'UDP exchanges recorded  %s of %s (the clients: a lifetime each)\n' "$udpout" "$(json "['connections']" <<<"$out")"
printf 'UDP server side         %s flows (one per client address and port while active: a port reused within 30 s is the same flow)\n' "$udpin"
printf 'database                %s bytes\n' "$(stats | json "['db_bytes']")"
