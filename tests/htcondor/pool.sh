#!/usr/bin/env bash
# A personal HTCondor pool on this machine, for the tests (needs root).
#
# Debian 12 has no HTCondor package, so the pool lives in a Debian 13 chroot: the condor
# daemons run there (as root, dropping to the condor user), jobs and the submitting
# Snakemake run there as an unprivileged user (uid 2000).  Host paths the jobs need (the
# repository, its virtual environment, the Python it was made from, the test's work
# directory) are bind-mounted at the same paths, as a shared file system would be.
#
#   pool.sh build ROOT             debootstrap + apt-get install condor (once; cached)
#   pool.sh start ROOT TOKENS PATH...  mount PATHs, start the daemons, wait for a free slot,
#                                  write an IDTOKEN for the job user into TOKENS/
#   pool.sh stop ROOT              stop the daemons, unmount everything under ROOT
set -euo pipefail

cmd=${1:?usage: pool.sh build|start|stop ROOT ...}
root=${2:?ROOT missing}
shift 2
JOB_UID=2000
JOB_USER=atlasod

log() { echo "pool.sh: $*" >&2; }

build() {
    if [ -x "$root/usr/sbin/condor_master" ]; then
        return 0
    fi
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    local tmp="$root.partial"
    rm -rf "$tmp"
    log "debootstrap trixie into $tmp"
    debootstrap --variant=minbase trixie "$tmp" >"$tmp.log" 2>&1 || { cat "$tmp.log"; exit 1; }
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    log "installing HTCondor"
    chroot "$tmp" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends condor >/dev/null'
    chroot "$tmp" useradd -u "$JOB_UID" -m "$JOB_USER"
    chmod 755 "$tmp/root"  # bind-mounted paths under /root stay reachable for the job user
    cat >"$tmp/etc/condor/config.d/50-personal.config" <<'CONFIG'
# One machine, loopback only: collector, negotiator, schedd and startd.
use ROLE: Personal
CONDOR_HOST = 127.0.0.1
NETWORK_INTERFACE = 127.0.0.1
ENABLE_IPV6 = False
NUM_CPUS = 2
START = TRUE
SUSPEND = FALSE
PREEMPT = FALSE
KILL = FALSE
# inside a chroot in a container: no private mounts or namespaces for the jobs
MOUNT_UNDER_SCRATCH =
MOUNT_PRIVATE_DEV_SHM = False
USE_PID_NAMESPACES = False
DISCARD_SESSION_KEYRING_ON_STARTUP = False
# a test pool: match and start jobs quickly
SCHEDD_INTERVAL = 2
NEGOTIATOR_INTERVAL = 2
NEGOTIATOR_CYCLE_DELAY = 1
STARTER_UPDATE_INTERVAL = 2
CONFIG
    rm -f "$tmp.log"
    mv "$tmp" "$root"
}

mount_bind() {  # mount_bind SOURCE TARGET
    mkdir -p "$2"
    mountpoint -q "$2" || mount --bind "$1" "$2"
}

start() {
    local tokens=${1:?TOKENS directory missing}
    shift
    stop  # whatever an interrupted earlier run left
    mount_bind /proc "$root/proc"
    mount_bind /dev "$root/dev"
    for path in "$@"; do
        mount_bind "$path" "$root$path"
    done
    chmod 1777 "$root/tmp"
    # a fresh pool every time: no queue, history or scratch directories of earlier runs
    rm -rf "${root:?}/var/spool/condor/"* "${root:?}/var/lib/condor/execute/"*
    grep -q " $(hostname)\$" "$root/etc/hosts" || echo "127.0.0.1 $(hostname)" >>"$root/etc/hosts"
    chroot "$root" condor_master
    for _ in $(seq 120); do
        if chroot "$root" condor_status -af State 2>/dev/null | grep -q Unclaimed; then
            break
        fi
        sleep 1
    done
    chroot "$root" condor_status -af State 2>/dev/null | grep -q Unclaimed \
        || { log "no slot after 120 s"; tail -20 "$root/var/log/condor/MasterLog" >&2; exit 1; }
    mkdir -p "$tokens"
    local domain
    domain=$(chroot "$root" condor_config_val UID_DOMAIN)
    chroot "$root" condor_token_create -identity "$JOB_USER@$domain" >"$tokens/$JOB_USER"
    chown -R "$JOB_UID:$JOB_UID" "$tokens"
    chmod 700 "$tokens"
    chmod 600 "$tokens/$JOB_USER"
    log "pool up: $(chroot "$root" condor_status -af Name State | tr '\n' ' ')"
}

in_root() {  # PIDs of the processes whose root directory is ROOT
    local real
    real=$(readlink -f "$root")
    for proc in /proc/[0-9]*; do
        [ "$(readlink "$proc/root" 2>/dev/null)" = "$real" ] && echo "${proc#/proc/}"
    done
    return 0
}

stop() {
    chroot "$root" condor_off -master -fast >/dev/null 2>&1 || true
    for _ in $(seq 30); do
        [ -z "$(in_root)" ] && break
        sleep 1
    done
    in_root | xargs -r kill -9 2>/dev/null || true
    local real
    real=$(readlink -f "$root")
    awk -v r="$real" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r \
        | while read -r mnt; do umount -l "$mnt" || true; done
}

case "$cmd" in
build) build ;;
start) start "$@" ;;
stop) stop ;;
*) log "unknown command $cmd"; exit 2 ;;
esac
