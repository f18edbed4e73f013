#!/usr/bin/env bash
# The hashed locks under envs/ and what each is compiled from (uv, Python 3.11):
#   tools/locks.sh compile [--upgrade]   rewrite them (keeps the current pins where it can)
#   tools/locks.sh check                 fail if one no longer satisfies its .in file
# A lock compiled with a constraint keeps that lock's versions (the class hub's kernel is
# the analyses' environment plus ipykernel; the test tools are Ansible's lock plus theirs).
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
locks=(  # lock  input  [constraint]
    "envs/requirements.lock envs/requirements.in"
    "envs/datalake-server.lock envs/datalake-server.in"
    "envs/hub.lock envs/hub.in"
    "envs/kernel.lock envs/kernel.in envs/requirements.lock"
    "envs/ansible.lock envs/ansible.in"
    "envs/deploy.lock envs/deploy.in envs/ansible.lock"
    "envs/docs.lock envs/docs.in"
)
compile() {  # compile LOCK IN [CONSTRAINT] -- extra args
    local lock=$1 in=$2 constraint=${3:-}
    shift 3 || shift $#
    "$uv" pip compile --quiet --python-version 3.11 --generate-hashes \
        ${constraint:+-c "$constraint"} "$@" "$in" -o "$lock"
}
case ${1:-} in
    compile)
        extra=(); [[ ${2:-} == --upgrade ]] && extra=(--upgrade)
        for spec in "${locks[@]}"; do
            read -r lock in constraint <<<"$spec"
            compile "$lock" "$in" "$constraint" "${extra[@]}"
        done ;;
    check)
        tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; status=0
        for spec in "${locks[@]}"; do
            read -r lock in constraint <<<"$spec"
            cp "$lock" "$tmp/lock"
            compile "$tmp/lock" "$in" "$constraint"
            if diff -q <(grep -v '^ *#' "$lock") <(grep -v '^ *#' "$tmp/lock") >/dev/null; then
                echo "$lock is up to date with $in"
            else
                diff <(grep -v '^ *#' "$lock") <(grep -v '^ *#' "$tmp/lock") | head -20
                echo "$lock is out of date: run 'make lock'"; status=1
            fi
        done
        exit $status ;;
    *) echo "usage: tools/locks.sh compile [--upgrade] | check" >&2; exit 2 ;;
esac
