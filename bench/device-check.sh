#!/usr/bin/env bash
# The device check: what to run on a machine with a new OpenCL device (a GPU
# above all), in one go, leaving every log and JSON file in one folder.
#
#   1. pepita devices                      every device, its launch profile
#   2. pepita selftest --full               every operator vs the plain-C references
#   3. pepita-bench --quick --json          kernels, GEMM, epochs, start-up
#   4. pepita train, 1 epoch, PEPITA FC     MNIST where present, else Fashion-MNIST
#
# Usage: bench/device-check.sh [--device SEL] [--out DIR] [--build DIR] [--data DIR]
#   --device SEL  cpu, gpu, P:D or part of a name (default: $PEPITA_DEVICE, else
#                 the first GPU, else the first CPU)
#   --out DIR     where the results go (default: device-check-<date> in the current folder)
#   --build DIR   a build of this repository (default: build/ beside bench/; built
#                 with cmake when it has no pepita binary)
#   --data DIR    MNIST IDX files (default: ../shared/datasets/mnist if present,
#                 else Fashion-MNIST from the Debian package)
# Exits non-zero when a step fails; the summary file says which.
# Sized for a GPU: under 8 minutes. CI runs it on PoCL's CPU device.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
device="" out="device-check-$(date -u +%Y%m%d-%H%M%S)" build="$root/build" data=""
while [ $# -gt 0 ]; do
    case "$1" in
    --device | --out | --build | --data)
        [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
        case "$1" in
        --device) device=$2 ;;
        --out) out=$2 ;;
        --build) build=$2 ;;
        --data) data=$2 ;;
        esac
        shift 2 ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ ! -x "$build/pepita" ]; then
    echo "building into $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null &&
        cmake --build "$build" -j "$(nproc)" > /dev/null || { echo "error: the build failed" >&2; exit 1; }
fi
if [ -z "$data" ]; then
    if [ -d "$root/../shared/datasets/mnist" ]; then
        data="$root/../shared/datasets/mnist" dataset=mnist
    else
        data="" dataset=fashion-mnist
    fi
else
    dataset=mnist
fi
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
[ -n "$device" ] && export PEPITA_DEVICE="$device"
summary="$out/summary.txt"
: > "$summary"
failed=0

step() { # name, log file, command...
    local name=$1 log=$2
    shift 2
    local t0=$SECONDS rc
    echo "== $name"
    "$@" > "$out/$log" 2>&1
    rc=$?
    printf '%-34s exit %3d  %4ds  %s\n' "$name" "$rc" $((SECONDS - t0)) "$log" | tee -a "$summary"
    [ $rc -eq 0 ] || failed=1
}

{
    echo "device check, $(date -u '+%Y-%m-%d %H:%M UTC'), host $(hostname)"
    echo "source: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "device selector: ${PEPITA_DEVICE:-default}"
    echo
} >> "$summary"
step "pepita devices" devices.txt "$build/pepita" devices
step "pepita selftest --full" selftest-full.txt "$build/pepita" selftest --full
if [ -x "$build/bench/pepita-bench" ]; then
    step "pepita-bench --quick" bench-quick.txt \
        "$build/bench/pepita-bench" --quick --json "$out/bench-quick.json"
else
    echo "pepita-bench: not built (PEPITA_BUILD_BENCH=OFF or no OpenBLAS): skipped" | tee -a "$summary"
fi
train=("$build/pepita" train --dataset "$dataset" --epochs 1 --quiet --json "$out/train-pepita-fc.json")
[ -n "$data" ] && train+=(--data "$data")
step "1 epoch PEPITA FC $dataset" train-pepita-fc.txt "${train[@]}"

grep -E '^selftest on|checks,' "$out/selftest-full.txt" >> "$summary" 2>/dev/null
grep -E 'final test accuracy' "$out/train-pepita-fc.txt" >> "$summary" 2>/dev/null
echo "results in $out"
cat "$summary"
exit $failed
