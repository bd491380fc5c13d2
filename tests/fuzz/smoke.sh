#!/usr/bin/env bash
# Fuzz smoke run: replays every saved regression input, then fuzzes each
# target for a few seconds from its seed corpus and the corpus kept from the
# 10-minute campaigns (tests/fuzz/corpus/<target>, minimised).
# Usage: smoke.sh FUZZ_DIR REGRESSIONS_DIR SECONDS [SKIP_REASON]
# A long run of one target (what the 10-minute results come from):
#   FUZZ_DIR/fuzz_idx -max_total_time=600 WORK_CORPUS FUZZ_DIR/seeds/idx
# and its corpus kept, minimised:
#   FUZZ_DIR/fuzz_idx -merge=1 tests/fuzz/corpus/idx WORK_CORPUS
set -u
fuzz_dir=$1 regressions=$2 seconds=$3 skip_reason=${4:-}
if [ -n "$skip_reason" ]; then
    echo "SKIP: fuzz_smoke: $skip_reason"
    exit 77
fi
kept=$(dirname "$regressions")/corpus
status=0
for target in idx cifar checkpoint options npz; do
    bin=$fuzz_dir/fuzz_$target
    if [ ! -x "$bin" ]; then
        echo "FAIL: $bin was not built"
        status=1
        continue
    fi
    work=$fuzz_dir/smoke/$target
    rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
    # leaks in the parsers count; UBSan findings abort
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    shopt -s nullglob
    saved=("$regressions/$target"/*)
    shopt -u nullglob
    if [ ${#saved[@]} -gt 0 ]; then
        if "$bin" -artifact_prefix="$work/artifacts/" "${saved[@]}" >"$work/replay.log" 2>&1; then
            echo "ok: fuzz_$target replays ${#saved[@]} regression inputs"
        else
            echo "FAIL: fuzz_$target crashes on a saved regression input:"
            tail -n 40 "$work/replay.log"
            status=1
            continue
        fi
    fi
    inputs=("$fuzz_dir/seeds/$target")
    [ -d "$kept/$target" ] && inputs+=("$kept/$target")
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus" "${inputs[@]}" \
        >"$work/fuzz.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
        echo "ok: fuzz_$target ran ${runs:-?} inputs in ${seconds}s without a crash"
    else
        echo "FAIL: fuzz_$target found a crash (input saved in $work/artifacts/):"
        tail -n 60 "$work/fuzz.log"
        status=1
    fi
done
exit $status
