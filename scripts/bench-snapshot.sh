#!/usr/bin/env bash
# bench-snapshot.sh — time `portwarden snapshot --json` against ss, netstat,
# lsof and go-netstat on one live socket population per scale.
#
#   sudo scripts/bench-snapshot.sh [--runs R] [--cap S] [CONNS/PROCS ...]
#
# Defaults: 10000/100 50000/200 (20k and 100k sockets), 7 runs, 120 s cap on
# one run of one tool. For each scale it starts scripts/sockload (N loopback
# connections, both ends held, over P processes), then times every tool on
# that same population: median and range of wall time, median peak RSS
# (GNU time), and the rows each tool attributes to the population's
# processes, which must equal the sockets held. It ends with the bars of
# issues 2 and 24 checked (issue 24: ≤ 0.25× lsof -nP -i at 50k connections). Needs root, go, GNU time, iproute2, net-tools and lsof:
#   apt-get install -y iproute2 net-tools lsof time
set -euo pipefail

runs=7 cap=120
scales=()
while (($#)); do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--cap) cap=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*/*) scales+=("$1"); shift ;;
	*) echo "bench-snapshot: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
((${#scales[@]})) || scales=(10000/100 50000/200)
((EUID == 0)) || { echo "bench-snapshot: run as root (every tool must see every owner)" >&2; exit 1; }
for t in go ss netstat lsof /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "bench-snapshot: $t missing: apt-get install -y iproute2 net-tools lsof time" >&2; exit 1; }
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/bench-snapshot.XXXXXX)
(cd "$repo" && go build -o "$work/portwarden" . && go build -o "$work/sockload" ./scripts/sockload &&
	go build -o "$work/gonetstat" ./scripts/gonetstat)

tools=(portwarden ss netstat lsof go-netstat)
declare -A cmd=(
	[portwarden]="$work/portwarden snapshot --json"
	[ss]="ss -tuanp"
	[netstat]="netstat -tuanp"
	[lsof]="lsof -nP -i"
	[go-netstat]="$work/gonetstat"
)
# owned counts the output rows naming a population process ("sockload").
owned() {
	case $1 in
	portwarden) grep -o '"name":"sockload"' "$2" | wc -l ;;
	*) grep -c sockload "$2" || true ;;
	esac
}

pop=""
stop_population() {
	[[ -n $pop ]] || return 0
	kill -TERM "$pop" 2>/dev/null || true
	wait "$pop" 2>/dev/null || true
	pop=""
}
trap 'stop_population; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

median() { sort -g | awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2); else print "-"}'; }

# timed_run TOOL OUT: one run under GNU time; prints "seconds rss_kib status".
timed_run() {
	local t0 t1 rc=0
	t0=$EPOCHREALTIME
	timeout -k 5 "$cap" /usr/bin/time -f %M -o "$work/rss" ${cmd[$1]} >"$2" 2>/dev/null || rc=$?
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" -v r="$(grep -E '^[0-9]+$' "$work/rss" | tail -1)" -v rc=$rc \
		'BEGIN {printf "%.4f %s %s\n", b-a, (r == "" ? 0 : r), rc}'
}

declare -A med
report=()
for scale in "${scales[@]}"; do
	conns=${scale%/*} procs=${scale#*/}
	"$work/sockload" --conns "$conns" --procs "$procs" >"$work/ready" 2>"$work/sockload.err" &
	pop=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q '^ready: ' "$work/ready" && break
		kill -0 "$pop" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^ready: ' "$work/ready" || { cat "$work/sockload.err" >&2; exit 1; }
	expected=$(sed -n 's/^ready: //p' "$work/ready" | grep -o '"total":[0-9]*' | cut -d: -f2)
	echo "== $scale: $expected sockets held by $procs processes" >&2

	for t in "${tools[@]}"; do
		read -r probe rss rc < <(timed_run "$t" "$work/$t.out")
		if ((rc == 124 || rc == 137)); then
			report+=("| $scale | $t | >$cap (capped) | | 1 | | | - / $expected |")
			med[$scale,$t]=$cap
			echo "   $t: over the ${cap}s cap" >&2
			continue
		fi
		seen=$(owned "$t" "$work/$t.out")
		n=$runs
		awk -v p="$probe" 'BEGIN {exit !(p > 5)}' && n=1
		times=("$probe") rsss=("$rss")
		for ((i = 1; i < n; i++)); do
			read -r s r _ < <(timed_run "$t" /dev/null)
			times+=("$s") rsss+=("$r")
		done
		m=$(printf '%s\n' "${times[@]}" | median)
		range=$(printf '%s\n' "${times[@]}" | sort -g | sed -n '1p;$p' | paste -sd' ' | awk '{printf "%.3f–%.3f", $1, $2}')
		r=$(printf '%s\n' "${rsss[@]}" | median | awk '{printf "%.1f", $1/1024}')
		med[$scale,$t]=$m
		med[$scale,$t,rss]=$r
		ok=$([[ $seen == "$expected" ]] && echo "✓" || echo "✗")
		report+=("| $scale | $t | $(printf %.3f "$m") | $range | $n | $r | | $seen / $expected $ok |")
		echo "   $t: median $m s, $r MiB, $seen/$expected rows" >&2
		[[ $seen == "$expected" ]] || echo "   WARNING: $t attributed $seen rows, population holds $expected" >&2
	done
	stop_population
done

# Ratio column: each tool's median over portwarden's.
echo "Host: $(uname -r), $(nproc) CPUs, $(ss -V 2>&1 | head -1); load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| scale (conns/procs) | tool | median s | min–max s | runs | peak RSS MiB | × portwarden | rows seen / sockets |"
echo "|---|---|---|---|---|---|---|---|"
for row in "${report[@]}"; do
	scale=$(awk -F'|' '{gsub(/ /,"",$2); print $2}' <<<"$row")
	tool=$(awk -F'|' '{gsub(/ /,"",$3); print $3}' <<<"$row")
	ratio=$(awk -v a="${med[$scale,$tool]}" -v b="${med[$scale,portwarden]}" 'BEGIN {printf "%.1f", a/b}')
	[[ $row == *capped* ]] && ratio=">$ratio"
	awk -v r="$ratio" 'BEGIN {FS=OFS="|"} {$8=" " r " "; print}' <<<"$row"
done
echo
status=0
bar() { # bar NAME VALUE LIMIT
	if awk -v v="$2" -v l="$3" 'BEGIN {exit !(v <= l)}'; then echo "- PASS $1: $2 ≤ $3"; else echo "- FAIL $1: $2 > $3"; status=1; fi
}
for scale in "${scales[@]}"; do
	pw=${med[$scale,portwarden]}
	case $scale in
	10000/100) bar "10k/100 portwarden ÷ ss" "$(awk -v a="$pw" -v b="${med[$scale,ss]}" 'BEGIN {printf "%.2f", a/b}')" 1.0 ;;
	50000/200)
		fastest=$(printf '%s\n' "${med[$scale,ss]}" "${med[$scale,netstat]}" "${med[$scale,lsof]}" "${med[$scale,go-netstat]}" | sort -g | head -1)
		bar "50k/200 portwarden ÷ fastest peer" "$(awk -v a="$pw" -v b="$fastest" 'BEGIN {printf "%.2f", a/b}')" 0.5
		bar "50k/200 portwarden ÷ lsof -nP -i (issue 24)" "$(awk -v a="$pw" -v b="${med[$scale,lsof]}" 'BEGIN {printf "%.2f", a/b}')" 0.25
		bar "peak RSS MiB at 100k sockets" "${med[$scale,portwarden,rss]}" 80 ;;
	esac
done
exit $status
