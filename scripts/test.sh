#!/usr/bin/env bash
# test.sh — the whole test suite, as CI runs it. Run as root on Debian:
# installs what the tests need (idempotently), then checks formatting,
# vet, staticcheck, the Windows and arm64 builds, the release (goreleaser
# check and a snapshot release), the tests (real sockets, processes and
# daemons) under the race detector, and each fuzz target for a bounded
# time. FUZZTIME (default 15s) sets that bound.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

# Debian packages the tests use, by the command that proves each is there.
declare -A need=(
	[ss]=iproute2 [ip]=iproute2 [setpriv]=util-linux [nsenter]=util-linux
	[systemctl]=systemd [update-rc.d]=init-system-helpers
	[tmux]=tmux [screen]=screen
	[sshd]=openssh-server [ssh]=openssh-client [ssh-keygen]=openssh-client
	[dockerd]=docker.io [busybox]=busybox-static
	[lintian]=lintian [rpm]=rpm
	[nft]=nftables [iptables]=iptables [ufw]=ufw [ipset]=ipset
	[sudo]=sudo [firewalld]=firewalld [iptables-legacy]=iptables
	[clang]=clang [llvm-strip]=llvm
	[promtool]=prometheus [prometheus-node-exporter]=prometheus-node-exporter
	[tcpdump]=tcpdump [dhclient]=isc-dhcp-client [socat]=socat [ncat]=ncat [openssl]=openssl
	[rsyslogd]=rsyslog [sshpass]=sshpass [fail2ban-server]=fail2ban [nmap]=nmap [mmdblookup]=mmdb-bin [npm]=npm [dig]=bind9-dnsutils
)
missing=()
for c in "${!need[@]}"; do command -v "$c" >/dev/null || missing+=("${need[$c]}"); done
# sshguard's nftables backend is a program, not a command in PATH.
[[ -x /usr/libexec/sshguard/sshg-fw-nft-sets ]] || missing+=(sshguard)
# xinetd conflicts with an installed openbsd-inetd (removing it would break
# what depends on it): then the tests use the binary from xinetd's .deb.
xinetd_dir=/var/cache/portwarden-test/xinetd
if ! command -v xinetd >/dev/null && [[ ! -x $xinetd_dir/usr/sbin/xinetd ]]; then
	if dpkg-query -W -f='${Status}' openbsd-inetd 2>/dev/null | grep -q 'install ok installed'; then
		unpack_xinetd=1
	else
		missing+=(xinetd)
	fi
fi
[[ -e /usr/include/bpf/bpf_helpers.h ]] || missing+=(libbpf-dev) # the eBPF programs' helpers
[[ -x /lib/systemd/systemd ]] || missing+=(systemd) # booted in a box by the disable tests
# Debian's own python3: the systemd test units run /usr/bin/python3.
[[ -x /usr/bin/python3 ]] || missing+=(python3)
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq "$@"; }
if ((${#missing[@]})); then
	step "installing ${missing[*]}"
	((EUID == 0)) || { echo "test.sh: run as root to install ${missing[*]}" >&2; exit 1; }
	# Keep package scripts from starting daemons: the tests start their own.
	# An admin's own policy-rc.d is left alone; ours is removed after.
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt_get update || { sleep 5; apt_get update; }
	had_fail2ban_run=$([[ -e /run/fail2ban ]] && echo 1 || true)
	apt_get install -y --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) ||
		{ sleep 5; apt_get install -y --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u); }
	# fail2ban's package makes /run/fail2ban for a daemon that is not
	# started here: the tests run theirs under a private /run.
	[[ -n $had_fail2ban_run ]] || rmdir /run/fail2ban 2>/dev/null || true
fi
if [[ -n ${unpack_xinetd:-} ]]; then
	step "unpacking xinetd's binary (openbsd-inetd is installed)"
	((${#missing[@]})) || apt_get update
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -qq xinetd) && mkdir -p "$xinetd_dir" && dpkg-deb -x "$tmp"/xinetd_*.deb "$xinetd_dir"
	rm -rf "$tmp"
fi
[[ -x $xinetd_dir/usr/sbin/xinetd ]] && export PATH="$PATH:$xinetd_dir/usr/sbin"

# Real GeoIP data for the whereabouts tests: the CC0 ip-location-db
# packages from the npm registry (pinned), kept out of the repository.
export PORTWARDEN_TEST_GEOIP=/var/cache/portwarden-test/geoip
geoip_version=2.3.2026061719
if [[ ! -s $PORTWARDEN_TEST_GEOIP/$geoip_version ]]; then
	step "fetching ip-location-db $geoip_version (GeoIP test data) from the npm registry"
	tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent "@ip-location-db/geo-whois-asn-country-mmdb@$geoip_version" "@ip-location-db/asn@$geoip_version" >/dev/null)
	mkdir -p "$tmp/out"
	tar -xzf "$tmp"/ip-location-db-geo-whois-asn-country-mmdb-*.tgz -C "$tmp/out" --strip-components=1 package/geo-whois-asn-country.mmdb
	tar -xzf "$tmp"/ip-location-db-asn-*.tgz -C "$tmp/out" --strip-components=1 package/asn-ipv4.csv package/asn-ipv6.csv
	echo "$geoip_version" >"$tmp/out/$geoip_version"
	rm -rf "$PORTWARDEN_TEST_GEOIP" && mkdir -p "$(dirname "$PORTWARDEN_TEST_GEOIP")" && mv "$tmp/out" "$PORTWARDEN_TEST_GEOIP"
	rm -rf "$tmp"
fi

export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v staticcheck >/dev/null; then
	step "installing staticcheck"
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[[ -z $unformatted ]] || { echo "not gofmt'ed: $unformatted" >&2; exit 1; }
step "eBPF objects: regenerated with clang, identical to the committed ones"
go generate ./services/recorder/tcpevents ./services/recorder/probes ./services/recorder/udpflows ./sockets/sockfiles
git diff --exit-code --stat -- services/recorder/tcpevents services/recorder/probes services/recorder/udpflows sockets/sockfiles ||
	{ echo "the committed eBPF objects differ from what clang builds from the C source: commit the regenerated ones" >&2; exit 1; }
step "Prometheus rules: promtool check rules, promtool test rules"
promtool check rules packaging/prometheus/portwarden.rules.yml
(cd packaging/prometheus && promtool test rules portwarden.rules.test.yml)
step "go vet"
go vet ./...
step "staticcheck"
staticcheck ./...
step "cross builds (windows/amd64, linux/arm64)"
GOOS=windows GOARCH=amd64 go build ./...
GOOS=linux GOARCH=arm64 go build ./...
step "goreleaser check, and a snapshot release"
# Pinned: newer goreleasers need a newer Go than this machine's.
command -v goreleaser >/dev/null || go install github.com/goreleaser/goreleaser/v2@v2.16.0
goreleaser check
goreleaser release --snapshot --clean --skip=publish >build-release.log 2>&1 || { cat build-release.log; exit 1; }
rm -f build-release.log
archive=$(ls dist/portwarden_*_linux_amd64.tar.gz)
release=dist/unpacked # dist/ is goreleaser's, removed below
mkdir -p "$release" && tar -C "$release" -xzf "$archive"
for f in portwarden LICENSE README.md docs/reach.md man/portwarden.1 man/portwarden-check.1 completions/portwarden.bash completions/_portwarden completions/portwarden.fish; do
	[[ -e $release/$f ]] || { echo "$archive lacks $f" >&2; exit 1; }
done
version=$("$release/portwarden" --version)
[[ $version == "portwarden 0.0.0-SNAPSHOT"* ]] || { echo "the released binary says: $version" >&2; exit 1; }
echo "ok: $archive: $version"
# The packages: lintian finds no error in the .deb, and both hold what an
# admin expects where they expect it.
deb=$(ls dist/portwarden_*_linux_amd64.deb) rpm=$(ls dist/portwarden_*_linux_amd64.rpm)
lintian --fail-on error --tag-display-limit 0 "$deb"
debfiles=$(dpkg-deb -c "$deb") rpmfiles=$(rpm -qlp "$rpm" 2>/dev/null)
for f in /usr/bin/portwarden /usr/share/man/man1/portwarden.1.gz /usr/share/bash-completion/completions/portwarden \
	/usr/share/zsh/vendor-completions/_portwarden /usr/share/fish/vendor_completions.d/portwarden.fish /etc/portwarden/config.toml; do
	grep -q " \.$f\$" <<<"$debfiles" || { echo "$deb lacks $f" >&2; exit 1; }
	grep -qx "$f" <<<"$rpmfiles" || { echo "$rpm lacks $f" >&2; exit 1; }
done
grep -q ' \./lib/systemd/system/portwarden-check.timer$' <<<"$debfiles" || { echo "$deb lacks the timer" >&2; exit 1; }
for f in /usr/share/portwarden/prometheus/portwarden.rules.yml /usr/share/portwarden/grafana/portwarden-fleet.json; do
	grep -q " \.$f\$" <<<"$debfiles" || { echo "$deb lacks $f" >&2; exit 1; }
	grep -qx "$f" <<<"$rpmfiles" || { echo "$rpm lacks $f" >&2; exit 1; }
done
grep -qx /usr/lib/systemd/system/portwarden-check.timer <<<"$rpmfiles" || { echo "$rpm lacks the timer" >&2; exit 1; }
grep -q '/etc/portwarden/config.toml' <(dpkg-deb -f "$deb" Conffiles 2>/dev/null; dpkg-deb -I "$deb" conffiles 2>/dev/null) ||
	{ echo "$deb: config.toml is not a conffile" >&2; exit 1; }
echo "ok: $deb and $rpm"
# Installed for real, and run by a real systemd in a box; purged after.
PORTWARDEN_DEB="$PWD/$deb" go test -count=1 -run '^TestDebInSystemdBox$' ./cli
rm -rf dist build

step "go test -race"
# Test binaries run from a directory only root can write: from /tmp, every
# listener the tests hold would rightly show the sign exe-in-writable-dir.
# The tests' own temporary files stay in /tmp (testing.TempDir follows
# GOTMPDIR, which the test binaries are run without).
export GOTMPDIR=/var/cache/portwarden-test/gotmp
# The firewall's differential test draws random rulesets for this long
# (besides replaying every one it ever found wrong).
export DIFFTIME=${DIFFTIME:-60s}
mkdir -p "$GOTMPDIR"
go test -race -count=1 -timeout 20m -exec "env -u GOTMPDIR" ./...

# fuzz runs one target for FUZZTIME. Go's fuzzing coordinator can report
# "context deadline exceeded" when -fuzztime ends while a worker is busy on
# a loaded machine, with no failing input: that, and only that, is retried
# once. A real failure writes its input under testdata/fuzz and fails.
fuzz() {
	local out
	if out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-15s}" "$1" 2>&1); then
		echo "$out" | tail -n 1
		return 0
	fi
	echo "$out"
	if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
		echo "(the fuzzing coordinator timed out with no failing input: once more)"
		go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-15s}" "$1"
		return
	fi
	return 1
}
step "fuzz (${FUZZTIME:-15s} per target)"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | cut -d' ' -f2); do
		fuzz "$pkg" "$target"
	done
done
