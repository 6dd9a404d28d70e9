#!/usr/bin/env bash
# Build a local stand-in for the Python base image, without any image registry.
#
#   deploy/local-base-image.sh [IMAGE]     # default responder-local/python:3.11-slim-bookworm
#   docker build --build-arg PYTHON_IMAGE=responder-local/python:3.11-slim-bookworm -t responder .
#
# Debian bookworm's own python3 (3.11), python3-venv (ensurepip with Debian's pip and setuptools
# wheels) and ca-certificates, put into a minimal root filesystem by debootstrap from Debian's
# package mirror and imported with `docker import`. It stands in for python:3.11-slim-bookworm
# where no registry is reachable; Python lives at /usr/bin/python3 here, not /usr/local/bin.
#
# Does nothing when the image already exists (it is a cache: delete it to rebuild). Needs root
# (debootstrap) and a Docker engine; installs debootstrap with apt-get when it is missing.
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SUITE (bookworm).
set -euo pipefail

IMAGE="${1:-responder-local/python:3.11-slim-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="${DEBIAN_SUITE:-bookworm}"
PACKAGES=python3,python3-venv,ca-certificates

say() { echo "local-base-image: $*" >&2; }

image_exists() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

if image_exists; then
    say "$IMAGE exists; nothing to do"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    say "debootstrap needs root; run this as root (or with sudo)"
    exit 1
fi
if ! docker info >/dev/null 2>&1; then
    say "no Docker engine answers (docker info failed)"
    exit 1
fi

# One build at a time: a second caller waits, then finds the image and stops.
exec 9>/var/lock/responder-local-base-image.lock
flock 9
if image_exists; then
    say "$IMAGE was built meanwhile; nothing to do"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
        apt-get install -y -qq debootstrap >/dev/null
fi

# Not /tmp: it may be a tmpfs mounted nodev, and the root filesystem needs a few hundred MB.
WORK=$(mktemp -d /var/tmp/responder-base.XXXXXX)
ROOTFS="$WORK/rootfs"

unmount_below() {
    # Whatever debootstrap left mounted if it stopped half-way (proc, sys, a bound /dev),
    # deepest first, so that the removal below never walks into the host's filesystems.
    local mounts
    mounts=$(awk -v root="$1" 'index($2, root "/") == 1 { print $2 }' /proc/mounts | sort -r)
    if [ -n "$mounts" ]; then
        while IFS= read -r mount; do
            umount -l "$mount" 2>/dev/null || true
        done <<<"$mounts"
    fi
}
cleanup() {
    unmount_below "$ROOTFS"
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

say "debootstrap --variant=minbase $SUITE from $MIRROR with $PACKAGES"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1; then
    say "debootstrap failed; its log ends with:"
    tail -n 30 "$WORK/debootstrap.log" >&2
    tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    exit 1
fi

# `python3 -m venv` must bring pip along (Debian splits ensurepip's wheels into their own
# packages): check it here rather than in the first docker build that uses the image.
chroot "$ROOTFS" /usr/bin/python3 -m venv /tmp/venv-check
chroot "$ROOTFS" /tmp/venv-check/bin/python -m pip --version >&2
rm -rf "$ROOTFS/tmp/venv-check"

# Trim: package lists and caches, manuals, translations, logs, and the build host's own files
# (debootstrap copies its resolv.conf and hostname; Docker provides both at run time).
rm -rf "${ROOTFS:?}"/var/lib/apt/lists/* "${ROOTFS:?}"/var/cache/apt/* \
    "${ROOTFS:?}"/var/cache/debconf/*-old "${ROOTFS:?}"/var/log/* "${ROOTFS:?}"/debootstrap \
    "${ROOTFS:?}"/usr/share/man/* "${ROOTFS:?}"/usr/share/info/* "${ROOTFS:?}"/usr/share/lintian \
    "${ROOTFS:?}"/tmp/* "${ROOTFS:?}"/var/tmp/* "${ROOTFS:?}"/dev/* "${ROOTFS:?}"/run/*
# Documentation goes, but each package's copyright file (its licence) stays.
find "${ROOTFS:?}"/usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find "${ROOTFS:?}"/usr/share/doc -mindepth 1 -type d -empty -delete
find "${ROOTFS:?}"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
# As Debian's slim images do: packages installed on top of this one leave these out too.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/slim" <<'EOF_DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF_DPKG
: >"$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/hostname"
rm -f "$ROOTFS/etc/machine-id" "$ROOTFS/var/lib/dbus/machine-id"

say "importing $IMAGE"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "debootstrap --variant=minbase $SUITE + $PACKAGES (deploy/local-base-image.sh)" \
    - "$IMAGE" >/dev/null
say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE") bytes)"
