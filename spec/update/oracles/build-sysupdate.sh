#!/usr/bin/env bash
# Builds the REAL systemd-sysupdate (plus the systemd-import and systemd-pull helpers it execs)
# from Debian trixie's systemd source package, because Debian ships no systemd-sysupdate. The
# sysupdate oracle test (spec/update/sysupdate.spec.ts) runs these binaries from the build
# directory inside a dedicated chroot, separate from the shared trixie chroot.
#
# Idempotent and cached: a stamp holding the systemd version marks a finished build; rerunning
# with the stamp present only (re)mounts proc, dev and sys. About 10 minutes on 2 cores when cold.
#
# Layout inside the chroot ($SYSUPDATE_ROOT, default /var/cache/gptimg/sysupdate-build):
#   /src/systemd-<version>/build/systemd-sysupdate   (rpath to build/src/shared/libsystemd-shared-*.so)
#   /src/systemd-<version>/build/systemd-import, systemd-pull
#   /usr/local/bin/systemd-sysupdate                 wrapper: points sysupdate at the helpers above
#   /.gptimg-sysupdate                               stamp: the systemd version
set -euo pipefail

ROOT=${GPTIMG_SYSUPDATE_ROOT:-/var/cache/gptimg/sysupdate-build}
STAMP="$ROOT/.gptimg-sysupdate"
# meson/ninja, the libraries systemd always needs (libmount, libcap, libcrypt), and the ones the
# three targets need: fdisk + openssl (sysupdate), curl + zlib + xz + zstd (import/pull, which
# also unpack the .raw.zst/.raw.gz artifacts).
BUILD_PACKAGES=(dpkg-dev meson ninja-build gcc libc6-dev pkg-config gperf python3-jinja2
  libmount-dev libcap-dev libcrypt-dev libfdisk-dev libblkid-dev libssl-dev
  libcurl4-openssl-dev zlib1g-dev liblzma-dev libzstd-dev)

mount_api() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  # sysupdate inspects the target disk through sysfs (partition scanning, sector size).
  mountpoint -q "$ROOT/sys" || mount --bind /sys "$ROOT/sys"
}

if [ -f "$STAMP" ]; then
  mount_api
  echo "sysupdate: cached ($(cat "$STAMP")) in $ROOT"
  exit 0
fi

started=$(date +%s)
if [ ! -f "$ROOT/.gptimg-debootstrap" ]; then
  echo "sysupdate: debootstrap trixie into $ROOT"
  for mount in proc dev sys; do
    if mountpoint -q "$ROOT/$mount" 2>/dev/null; then umount -l "$ROOT/$mount"; fi
  done
  rm -rf "$ROOT"
  mkdir -p "$(dirname "$ROOT")"
  debootstrap --variant=minbase trixie "$ROOT" >/dev/null
  echo "deb-src http://deb.debian.org/debian trixie main" >> "$ROOT/etc/apt/sources.list"
  touch "$ROOT/.gptimg-debootstrap"
fi
mount_api

echo "sysupdate: installing build dependencies"
chroot "$ROOT" apt-get update -qq
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${BUILD_PACKAGES[@]}" >/dev/null

echo "sysupdate: fetching the systemd source package"
chroot "$ROOT" sh -c 'mkdir -p /src && cd /src && ls -d systemd-*/ >/dev/null 2>&1 || apt-get source -qq systemd >/dev/null'
SRC=$(chroot "$ROOT" sh -c 'cd /src && ls -d systemd-*/ | head -1')
SRC=/src/${SRC%/}
VERSION=$(chroot "$ROOT" sh -c "cd $SRC && dpkg-parsechangelog -S Version")

echo "sysupdate: building systemd $VERSION (sysupdate, import, pull)"
# Every auto feature off except what the three targets need; the build tree is thrown away and
# recreated when a previous attempt failed half-way.
chroot "$ROOT" sh -c "cd $SRC && rm -rf build && meson setup build -Dauto_features=disabled \
  -Dmode=release -Dbuildtype=release -Dtests=false -Dman=disabled -Dhtml=disabled \
  -Dsysupdate=enabled -Dimportd=enabled -Dfdisk=enabled -Dopenssl=enabled -Dblkid=enabled \
  -Dlibcurl=enabled -Dzlib=enabled -Dxz=enabled -Dzstd=enabled >/src/meson-setup.log"
chroot "$ROOT" sh -c "cd $SRC/build && ninja systemd-sysupdate systemd-import systemd-pull >/src/ninja.log"

# sysupdate finds its helpers through $SYSTEMD_IMPORT_PATH / $SYSTEMD_PULL_PATH (else the
# compiled-in /usr/lib/systemd paths, which this chroot does not have).
cat > "$ROOT/usr/local/bin/systemd-sysupdate" <<WRAPPER
#!/bin/sh
export SYSTEMD_IMPORT_PATH=$SRC/build/systemd-import SYSTEMD_PULL_PATH=$SRC/build/systemd-pull
exec $SRC/build/systemd-sysupdate "\$@"
WRAPPER
chmod 0755 "$ROOT/usr/local/bin/systemd-sysupdate"
chroot "$ROOT" systemd-sysupdate --version | head -1
echo "$VERSION" > "$STAMP"
echo "sysupdate: built systemd $VERSION in $(( $(date +%s) - started )) s"
