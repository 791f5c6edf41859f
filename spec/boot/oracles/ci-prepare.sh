#!/usr/bin/env bash
# ci-prepare.sh [DEST]
#
# What CI runs before the boot tests: makes sure apt knows the boot packages (apt-get update
# only when linux-image-cloud-amd64 has no candidate), then fetch-boot-parts.sh into DEST
# (default $GPTIMG_BOOT_PARTS, else /var/cache/gptimg/boot-parts). Idempotent: a second run
# with cached .debs needs no network and takes under a second. Installs nothing.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")
DEST=${1:-${GPTIMG_BOOT_PARTS:-/var/cache/gptimg/boot-parts}}
if [ ! -f "$DEST/parts.env" ] && ! apt-cache policy "${KERNEL_PKG:-linux-image-cloud-amd64}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    echo "ci-prepare: apt-get update (no candidate for ${KERNEL_PKG:-linux-image-cloud-amd64})"
    apt-get update -qq
fi
"$HERE/fetch-boot-parts.sh" "$DEST" 2>&1 | grep -v '^CONFIG_' || true
test -f "$DEST/parts.env" || { echo "ci-prepare: boot parts missing in $DEST" >&2; exit 1; }
echo "ci-prepare: boot parts ready in $DEST ($(head -1 "$DEST/manifest.txt"))"
