#!/usr/bin/env bash
# A fresh Ubuntu 24.04 (noble) root file system for the class hub's playbook test, made
# with debootstrap (Debian 12's debootstrap has no noble script; noble bootstraps like
# jammy) and imported into podman as localhost/atlasod-ubuntu-noble-base.  Idempotent.
# The archive is checked against Ubuntu's archive key, taken from the ubuntu-keyring
# package and accepted only with its published fingerprint.
#   tests/classhub/ubuntu-base.sh [MIRROR]
set -euo pipefail
mirror=${1:-http://archive.ubuntu.com/ubuntu}
base=localhost/atlasod-ubuntu-noble-base
# Ubuntu Archive Automatic Signing Key (2018) <ftpmaster@ubuntu.com>
fingerprint=F6ECB3762474EDA9D21B7022871920D1991BC93C
keyring_deb=pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb

if podman image exists "$base"; then
    exit 0
fi
for tool in debootstrap gpg curl dpkg-deb; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool is needed (apt-get install debootstrap gpg curl)" >&2
        exit 1
    }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
curl -fsS --retry 3 -o "$work/keyring.deb" "$mirror/$keyring_deb"
dpkg-deb -x "$work/keyring.deb" "$work/keyring"
keyring=$work/keyring/usr/share/keyrings/ubuntu-archive-keyring.gpg
if ! gpg --quiet --show-keys --with-colons "$keyring" | grep -q "^fpr:::::::::$fingerprint:"; then
    echo "error: $mirror/$keyring_deb does not hold Ubuntu's archive key $fingerprint" >&2
    exit 1
fi
debootstrap --variant=minbase --keyring="$keyring" noble "$work/root" "$mirror" \
    /usr/share/debootstrap/scripts/jammy >/dev/null
# The archive's pockets and components that a cloud image of Ubuntu 24.04 has (nodejs and
# npm are in universe).
rm -f "$work/root/etc/apt/sources.list"
cat >"$work/root/etc/apt/sources.list.d/ubuntu.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: noble noble-updates noble-security
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
SOURCES
install -m 644 "$keyring" "$work/root/usr/share/keyrings/ubuntu-archive-keyring.gpg"
tar -C "$work/root" -c . | podman import - "$base" >/dev/null
