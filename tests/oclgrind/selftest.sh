#!/usr/bin/env bash
# `pepita selftest` on Oclgrind, the second OpenCL implementation, with its
# data-race and API checks: every check must pass and Oclgrind must report
# nothing. Usage: selftest.sh PEPITA LOGFILE [selftest options]. Exits 77
# (skipped) when oclgrind is not installed.
set -uo pipefail
pepita=$1 log=$2
shift 2
if ! command -v oclgrind > /dev/null; then
    echo "SKIP: oclgrind is not installed (Debian package oclgrind)"
    exit 77
fi
rm -f "$log"
oclgrind --data-races --check-api --log "$log" "$pepita" selftest "$@"
rc=$?
if [ -s "$log" ]; then
    echo "Oclgrind reported (see $log):"
    cat "$log"
    exit 1
fi
exit $rc
