#!/usr/bin/env bash
# Build the workflow image with podman on a machine without a Docker daemon or Docker Hub
# (as CI does): the base is a Debian 12 root file system made with debootstrap and
# imported into podman; Python then comes from Debian's packages.  Idempotent.
#   envs/build-image.sh IMAGE VERSION
set -euo pipefail
image=${1:?usage: envs/build-image.sh IMAGE VERSION}
version=${2:?usage: envs/build-image.sh IMAGE VERSION}
base=localhost/atlasod-debian-bookworm-base
cd "$(dirname "$0")/.."

need=()
for tool in podman debootstrap runc; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "error: ${need[*]} missing; install podman, debootstrap and runc" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap runc >/dev/null
fi
# Rootful podman inside an unprivileged container: no ulimits, cgroupfs.
if [[ $(id -u) == 0 && ! -s /etc/containers/containers.conf ]]; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\n' \
        >/etc/containers/containers.conf
fi
if ! podman image exists "$base"; then
    root=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$root" >/dev/null
    tar -C "$root" -c . | podman import - "$base" >/dev/null
    rm -rf "$root"
fi
# The host's CA bundle (PyPI may be reached through a proxy with its own CA) is mounted
# for pip only, away from the image's own /etc/ssl.
podman --runtime runc build --format docker --network=host -v /etc/ssl/certs:/host-certs:ro \
    --build-arg BASE="$base" --build-arg VERSION="$version" \
    --build-arg PIP_CERT=/host-certs/ca-certificates.crt \
    -f envs/Dockerfile -t "$image" .
