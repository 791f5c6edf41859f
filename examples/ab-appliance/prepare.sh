#!/usr/bin/env bash
# Makes build/: a link to the boot parts (Debian kernel, systemd-boot, systemd-stub, busybox
# from spec/boot/oracles/fetch-boot-parts.sh) and the busybox initramfs tree that finds /usr
# by usrhash= and sets up dm-verity. Run once before composing this example.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
parts=${GPTIMG_BOOT_PARTS:-/var/cache/gptimg/boot-parts}
[ -f "$parts/parts.env" ] || "$here/../../spec/boot/oracles/fetch-boot-parts.sh" "$parts"
mkdir -p "$here/build"
ln -sfn "$parts" "$here/build/boot-parts"
install -m 0755 "$parts/busybox" "$here/build/busybox"
rm -rf "$here/build/initrd"
"$here/../../spec/boot/oracles/make-initrd-tree.sh" --parts "$parts" "$here/build/initrd"
