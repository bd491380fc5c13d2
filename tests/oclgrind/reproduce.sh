#!/usr/bin/env bash
# Runs each minimal reproducer of an Oclgrind defect (README.md) and says
# whether this Oclgrind still has it. Informational: exits 0 either way,
# 77 (skip) when oclgrind-kernel is missing.
set -euo pipefail
cd "$(dirname "$0")"
command -v oclgrind-kernel > /dev/null || { echo "oclgrind-kernel not found: skipped"; exit 77; }
check() { # name, expected dump line
    local got
    got=$(oclgrind-kernel "$1.sim" 2>&1 | grep -a '\] = ' | xargs)
    if [ "$got" = "$2" ]; then echo "$1: correct in this Oclgrind ($got)"
    else echo "$1: defect present: got '$got', expected '$2'"; fi
}
check switch_i2 "out[0] = 10"
check clamp_vector_scalar "out[0] = 0 out[1] = 1 out[2] = 2 out[3] = 3"
