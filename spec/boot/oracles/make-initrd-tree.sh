#!/usr/bin/env bash
# make-initrd-tree.sh [--parts DIR] OUTDIR
#
# Writes the oracle initramfs as a directory tree into OUTDIR (which must not
# exist yet): static busybox (/bin/busybox, /bin/sh), /init = initrd-init.sh,
# the host's veritysetup and blkid with every library ldd resolves, and the
# kernel modules the init loads (virtio, nvme, dm-verity, squashfs, erofs,
# vfat, efivarfs + their dependencies) with a modules.dep from busybox depmod.
# The tree is what a tool under test packs into its own cpio (the gptimg boot
# tests do that with gptimg's cpio writer); make-reference-image.sh packs it
# with GNU cpio. All mtimes are SOURCE_DATE_EPOCH (default 2024-01-01).
#
# --parts DIR: boot parts from fetch-boot-parts.sh (default $GPTIMG_BOOT_PARTS,
# else $ORACLE_PARTS, else /var/cache/gptimg/boot-parts; fetched if missing).
set -euo pipefail
PROG=make-initrd-tree.sh
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"

PARTS=${GPTIMG_BOOT_PARTS:-${ORACLE_PARTS:-/var/cache/gptimg/boot-parts}}
if [ "${1:-}" = --parts ]; then PARTS=$2; shift 2; fi
[ $# -eq 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }
I=$1
[ -e "$I" ] && die "$I exists already"
need veritysetup:cryptsetup-bin blkid:util-linux ldd:libc-bin
if [ ! -f "$PARTS/parts.env" ]; then
    log "no boot parts in $PARTS: running fetch-boot-parts.sh"
    "$HERE/fetch-boot-parts.sh" "$PARTS"
fi
PARTS=$(cd "$PARTS" && pwd)
# shellcheck disable=SC1091
. "$PARTS/parts.env"
BB="$PARTS/$BUSYBOX"
MODDIR="$PARTS/$MODULES_ROOT/lib/modules/$KVER"
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}

mkdir -p "$I"/{bin,sbin,etc,proc,sys,dev,run,sysroot,tmp,lib64} "$I/lib/modules/$KVER"
install -m 0755 "$BB" "$I/bin/busybox"
ln -s busybox "$I/bin/sh"
install -m 0755 "$HERE/initrd-init.sh" "$I/init"
# Dynamic host binaries + their libraries (what ldd resolves).
copy_bin() {
    local src dst lib
    src=$(command -v "$1"); dst="$I/sbin/$1"
    install -m 0755 "$src" "$dst"
    for lib in $(ldd "$src" | awk '/=> \// {print $3} /^[[:space:]]*\/lib/ {print $1}'); do
        mkdir -p "$I$(dirname "$lib")"
        [ -e "$I$lib" ] || cp -L "$lib" "$I$lib"
    done
}
copy_bin veritysetup
copy_bin blkid
# Kernel modules: wanted ones that are modules (not built in) + dependencies.
WANT_MODULES="efivarfs virtio_pci virtio_blk virtio_scsi sd_mod nvme ahci dm_verity squashfs erofs vfat nls_cp437 nls_iso8859_1 sha256_ssse3"
declare -A have=()
modline() {  # name -> its modules.dep line, '-' and '_' equivalent
    awk -v n="${1//-/_}" '{ f=$1; sub(/:$/, "", f); b=f; sub(/.*\//, "", b); sub(/\.ko.*$/, "", b); gsub(/-/, "_", b);
                           if (b == n) { print; exit } }' "$MODDIR/modules.dep"
}
add_path() {
    local p=$1 line d
    [ -n "${have[$p]:-}" ] && return
    have[$p]=1
    line=$(grep -E "^$p:" "$MODDIR/modules.dep" || true)
    for d in ${line#*:}; do add_path "$d"; done
    mkdir -p "$I/lib/modules/$KVER/$(dirname "$p")"
    cp "$MODDIR/$p" "$I/lib/modules/$KVER/$p"
}
: > "$I/etc/initrd-modules"
for m in $WANT_MODULES; do
    line=$(modline "$m")
    if [ -n "$line" ]; then
        add_path "${line%%:*}"
        echo "$m" >> "$I/etc/initrd-modules"
    elif ! sed 's/-/_/g' "$MODDIR/modules.builtin" | grep -qE "/${m//-/_}\.ko$" && [ "$m" != ahci ]; then
        log "note: kernel $KVER has no module $m"   # (the cloud kernel has no ahci: fine)
    fi
done
cp "$MODDIR/modules.builtin" "$MODDIR/modules.order" "$I/lib/modules/$KVER/" 2>/dev/null || true
"$BB" depmod -b "$I" "$KVER"
# the host's ld.so finds the libraries via LD_LIBRARY_PATH (no ld.so.cache)
sed -i 's|^export PATH=.*|&\nexport LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64|' "$I/init"
find "$I" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
