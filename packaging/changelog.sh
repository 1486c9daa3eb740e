#!/bin/sh
# changelog.sh VERSION — writes build/changelog.Debian.gz, the one entry a
# Debian package needs; the project's history is its git log.
set -eu
mkdir -p build
date=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}")
printf 'portwarden (%s) unstable; urgency=medium\n\n  * Release %s: see the project'"'"'s history.\n\n -- portwarden developers <portwarden@example.org>  %s\n' \
	"$1" "$1" "$date" | gzip -9n >build/changelog.Debian.gz
