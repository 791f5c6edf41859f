#!/usr/bin/env bash
# make-reference-image.sh [options] OUT
# make-reference-image.sh [options] --emit-inputs DIR [OUT]
#
# Builds, with the standard C tools only, a bootable GPT disk image:
#   p1 ESP (FAT32, label "esp"): /EFI/BOOT/BOOTX64.EFI = systemd-boot,
#      /EFI/Linux/gptimg-oracle.efi = UKI (systemd-stub + Debian kernel +
#      busybox initramfs + cmdline), /loader/loader.conf
#   p2 root-x86-64 (squashfs or erofs, read-only flag) whose /sbin/init prints
#      MARKER on the serial console and powers off
#   p3 root-x86-64-verity (veritysetup format), read-only flag
# PARTUUIDs of p2/p3 are the first/last 128 bits of the root hash (systemd's
# convention); the UKI command line carries roothash=. With --usr the data
# partition is a /usr partition instead (usrhash=, usr / usr-verity types).
# Bit-for-bit reproducible for the same inputs when GNU cpio (package cpio)
# is installed; with busybox cpio only the initramfs (inode numbers) differs.
#
# Writes OUT and OUT.env (ROOTHASH, MARKER, CMDLINE, offsets ... as shell
# variables). Tools used: sgdisk, mkfs.vfat, mcopy, mksquashfs or
# mkfs.erofs, veritysetup, objcopy/objdump, busybox (from the boot parts),
# host veritysetup + blkid + their libraries copied into the initramfs.
#
# Options:
#   --fs squashfs|erofs|erofs-lz4   root filesystem (default squashfs)
#   --marker STRING                 default GPTIMG-ORACLE-BOOT-OK
#   --parts DIR                     boot parts from fetch-boot-parts.sh (default
#                                   $ORACLE_PARTS, else $GPTIMG_BOOT_PARTS, else
#                                   /var/cache/gptimg/boot-parts;
#                                   fetched there if missing)
#   --no-verity                     no verity partition, no roothash=
#   --usr                           /usr + usr-verity instead of root + root-verity
#   --cmdline-extra "ARGS"          appended to the kernel command line
#   --quiet-kernel                  add 'quiet' to the command line
#   --keep-work DIR                 keep intermediate files (esp.img, root.fs,
#                                   hash.img, initrd.img, uki.efi, rootfs/) in DIR
#   --emit-inputs DIR               write the inputs a tool under test needs to
#                                   build its own bootable image (vmlinuz,
#                                   initrd.img, stub, systemd-boot, rootfs/,
#                                   usrfs/, cmdline.base, MARKER); OUT optional
set -euo pipefail
PROG=make-reference-image.sh
HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }

FS=squashfs MARKER=GPTIMG-ORACLE-BOOT-OK PARTS=${ORACLE_PARTS:-} VERITY=1 USR=0
CMDLINE_EXTRA='' QUIET='' KEEP='' OUT='' EMIT=''
while [ $# -gt 0 ]; do
    case "$1" in
        --fs) FS=$2; shift 2 ;;
        --marker) MARKER=$2; shift 2 ;;
        --parts) PARTS=$2; shift 2 ;;
        --no-verity) VERITY=0; shift ;;
        --usr) USR=1; shift ;;
        --cmdline-extra) CMDLINE_EXTRA=$2; shift 2 ;;
        --quiet-kernel) QUIET=quiet; shift ;;
        --keep-work) KEEP=$2; shift 2 ;;
        --emit-inputs) EMIT=$2; shift 2 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) [ -z "$OUT" ] || usage; OUT=$1; shift ;;
    esac
done
[ -n "$OUT" ] || [ -n "$EMIT" ] || usage
case "$FS" in squashfs|erofs|erofs-lz4) ;; *) die "--fs must be squashfs, erofs or erofs-lz4" ;; esac
case "$MARKER" in *[!A-Za-z0-9._:=+-]*|"") die "--marker: use only [A-Za-z0-9._:=+-]" ;; esac
[ "$USR" = 1 ] && [ "$VERITY" = 0 ] && die "--usr needs verity (usrhash= is how the initrd finds /usr)"

tools=(sgdisk:gdisk mkfs.vfat:dosfstools mcopy:mtools veritysetup:cryptsetup-bin
       objcopy:binutils objdump:binutils blkid:util-linux ldd:libc-bin gzip:gzip truncate:coreutils
       sha256sum:coreutils)
case "$FS" in squashfs) tools+=(mksquashfs:squashfs-tools) ;; erofs*) tools+=(mkfs.erofs:erofs-utils) ;; esac
need "${tools[@]}"

PARTS=${PARTS:-${GPTIMG_BOOT_PARTS:-/var/cache/gptimg/boot-parts}}
if [ ! -f "$PARTS/parts.env" ]; then
    log "no boot parts in $PARTS: running fetch-boot-parts.sh (apt-get download into that folder; nothing is installed)"
    "$HERE/fetch-boot-parts.sh" "$PARTS"
fi
PARTS=$(cd "$PARTS" && pwd)
# shellcheck disable=SC1091
. "$PARTS/parts.env"
BB="$PARTS/$BUSYBOX"
STUB="$PARTS/$UKI_STUB"
MODDIR="$PARTS/$MODULES_ROOT/lib/modules/$KVER"

W=$(mktemp -d "${TMPDIR:-/tmp}/gptimg-ref.XXXXXX")
cleanup() { rm -rf "$W"; }
trap cleanup EXIT
# All timestamps (squashfs/erofs/cpio/FAT). FAT cannot store dates before 1980,
# so the default is 2024-01-01T00:00:00Z; TZ=UTC keeps mtools' local-time
# conversion machine-independent.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
export TZ=UTC
T0=$(date +%s.%N)
step() { log "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "[%5.1fs]", b - a }') $*"; }

# Deterministic identifiers derived from the inputs.
SEED=$(printf '%s|%s|%s|%s' "$MARKER" "$FS" "$USR" "$VERITY" | sha256sum | cut -c1-64)
seeded() { printf '%s|%s' "$SEED" "$1" | sha256sum | cut -c1-64; }
DISK_GUID=$(hex_to_uuid "$(seeded disk)")
ESP_UUID=$(hex_to_uuid "$(seeded esp)")
FS_UUID=$(hex_to_uuid "$(seeded fs)")
VERITY_UUID=$(hex_to_uuid "$(seeded verity-uuid)")
VERITY_SALT=$(seeded verity-salt)
FAT_VOLID=$(seeded fat | cut -c1-8)
MiB=1048576
roundup() { echo $(( ($1 + $2 - 1) / $2 * $2 )); }

if [ "$USR" = 1 ]; then
    DATA_TYPE=$DPS_USR_X86_64 HASH_TYPE=$DPS_USR_X86_64_VERITY
    DATA_LABEL=usr-x86-64 HASH_LABEL=usr-x86-64-verity HASHARG=usrhash BBPATH=/usr/bin/busybox
else
    DATA_TYPE=$DPS_ROOT_X86_64 HASH_TYPE=$DPS_ROOT_X86_64_VERITY
    DATA_LABEL=root-x86-64 HASH_LABEL=root-x86-64-verity HASHARG=roothash BBPATH=/bin/busybox
fi

# ---------------------------------------------------------------- root tree
# make_tree DIR root|usr: the tree of the root (or /usr) filesystem: static
# busybox and an init that prints MARKER and powers off.
make_tree() {
    local R=$1 layout=$2 bbpath osrel
    if [ "$layout" = usr ]; then
        mkdir -p "$R/bin" "$R/sbin" "$R/lib"
        bbpath=/usr/bin/busybox osrel="$R/lib/os-release"
    else
        mkdir -p "$R/bin" "$R/sbin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/run" "$R/tmp"
        bbpath=/bin/busybox osrel="$R/etc/os-release"
    fi
    install -m 0755 "$BB" "$R/bin/busybox"
    cat > "$osrel" <<'EOF2'
ID=gptimg-oracle
NAME="gptimg oracle reference"
PRETTY_NAME="gptimg oracle reference"
VERSION_ID=1
EOF2
    cat > "$R/sbin/init" <<EOF2
#!$bbpath sh
# gptimg oracle: prove we run from the (verified) root, print the marker, power off.
B=$bbpath
\$B mount -t proc proc /proc
\$B mount -t sysfs sysfs /sys
echo "oracle-root: init \$0 running; mounts:"
\$B grep -E ' / | /usr ' /proc/mounts | \$B sed 's/^/oracle-root:   /'
for d in /sys/block/dm-*; do
    [ -e "\$d/dm/name" ] && echo "oracle-root: \${d##*/} is dm device '\$(\$B cat \$d/dm/name)'"
done
echo "$MARKER"
\$B sync
\$B poweroff -f
EOF2
    chmod 0755 "$R/sbin/init"
    find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}
step "root tree ($([ "$USR" = 1 ] && echo /usr || echo /) with busybox init, marker $MARKER)"
R="$W/rootfs"
make_tree "$R" "$([ "$USR" = 1 ] && echo usr || echo root)"
if [ "$USR" = 1 ]; then OSREL="$R/lib/os-release"; else OSREL="$R/etc/os-release"; fi

# ---------------------------------------------------------------- initramfs
step "initramfs (busybox + veritysetup + blkid + modules from $KVER)"
I="$W/initrd"
"$HERE/make-initrd-tree.sh" --parts "$PARTS" "$I"
if command -v cpio >/dev/null 2>&1 && cpio --help 2>&1 | grep -q -- --reproducible; then
    (cd "$I" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) > "$W/initrd.cpio"
else   # busybox cpio: fine, but inode numbers make it non-reproducible
    log "note: GNU cpio not installed (apt-get install cpio): initramfs, UKI and image will not be bit-reproducible"
    (cd "$I" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc -R 0:0 2>/dev/null) > "$W/initrd.cpio"
fi
gzip -n -9 < "$W/initrd.cpio" > "$W/initrd.img"

# ---------------------------------------------------------------- inputs
# --emit-inputs: what a tool under test needs to build its own bootable image
# with the same kernel, initramfs and root contents.
if [ -n "$EMIT" ]; then
    mkdir -p "$EMIT"
    rm -rf "$EMIT/rootfs" "$EMIT/usrfs"
    make_tree "$EMIT/rootfs" root
    make_tree "$EMIT/usrfs" usr
    cp "$PARTS/$VMLINUZ" "$EMIT/vmlinuz"
    cp "$W/initrd.img" "$EMIT/initrd.img"
    cp "$STUB" "$EMIT/linuxx64.efi.stub"
    cp "$PARTS/$SDBOOT_EFI" "$EMIT/systemd-bootx64.efi"
    cp "$OSREL" "$EMIT/os-release"
    printf 'timeout 0\n' > "$EMIT/loader.conf"
    printf '%s\n' "console=ttyS0,115200 panic=5 ro${QUIET:+ $QUIET}${CMDLINE_EXTRA:+ $CMDLINE_EXTRA}" > "$EMIT/cmdline.base"
    printf '%s\n' "$MARKER" > "$EMIT/MARKER"
    cat > "$EMIT/README" <<EOF2
Inputs for building a bootable test image (written by $PROG):
  systemd-bootx64.efi  -> ESP /EFI/BOOT/BOOTX64.EFI
  linuxx64.efi.stub + vmlinuz + initrd.img + os-release (.osrel)
     + cmdline (cmdline.base plus roothash=HEX or usrhash=HEX) -> UKI in ESP /EFI/Linux/
  loader.conf          -> ESP /loader/loader.conf (optional)
  rootfs/  tree for a root partition (x86-64 root type), /sbin/init prints MARKER
  usrfs/   tree for a /usr partition (x86-64 usr type), /sbin/init = /usr/sbin/init
The initramfs finds the partitions by DPS type, wants their PARTUUIDs to be the
first/last 128 bits of the root hash (oracle.partuuid=any on the command line
relaxes that), opens dm-verity with veritysetup and switch_roots.
Check a result with: boot-check.sh IMAGE "\$(cat MARKER)"
EOF2
    log "boot inputs written to $EMIT"
    if [ -z "$OUT" ]; then exit 0; fi
fi

# ---------------------------------------------------------------- data fs
step "root filesystem: $FS"
case "$FS" in
    squashfs)
        # mksquashfs takes its timestamps from SOURCE_DATE_EPOCH (and refuses
        # -mkfs-time/-all-time when that is set)
        mksquashfs "$R" "$W/root.fs" -noappend -all-root -no-xattrs -no-progress >"$W/mkfs.log" 2>&1 || { cat "$W/mkfs.log" >&2; die "mksquashfs failed"; } ;;
    erofs|erofs-lz4)
        zopt=(); [ "$FS" = erofs-lz4 ] && zopt=(-zlz4hc)
        mkfs.erofs "${zopt[@]}" -T"$SOURCE_DATE_EPOCH" --all-root -x-1 -U"$FS_UUID" "$W/root.fs" "$R" \
            >"$W/mkfs.log" 2>&1 || { cat "$W/mkfs.log" >&2; die "mkfs.erofs failed"; } ;;
esac
cp "$W/root.fs" "$W/data.img"
truncate -s "$(roundup "$(stat -c %s "$W/root.fs")" $MiB)" "$W/data.img"

# ---------------------------------------------------------------- verity
ROOTHASH=
if [ "$VERITY" = 1 ]; then
    step "veritysetup format"
    veritysetup format --salt="$VERITY_SALT" --uuid="$VERITY_UUID" --root-hash-file="$W/roothash" \
        "$W/data.img" "$W/hash.img" >"$W/verity.log"
    ROOTHASH=$(cat "$W/roothash")
    truncate -s "$(roundup "$(stat -c %s "$W/hash.img")" $MiB)" "$W/hash.img"
    DATA_UUID=$(roothash_data_uuid "$ROOTHASH")
    HASH_UUID=$(roothash_hash_uuid "$ROOTHASH")
else
    DATA_UUID=$(hex_to_uuid "$(seeded data-uuid)")
fi

# ---------------------------------------------------------------- UKI
# binutils 2.40 objcopy stamps the current time into the PE header (and
# recomputes the PE checksum): set TimeDateStamp to SOURCE_DATE_EPOCH and
# update the checksum incrementally (16-bit one's-complement sum + length).
u32() { od -An -tu4 --endian=little -j "$2" -N4 "$1" | tr -d ' '; }
put_u32() {
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(( $3 & 255 )) $(( ($3 >> 8) & 255 )) $(( ($3 >> 16) & 255 )) $(( ($3 >> 24) & 255 )))" |
        dd of="$1" bs=1 seek="$2" count=4 conv=notrunc status=none
}
pe_fix_timestamp() {  # FILE EPOCH
    local f=$1 new=$2 pe old cs len s
    pe=$(u32 "$f" 60)
    old=$(u32 "$f" $(( pe + 8 ))); cs=$(u32 "$f" $(( pe + 88 ))); len=$(stat -c %s "$f")
    put_u32 "$f" $(( pe + 8 )) "$new"
    [ "$cs" -eq 0 ] && return                      # no checksum to keep right
    s=$(( (cs - len) & 0xffffffff ))
    onesadd() { s=$(( s + $1 )); s=$(( (s & 0xffff) + (s >> 16) )); }
    onesadd $(( 0xffff - (old & 0xffff) )); onesadd $(( 0xffff - (old >> 16) ))
    onesadd $(( new & 0xffff )); onesadd $(( new >> 16 ))
    put_u32 "$f" $(( pe + 88 )) $(( (s + len) & 0xffffffff ))
}
CMDLINE="console=ttyS0,115200 panic=5 ro${QUIET:+ $QUIET}"
[ -n "$ROOTHASH" ] && CMDLINE="$CMDLINE $HASHARG=$ROOTHASH"
[ -n "$CMDLINE_EXTRA" ] && CMDLINE="$CMDLINE $CMDLINE_EXTRA"
step "UKI: objcopy systemd-stub + kernel + initrd, cmdline: $CMDLINE"
printf '%s' "$CMDLINE" > "$W/cmdline"
cp "$OSREL" "$W/osrel"
# Place the new sections after the stub's, 4 KiB aligned, .linux last.
end=$(objdump -h "$STUB" | while read -r idx name size vma rest; do
          if [[ $idx =~ ^[0-9]+$ ]]; then echo $(( 0x$vma + 0x$size )); fi
      done | sort -n | tail -n1)
off=$(roundup "$end" 4096)
objargs=()
for sec in osrel:"$W/osrel" cmdline:"$W/cmdline" initrd:"$W/initrd.img" linux:"$PARTS/$VMLINUZ"; do
    name=${sec%%:*}; file=${sec#*:}
    objargs+=(--add-section ".$name=$file" --change-section-vma ".$name=$(printf '0x%x' "$off")")
    off=$(roundup $(( off + $(stat -c %s "$file") )) 4096)
done
objcopy "${objargs[@]}" "$STUB" "$W/uki.efi"
pe_fix_timestamp "$W/uki.efi" "$SOURCE_DATE_EPOCH"

# ---------------------------------------------------------------- ESP
step "ESP: FAT32 with systemd-boot + UKI"
uki_sz=$(stat -c %s "$W/uki.efi"); sdb_sz=$(stat -c %s "$PARTS/$SDBOOT_EFI")
esp_mib=$(( (uki_sz + 2 * sdb_sz) / MiB + 8 )); [ $esp_mib -lt 64 ] && esp_mib=64
truncate -s $(( esp_mib * MiB )) "$W/esp.img"
mkfs.vfat -F 32 -n ESP -i "$FAT_VOLID" --invariant "$W/esp.img" >"$W/mkfs.vfat.log"
# Lay the tree out locally and copy it in one go: mcopy -s -m keeps the
# (fixed) mtimes of files and directories, mmd would stamp the current time.
E="$W/esp-tree"
mkdir -p "$E/EFI/BOOT" "$E/EFI/systemd" "$E/EFI/Linux" "$E/loader"
cp "$PARTS/$SDBOOT_EFI" "$E/EFI/BOOT/BOOTX64.EFI"
cp "$PARTS/$SDBOOT_EFI" "$E/EFI/systemd/systemd-bootx64.efi"
cp "$W/uki.efi" "$E/EFI/Linux/gptimg-oracle.efi"
printf 'timeout 0\n' > "$E/loader/loader.conf"
find "$E" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
export MTOOLS_SKIP_CHECK=1
mcopy -s -m -i "$W/esp.img" "$E/EFI" "$E/loader" ::/

# ---------------------------------------------------------------- disk
step "GPT disk: sgdisk + dd"
esp_sz=$(stat -c %s "$W/esp.img"); data_sz=$(stat -c %s "$W/data.img")
hash_sz=0; [ "$VERITY" = 1 ] && hash_sz=$(stat -c %s "$W/hash.img")
s1=$MiB; s2=$(( s1 + esp_sz )); s3=$(( s2 + data_sz )); send=$(( s3 + hash_sz ))
total=$(( send + MiB ))
TMPOUT="$OUT.tmp.$$"
rm -f "$TMPOUT"; truncate -s "$total" "$TMPOUT"
sg=(-o -U "$DISK_GUID"
    -n "1:$(( s1 / 512 )):$(( s2 / 512 - 1 ))" -t "1:$DPS_ESP" -c 1:esp -u "1:$ESP_UUID"
    -n "2:$(( s2 / 512 )):$(( s3 / 512 - 1 ))" -t "2:$DATA_TYPE" -c "2:$DATA_LABEL" -u "2:$DATA_UUID" -A 2:set:60)
[ "$VERITY" = 1 ] && sg+=(-n "3:$(( s3 / 512 )):$(( send / 512 - 1 ))" -t "3:$HASH_TYPE" -c "3:$HASH_LABEL"
                          -u "3:$HASH_UUID" -A 3:set:60)
sgdisk "${sg[@]}" "$TMPOUT" >"$W/sgdisk.log" || { cat "$W/sgdisk.log" >&2; die "sgdisk failed"; }
dd if="$W/esp.img" of="$TMPOUT" bs=1M seek=$(( s1 / MiB )) conv=notrunc,sparse status=none
dd if="$W/data.img" of="$TMPOUT" bs=1M seek=$(( s2 / MiB )) conv=notrunc,sparse status=none
[ "$VERITY" = 1 ] && dd if="$W/hash.img" of="$TMPOUT" bs=1M seek=$(( s3 / MiB )) conv=notrunc,sparse status=none
mv -f "$TMPOUT" "$OUT"

cat > "$OUT.env" <<EOF
# written by $PROG for $(basename "$OUT")
MARKER=$MARKER
FS=$FS
LAYOUT=$([ "$USR" = 1 ] && echo usr || echo root)
ROOTHASH=$ROOTHASH
CMDLINE="$CMDLINE"
KERNEL=$KVER
DISK_GUID=$DISK_GUID
ESP_PARTUUID=$ESP_UUID
DATA_PARTUUID=$DATA_UUID
HASH_PARTUUID=${HASH_UUID:-}
DATA_TYPE=$DATA_TYPE
HASH_TYPE=$([ "$VERITY" = 1 ] && echo "$HASH_TYPE")
ESP_OFFSET=$s1
ESP_SIZE=$esp_sz
DATA_OFFSET=$s2
DATA_SIZE=$data_sz
FS_SIZE=$(stat -c %s "$W/root.fs")
HASH_OFFSET=$([ "$VERITY" = 1 ] && echo "$s3")
HASH_SIZE=$hash_sz
VERITY_SALT=$([ "$VERITY" = 1 ] && echo "$VERITY_SALT")
EOF
if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    cp -a "$W/esp.img" "$W/root.fs" "$W/data.img" "$W/initrd.img" "$W/uki.efi" "$W/cmdline" "$W/rootfs" "$KEEP/"
    [ "$VERITY" = 1 ] && cp -a "$W/hash.img" "$W/roothash" "$KEEP/"
    cp -a "$I" "$KEEP/initrd-tree"
fi
step "done: $OUT ($(( total / MiB )) MiB, $FS, roothash ${ROOTHASH:-none})"
