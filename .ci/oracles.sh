#!/usr/bin/env bash
# Installs the independent readers the tests check gptimg against:
#  - Debian packages on the host (sfdisk, sgdisk, fsck.fat, mtools, unsquashfs, veritysetup, …)
#  - a Debian trixie chroot with current systemd (repart v257) and erofs-utils 1.8, which
#    doubles as the "real Debian tree" of the filesystem tests.
# Idempotent: a chroot whose package list matches is reused.
set -euo pipefail

HOST_PACKAGES=(fdisk gdisk dosfstools mtools squashfs-tools erofs-utils cryptsetup-bin openssl
  debootstrap cpio libarchive-tools binutils qemu-system-x86 ovmf attr xz-utils zstd
  sbsigntool osslsigncode 7zip libcap2-bin python3 python3-jsonschema python3-lz4)
TRIXIE_PACKAGES=systemd,systemd-repart,fdisk,erofs-utils,squashfs-tools,cryptsetup-bin,dosfstools,mtools
# Installed into the chroot afterwards, so adding one does not rebuild the tree fixture.
TRIXIE_EXTRA_PACKAGES=(systemd-ukify e2fsprogs)
TRIXIE_ROOT=${GPTIMG_TRIXIE_ROOT:-/var/cache/gptimg/trixie}

missing=()
for package in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "oracles: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$TRIXIE_ROOT/.gptimg-packages"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$TRIXIE_PACKAGES" ]; then
  echo "oracles: debootstrap trixie into $TRIXIE_ROOT (about a minute)"
  for mount in proc dev; do
    if mountpoint -q "$TRIXIE_ROOT/$mount" 2>/dev/null; then umount -l "$TRIXIE_ROOT/$mount"; fi
  done
  rm -rf "$TRIXIE_ROOT.wip"
  mkdir -p "$(dirname "$TRIXIE_ROOT")"
  debootstrap --variant=minbase --include="$TRIXIE_PACKAGES" trixie "$TRIXIE_ROOT.wip" >/dev/null
  rm -rf "$TRIXIE_ROOT"
  mv "$TRIXIE_ROOT.wip" "$TRIXIE_ROOT"
  echo "$TRIXIE_PACKAGES" > "$stamp"
fi
# The "real Debian tree" fixture of the filesystem tests: a GNU tar of the chroot (owners,
# modes, xattrs, hardlinks kept; the proc/dev mount points empty) and that tar extracted.
TREE_TAR=${GPTIMG_TRIXIE_TAR:-$(dirname "$TRIXIE_ROOT")/trixie-tree.tar}
TREE_DIR=${GPTIMG_TRIXIE_TREE:-$(dirname "$TRIXIE_ROOT")/trixie-tree}
if [ ! -f "$TREE_TAR" ] || [ "$stamp" -nt "$TREE_TAR" ]; then
  echo "oracles: packing the trixie tree fixture"
  tar --xattrs --xattrs-include='*' --numeric-owner --one-file-system -C "$TRIXIE_ROOT" -cf "$TREE_TAR.wip" --exclude=./.gptimg-packages .
  mv "$TREE_TAR.wip" "$TREE_TAR"
  rm -rf "$TREE_DIR"
  mkdir -p "$TREE_DIR"
  tar --xattrs --xattrs-include='*' --numeric-owner -C "$TREE_DIR" -xpf "$TREE_TAR"
fi
mountpoint -q "$TRIXIE_ROOT/proc" || mount -t proc proc "$TRIXIE_ROOT/proc"
mountpoint -q "$TRIXIE_ROOT/dev" || mount --bind /dev "$TRIXIE_ROOT/dev"
missing=()
for package in "${TRIXIE_EXTRA_PACKAGES[@]}"; do
  chroot "$TRIXIE_ROOT" dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "oracles: installing ${missing[*]} in the trixie chroot"
  chroot "$TRIXIE_ROOT" apt-get update -qq
  chroot "$TRIXIE_ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Boot test B's real system: Debian trixie with systemd, udev, veritysetup, systemd-repart, systemd-boot and kmod,
# composed into an image by gptimg (its /usr becomes the erofs partition, the whole tree the
# initrd); the kernel is the boot parts' 6.1 one (trixie's 6.12 panics under loaded TCG). Trimmed of docs, locales and package caches to keep the initrd small.
BOOT_ROOT=${GPTIMG_TRIXIE_BOOT_ROOT:-$(dirname "$TRIXIE_ROOT")/trixie-boot}
BOOT_PACKAGES=systemd,udev,systemd-cryptsetup,systemd-repart,kmod,systemd-boot-efi
if [ ! -f "$BOOT_ROOT.stamp" ] || [ "$(cat "$BOOT_ROOT.stamp")" != "$BOOT_PACKAGES" ]; then
  echo "oracles: debootstrap the boot test system into $BOOT_ROOT (about two minutes)"
  rm -rf "$BOOT_ROOT.wip"
  debootstrap --variant=minbase --include="$BOOT_PACKAGES" trixie "$BOOT_ROOT.wip" >/dev/null
  rm -rf "$BOOT_ROOT.wip"/boot/initrd.img-* "$BOOT_ROOT.wip"/var/cache/apt/archives/*.deb "$BOOT_ROOT.wip"/var/lib/apt/lists/* \
    "$BOOT_ROOT.wip"/usr/share/doc/* "$BOOT_ROOT.wip"/usr/share/man/* "$BOOT_ROOT.wip"/usr/share/locale/*
  rm -rf "$BOOT_ROOT"
  mv "$BOOT_ROOT.wip" "$BOOT_ROOT"
  echo "$BOOT_PACKAGES" > "$BOOT_ROOT.stamp"
fi
# The real systemd-sysupdate 257, built from Debian's source (Debian does not ship it): about
# ten minutes once, cached in /var/cache/gptimg/sysupdate-build.
bash "$(dirname "$0")/../spec/update/oracles/build-sysupdate.sh"
# Kernel, systemd-boot/stub and busybox for the QEMU boot tests (Debian packages, unpacked).
bash "$(dirname "$0")/../spec/boot/oracles/ci-prepare.sh"
echo "oracles: ready (systemd-repart $(chroot "$TRIXIE_ROOT" systemd-repart --version | head -1 | awk '{print $2}'))"
