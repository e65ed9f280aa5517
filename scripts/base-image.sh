#!/usr/bin/env bash
# Builds a local Python base image for the service images when no image registry is reachable.
#
# The production base stays python:3.11-slim-bookworm (the Dockerfile's default). Where that
# cannot be pulled, this makes an equivalent from Debian's own mirror: a minimal bookworm root
# filesystem (debootstrap) with Debian's Python 3.11, venv and pip, imported as one layer. It is
# made once: when the image already exists nothing is done. Only the image name goes to stdout,
# so callers can write BASE_IMAGE=$(scripts/base-image.sh).
#
# Needs root, debootstrap and a Docker engine.
# Environment:
#   TOLLGATE_BASE_IMAGE   tag to create (default tollgate-base:bookworm)
#   DEBIAN_MIRROR         mirror to bootstrap from (default: apt's configured Debian mirror)
set -euo pipefail

image=${TOLLGATE_BASE_IMAGE:-tollgate-base:bookworm}
suite=bookworm
# Debian's python3 is 3.11 in bookworm; passwd gives the Dockerfile useradd/groupadd as in the
# registry's Python image.
packages=python3,python3-venv,python3-pip,ca-certificates,passwd

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

apt_mirror() {
  # The first Debian archive URI apt uses (deb822 .sources or one-line .list), else Debian's CDN.
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.list \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ')
  echo "${uri:-http://deb.debian.org/debian}"
}

command -v debootstrap >/dev/null || {
  echo "debootstrap is needed to build $image (apt-get install debootstrap)" >&2
  exit 1
}
mirror=${DEBIAN_MIRROR:-$(apt_mirror)}
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT

echo "building base image $image: debootstrap $suite from $mirror" >&2
# Progress: debootstrap's phases, without its line per package.
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
  | { grep --line-buffered -vE '^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) ' || true; } \
  | sed -u 's/^/  debootstrap: /' >&2
# The host's own certificate authorities (a TLS-inspecting proxy's, a company's), so builds on
# this base reach the package index exactly as the host does.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  # (It warns that the bundle file is not a single certificate: expected, and harmless.)
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
fi
# What a container never needs: package lists and caches, documentation, manuals.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*

tar --numeric-owner -C "$rootfs" -c . \
  | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["python3"]' \
      - "$image" >/dev/null
echo "$image"
