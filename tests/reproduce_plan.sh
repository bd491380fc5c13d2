#!/usr/bin/env bash
# bench/reproduce.sh's lists, selection and resume, against a stand-in pepita
# that records its calls (no training): the followup list's commands, --only,
# --resume when a checkpoint exists, a failed run's exit status, bad options.
# Usage: reproduce_plan.sh SOURCE_DIR
set -u
script=$1/bench/reproduce.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/pepita-reproduce-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# The stand-in: `train` exits $FAKE_RC (default 0), writing its --json report
# when it succeeds; `summary` writes its -o table; every call is logged.
cat >"$work/pepita" <<'EOF'
#!/usr/bin/env bash
echo "$*" >>"${FAKE_LOG:?}"
rc=0
[ "$1" = train ] && rc=${FAKE_RC:-0}
while [ $# -gt 0 ]; do
    case $1 in
    --json) [ "$rc" = 0 ] && echo '{"final_test_accuracy": 0.5}' >"$2" ;;
    -o) echo "| table |" >"$2" ;;
    esac
    shift
done
exit "$rc"
EOF
chmod +x "$work/pepita"
export FAKE_LOG=$work/calls.log
run() { "$script" --pepita "$work/pepita" --data-root "$work/data" --runs "$work/runs" "$@"; }

# The follow-up's grid: 3 depths x 4 cells on CIFAR-10, 2 x 4 on MNIST, the
# Hebbian and time-local cells; one seed, distinct run names.
plan=$(run plan followup) || fail "plan followup exited $?"
[ "$(grep -c ' train ' <<<"$plan")" = 25 ] || fail "plan followup: $(grep -c ' train ' <<<"$plan") commands, not 25"
[ "$(grep -o -- '--json [^ ]*' <<<"$plan" | sort -u | wc -l)" = 25 ] || fail "plan followup: run names repeat"
grep -q -- '--seed 2' <<<"$plan" && fail "plan followup: a second seed"
grep -q 'cifar10-fc-pepita-h3-wm-s1.json .*--hidden 1024\\,1024\\,1024 --variant wm' <<<"$plan" ||
    fail "plan followup: no 3-layer wm cell with its options"
grep -q 'cifar10-fc-pepita-h2-wm-every-s1.json .*--variant wm --pre-mirror 0 --mirror-every 1' <<<"$plan" ||
    fail "plan followup: no 2-layer wm cell on the every-epoch schedule"
grep -q 'mnist-fc-pepita-h2-wm-every' <<<"$plan" && fail "plan followup: an every-epoch wm cell on MNIST"

# --only: the 2-layer CIFAR-10 row, exactly.
only=$(run --only 'cifar10-fc-*-h2*' plan followup | grep -o 'runs/[^ ]*\.json' | sed 's|runs/||' | sort)
want=$(printf '%s\n' cifar10-fc-bp-h2-s1.json cifar10-fc-pepita-h2-norm-s1.json \
    cifar10-fc-pepita-h2-s1.json cifar10-fc-pepita-h2-wm-every-s1.json cifar10-fc-pepita-h2-wm-s1.json)
[ "$only" = "$want" ] || fail "--only 'cifar10-fc-*-h2*' selected: $only"
err=$(run --only 'no-such-cell' plan followup 2>&1) && fail "--only matching nothing exited 0"
grep -q -- "--only 'no-such-cell' matches no cell" <<<"$err" || fail "--only matching nothing said: $err"
run --only x cell mnist fc bp >/dev/null 2>&1 && fail "--only with cell accepted"
run --seeds two cell mnist fc bp >/dev/null 2>&1 && fail "--seeds two accepted"
run --tag 'A B' cell mnist fc bp >/dev/null 2>&1 && fail "--tag 'A B' accepted"

# A cell runs its seeds, resumes from a checkpoint, and summarises.
mkdir -p "$work/runs"
: >"$work/runs/mnist-fc-bp-t-s1.ckpt"
run --seeds 2 --tag t cell mnist fc bp -- --epochs 3 >"$work/out" 2>&1 || fail "cell exited $?: $(cat "$work/out")"
grep -q "train .*--seed 1 .*--resume $work/runs/mnist-fc-bp-t-s1.ckpt --epochs 3" "$FAKE_LOG" ||
    fail "seed 1 with a checkpoint did not resume: $(cat "$FAKE_LOG")"
grep "train .*--seed 2 " "$FAKE_LOG" | grep -q -- --resume && fail "seed 2 resumed without a checkpoint"
grep -q "^summary .*mnist-fc-bp-t-s1.json .*mnist-fc-bp-t-s2.json" "$FAKE_LOG" || fail "no summary of both seeds"

# A failed run is reported and the script exits 1 after the rest.
: >"$FAKE_LOG"
FAKE_RC=3 run --seeds 2 --tag f cell mnist fc bp >"$work/out" 2>&1
rc=$?
[ $rc = 1 ] || fail "failed runs: exit $rc, not 1"
grep -q "failed runs: mnist-fc-bp-f-s1 mnist-fc-bp-f-s2" "$work/out" || fail "failed runs not listed: $(cat "$work/out")"

[ $failures = 0 ] || exit 1
echo "reproduce.sh: plans, --only, resume and failures as expected"
