#!/usr/bin/env bash
# A short training run (2 epochs of a 784-16-10 PEPITA network on 200
# generated images, with a checkpoint) under valgrind memcheck. Errors and
# definite leaks fail the test; tests/valgrind.supp only hides what the
# OpenCL driver stack (ICD loader, PoCL, LLVM) does on its own.
# Usage: valgrind_train.sh PEPITA SUPPRESSIONS
set -eu
pepita=$1 supp=$2
if ! command -v valgrind >/dev/null; then
    echo "SKIP: valgrind_train: valgrind is not installed"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pepita-valgrind-XXXXXX")
trap 'rm -rf "$work"' EXIT

# An IDX image file of $2 28x28 images and a label file of as many labels.
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
write_split() {
    { be32 2051; be32 "$2"; be32 28; be32 28; head -c $(($2 * 784)) /dev/urandom; } >"$work/$1-images-idx3-ubyte"
    { be32 2049; be32 "$2"; for ((i = 0; i < $2; i++)); do printf "\\x0$((i % 10))"; done; } >"$work/$1-labels-idx1-ubyte"
}
write_split train 200
write_split t10k 50

args=(train --dataset mnist --data "$work" --epochs 2 --hidden 16 --batch 50 --save "$work/run.ckpt" --quiet)
# Valgrind's CPU has no AVX-512, so PoCL compiles every kernel for it again;
# under memcheck that takes many minutes. A first run under valgrind's
# lightest tool compiles them (about a minute) into a cache kept in the build
# directory, which the memcheck run then reuses.
export POCL_CACHE_DIR
POCL_CACHE_DIR=$(cd "$(dirname "$pepita")" && pwd)/valgrind-pocl-cache
mkdir -p "$POCL_CACHE_DIR"
valgrind --tool=none --log-file="$work/warmup.log" "$pepita" "${args[@]}" >/dev/null

log=$work/valgrind.log
if valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=40 --suppressions="$supp" \
    --log-file="$log" "$pepita" "${args[@]}"; then
    grep -E "ERROR SUMMARY|definitely lost" "$log" || true
    echo "ok: valgrind memcheck found no errors in a short training run"
else
    status=$?
    cat "$log"
    echo "FAIL: valgrind memcheck (exit $status)"
    exit 1
fi
