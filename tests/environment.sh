#!/usr/bin/env bash
# The suite must not depend on where it runs: reruns cheap suites (the
# malformed-input table, which runs the CLI on files in temporary
# directories, and the atomic file writer) under the situations that broke
# or could break it: a strict umask, the C and a UTF-8 locale, a TMPDIR
# holding a space, no TMPDIR, no HOME, and a HOME that cannot be written.
# Usage: environment.sh BUILD_DIR
set -u
build=$1
status=0
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pepita-environment-XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/with space"

run() { # run NAME ENV-ARGS... -- COMMAND
    local name=$1
    shift
    local log=$scratch/log
    if env "$@" >"$log" 2>&1; then
        echo "ok: $name"
    else
        echo "FAIL: $name"
        tail -n 30 "$log"
        status=1
    fi
}

for suite in test_malformed test_atomic_file; do
    bin=$build/tests/$suite
    [ -x "$bin" ] || { echo "FAIL: $bin was not built"; status=1; continue; }
    run "$suite, umask 077" sh -c 'umask 077 && exec "$0"' "$bin"
    run "$suite, LC_ALL=C" LC_ALL=C "$bin"
    run "$suite, LC_ALL=C.UTF-8" LC_ALL=C.UTF-8 "$bin"
    run "$suite, TMPDIR with a space" TMPDIR="$scratch/with space" "$bin"
    run "$suite, TMPDIR unset" -u TMPDIR "$bin"
    run "$suite, HOME unset" -u HOME -u XDG_CACHE_HOME "$bin"
    # a HOME that is not a directory: even root cannot write under it
    run "$suite, HOME not writable" -u XDG_CACHE_HOME HOME=/dev/null "$bin"
done
exit $status
