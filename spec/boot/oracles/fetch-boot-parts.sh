#!/usr/bin/env bash
# fetch-boot-parts.sh [DEST]
#
# Downloads (apt-get download, no install) and unpacks what a boot test needs
# into DEST, idempotently:
#   DEST/vmlinuz, DEST/config, DEST/lib/modules/<kver>/ (+ modules.dep)
#   DEST/systemd-bootx64.efi, DEST/linuxx64.efi.stub
#   DEST/busybox (static)
#   DEST/parts.env    shell variables naming the above (relative to DEST)
#   DEST/manifest.txt package versions + sha256 of every part
#   DEST/kernel-features.txt  built-in / module / missing for the features
#                             the oracles rely on
#   DEST/debs/*.deb, DEST/*.stamp  the downloads; a second run with the same
#                             .debs does nothing (and needs no network)
# About 27 MB downloaded, 135 MB on disk, 3-4 s; a re-run takes 0.5 s.
# Environment:
#   KERNEL_PKG   kernel package or meta-package (default linux-image-cloud-amd64;
#                linux-image-amd64 also works)
#   FORCE=1      re-download and re-extract
# Needs an apt package list (run 'apt-get update' once if apt-get download
# says the package is unknown). Nothing is installed on the host.
set -euo pipefail
PROG=fetch-boot-parts.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

[ $# -le 1 ] || { echo "usage: $PROG [DEST]  (default \$GPTIMG_BOOT_PARTS, else /var/cache/gptimg/boot-parts)" >&2; exit 2; }
DEST=${1:-${GPTIMG_BOOT_PARTS:-/var/cache/gptimg/boot-parts}}
need apt-get:apt apt-cache:apt dpkg-deb:dpkg sha256sum:coreutils
mkdir -p "$DEST/debs"
DEST=$(cd "$DEST" && pwd)

KERNEL_PKG=${KERNEL_PKG:-linux-image-cloud-amd64}

# Resolve a meta-package (linux-image-cloud-amd64) to the versioned image
# package it depends on, so the .deb actually contains a kernel.
resolve_kernel() {
    local p=$1 dep
    case "$p" in
        linux-image-[0-9]*) echo "$p"; return ;;
    esac
    dep=$(apt-cache depends "$p" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$dep" ]; then
        log "cannot resolve kernel package '$p' (apt-cache knows nothing about it)."
        log "run 'apt-get update' first, or set KERNEL_PKG to an existing linux-image-* package."
        exit 3
    fi
    echo "$dep"
}

# download PKG -> prints path of the .deb in DEST/debs (downloads only when no
# .deb of that package is there yet)
download() {
    local pkg=$1 f
    f=$(ls "$DEST/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -n "$f" ] && [ "${FORCE:-0}" != 1 ]; then echo "$f"; return; fi
    rm -f "$DEST/debs/${pkg}_"*.deb
    log "apt-get download $pkg"
    if ! (cd "$DEST/debs" && apt-get download "$pkg" >&2 2>"$DEST/debs/.apt.err"); then
        cat "$DEST/debs/.apt.err" >&2
        log "apt-get download $pkg failed; if the package is unknown run 'apt-get update' first."
        exit 3
    fi
    ls "$DEST/debs/${pkg}_"*.deb | head -n1
}

# unpack DEB NAME -> DEST/extract/NAME, unless DEST/NAME.stamp says this
# .deb was already unpacked and its parts installed (returns 1 then).
unpack() {
    local deb=$1 name=$2 stamp="$DEST/$2.stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(basename "$deb")" ] && [ "${FORCE:-0}" != 1 ]; then
        return 1
    fi
    rm -rf "${DEST:?}/extract/$name" "$stamp"
    mkdir -p "$DEST/extract/$name"
    dpkg-deb -x "$deb" "$DEST/extract/$name"
}
done_unpack() { basename "$1" > "$DEST/$2.stamp"; rm -rf "${DEST:?}/extract/$2"; }

KPKG=$(resolve_kernel "$KERNEL_PKG")
kdeb=$(download "$KPKG")
sdbdeb=$(download systemd-boot-efi)
bbdeb=$(download busybox-static)
[ -f "$DEST/vmlinuz" ] && [ -f "$DEST/parts.env" ] || rm -f "$DEST/kernel.stamp"

# Put the parts in fixed places; the unpacked trees are dropped afterwards.
if unpack "$kdeb" kernel; then
    KX="$DEST/extract/kernel"
    KVER=$(ls "$KX/lib/modules" | head -n1)
    [ -n "$KVER" ] && [ -f "$KX/boot/vmlinuz-$KVER" ] || die "no kernel found in $kdeb"
    install -m 0644 "$KX/boot/vmlinuz-$KVER" "$DEST/vmlinuz"
    install -m 0644 "$KX/boot/config-$KVER" "$DEST/config"
    rm -rf "$DEST/lib/modules"
    mkdir -p "$DEST/lib/modules"
    mv "$KX/lib/modules/$KVER" "$DEST/lib/modules/"
    done_unpack "$kdeb" kernel
fi
KVER=$(ls "$DEST/lib/modules" | head -n1)
if unpack "$sdbdeb" systemd-boot-efi; then
    install -m 0644 "$DEST/extract/systemd-boot-efi/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$DEST/systemd-bootx64.efi"
    install -m 0644 "$DEST/extract/systemd-boot-efi/usr/lib/systemd/boot/efi/linuxx64.efi.stub" "$DEST/linuxx64.efi.stub"
    done_unpack "$sdbdeb" systemd-boot-efi
fi
if unpack "$bbdeb" busybox-static; then
    bb=''
    for f in "$DEST/extract/busybox-static/bin/busybox" "$DEST/extract/busybox-static/usr/bin/busybox"; do
        [ -x "$f" ] && { bb=$f; break; }
    done
    [ -n "$bb" ] || die "busybox binary not found in $bbdeb"
    install -m 0755 "$bb" "$DEST/busybox"
    done_unpack "$bbdeb" busybox-static
fi
rmdir "$DEST/extract" 2>/dev/null || true

# Debian kernel debs ship no modules.dep (depmod runs in postinst). busybox's
# depmod writes one without needing kmod on the host.
if [ ! -s "$DEST/lib/modules/$KVER/modules.dep" ]; then
    "$DEST/busybox" depmod -b "$DEST" "$KVER"
fi

# Which of the features the oracles rely on are built in / modules / missing.
feature() {  # CONFIG_SYMBOL module-name
    local v
    v=$(grep -E "^$1=" "$DEST/config" | cut -d= -f2 || true)
    case "$v" in
        y) printf '%-28s built-in\n' "$1" ;;
        m) printf '%-28s module   %s\n' "$1" "$(grep -E "/$2\.ko(\.[a-z]+)?:" "$DEST/lib/modules/$KVER/modules.dep" | cut -d: -f1 | head -n1)" ;;
        *) printf '%-28s MISSING\n' "$1" ;;
    esac
}
{
    echo "# kernel $KVER ($KPKG)"
    feature CONFIG_EFI_STUB -
    feature CONFIG_EFI_PARTITION -
    feature CONFIG_DM_INIT -
    feature CONFIG_BLK_DEV_DM dm-mod
    feature CONFIG_DM_VERITY dm-verity
    feature CONFIG_SQUASHFS squashfs
    feature CONFIG_SQUASHFS_XZ -
    feature CONFIG_SQUASHFS_ZSTD -
    feature CONFIG_SQUASHFS_LZ4 -
    feature CONFIG_EROFS_FS erofs
    feature CONFIG_EROFS_FS_ZIP -
    feature CONFIG_VFAT_FS vfat
    feature CONFIG_VIRTIO_BLK virtio_blk
    feature CONFIG_VIRTIO_PCI virtio_pci
    feature CONFIG_BLK_DEV_NVME nvme
    feature CONFIG_SERIAL_8250_CONSOLE -
    feature CONFIG_RD_GZIP -
    feature CONFIG_RD_ZSTD -
} > "$DEST/kernel-features.txt"

cat > "$DEST/parts.env" <<EOF
# generated by $PROG; paths relative to this file's directory
KVER=$KVER
KERNEL_PKG=$KPKG
VMLINUZ=vmlinuz
KCONFIG=config
MODULES_ROOT=.
SDBOOT_EFI=systemd-bootx64.efi
UKI_STUB=linuxx64.efi.stub
BUSYBOX=busybox
EOF

{
    for d in "$kdeb" "$sdbdeb" "$bbdeb"; do
        dpkg-deb -f "$d" Package Version | paste -sd' '
    done
    (cd "$DEST" && sha256sum vmlinuz systemd-bootx64.efi linuxx64.efi.stub busybox)
} > "$DEST/manifest.txt"

log "boot parts ready in $DEST (kernel $KVER)"
cat "$DEST/kernel-features.txt" >&2
