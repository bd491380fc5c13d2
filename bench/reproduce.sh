#!/usr/bin/env bash
# Reproduces cells of the paper's Table 1 with `pepita train`: N seeds per
# cell with the paper's presets, each run checkpointed after every epoch and
# resumed from its checkpoint when rerun, so a stopped session loses at most
# one epoch. Writes per-seed JSON/CSV logs and a summary (mean and standard
# deviation of the final test accuracy). See bench/REPRODUCE.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/reproduce.sh [options] cell DATASET MODEL RULE [-- TRAIN_OPTIONS...]
       bench/reproduce.sh [options] all|conv-baselines|followup [-- TRAIN_OPTIONS...]
       bench/reproduce.sh [options] summary
       bench/reproduce.sh [options] figures
       bench/reproduce.sh [options] plan

modes:
  cell      one Table 1 cell (DATASET mnist|fashion-mnist|cifar10|cifar100,
            MODEL fc|conv, RULE pepita|bp|fa|dfa|drtp) for --seeds seeds
  all       the list of issue 7: PEPITA FC and conv on MNIST and CIFAR-10 (3 seeds),
            BP, FA and DRTP FC on MNIST and CIFAR-10 (1 seed), and the F = 0
            control (PEPITA FC CIFAR-10, --modulation zero, 1 seed)
  summary   the table of every run in the runs directory
  figures   PNG figures of the runs (curves per dataset and model, angle, norms,
            histograms) into RUNS/figures
  conv-baselines
            the rest of Table 1: BP, FA and DRTP conv on MNIST and CIFAR-10 (1 seed)
  followup  the follow-up's grid (issue 15): CIFAR-10 FC with 1, 2 and 3 hidden
            layers of 1024 for PEPITA, PEPITA + weight mirroring (the wm preset
            and, on CIFAR-10, mirroring every epoch), PEPITA + normalisation and
            BP; the Hebbian and time-local variants at 1 layer;
            then MNIST FC at 2 and 3 layers (1 seed each)
  plan [LIST]  print the runs of `all` (or of conv-baselines, followup) and their commands

options:
  --seeds N          seeds 1..N for `cell` (default 3)
  --runs DIR         where the runs go (default: runs)
  --data-root DIR    holds mnist/ and cifar-10-batches-bin/ (or cifar10/), ...
                     (default: $PEPITA_DATA_ROOT, else ../shared/datasets beside the
                     repository)
  --data DIR         `cell` only: the dataset directory itself
  --tag NAME         `cell` only: added to the run names (e.g. f0 for a control)
  --pepita PATH      the pepita binary (default: $PEPITA, else build/pepita)
  --only GLOB        all, conv-baselines, followup, plan: only the cells whose name
                     (DATASET-MODEL-RULE[-TAG], as in the run files) matches the
                     shell pattern GLOB, e.g. 'cifar10-fc-*-h2*'
  --dry-run          print the commands instead of running them

TRAIN_OPTIONS after `--` go to every `pepita train` (e.g. `-- --epochs 2` for a
quick check, `-- --device gpu`). Every run gets --analysis, --json, --log and
--save; a run whose checkpoint exists is resumed with --resume (a finished run
costs only the start-up). Stop with Ctrl-C or `kill PID`: the current run saves
its checkpoint; rerun the same command to continue.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEPITA=${PEPITA:-$ROOT/build/pepita}
DATA_ROOT=${PEPITA_DATA_ROOT:-$ROOT/../shared/datasets}
RUNS=runs
SEEDS=3
DATA=
TAG=
ONLY=
DRY_RUN=0
EXTRA=()

die() {
    echo "reproduce.sh: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    -h | --help)
        usage
        exit 0
        ;;
    --seeds | --runs | --data-root | --data | --tag | --pepita | --only)
        [ $# -ge 2 ] || die "$1 needs a value"
        # --data-root -> DATA_ROOT, --seeds -> SEEDS, ...
        name=${1#--}
        name=${name//-/_}
        printf -v "${name^^}" '%s' "$2"
        shift 2
        ;;
    --dry-run)
        DRY_RUN=1
        shift
        ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || {
    usage >&2
    exit 2
}
MODE=$1
shift
POSITIONAL=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    POSITIONAL+=("$1")
    shift
done
if [ $# -gt 0 ]; then
    shift
    EXTRA=("$@")
fi

case $SEEDS in
'' | *[!0-9]*) die "--seeds needs a whole number, got '$SEEDS'" ;;
esac
[ "$SEEDS" -ge 1 ] || die "--seeds must be at least 1"
case $TAG in
*[!a-z0-9-]*) die "--tag takes a-z, 0-9 and '-' only" ;;
esac
if [ "$DRY_RUN" = 0 ] && [ "$MODE" != plan ]; then
    [ -x "$PEPITA" ] || die "no pepita binary at $PEPITA: build it first (make build) or pass --pepita PATH"
fi

# The directory of a dataset under DATA_ROOT: the archive's own name
# (../shared/datasets' layout) or the dataset's name (datasets/fetch.sh NAME
# DATA_ROOT/NAME); the first that exists, else the first (pepita then says
# what is missing).
data_dir() {
    local candidates
    case $1 in
    mnist) candidates=("$DATA_ROOT/mnist") ;;
    fashion-mnist) candidates=("$DATA_ROOT/fashion-mnist" /usr/share/datasets/fashion-mnist) ;;
    cifar10) candidates=("$DATA_ROOT/cifar-10-batches-bin" "$DATA_ROOT/cifar10") ;;
    cifar100) candidates=("$DATA_ROOT/cifar-100-binary" "$DATA_ROOT/cifar100") ;;
    *) die "unknown dataset '$1'" ;;
    esac
    local c
    for c in "${candidates[@]}"; do
        if [ -d "$c" ]; then
            echo "$c"
            return
        fi
    done
    echo "${candidates[0]}"
}

log() {
    printf '[%s] %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*"
}

# ---- Stopping: the current run saves its checkpoint ------------------------
child=
stopping=0
on_signal() {
    stopping=1
    if [ -n "$child" ]; then
        kill -INT "$child" 2>/dev/null || true
    fi
}
trap on_signal INT TERM HUP

# Runs one seed of a cell: run_one DATASET MODEL RULE TAG SEED DATA_DIR [TRAIN_OPTIONS...]
FAILED=()
run_one() {
    local dataset=$1 model=$2 rule=$3 tag=$4 seed=$5 dir=$6
    shift 6
    local name="$dataset-$model-$rule${tag:+-$tag}-s$seed"
    local base="$RUNS/$name"
    local args=(train --dataset "$dataset" --data "$dir" --model "$model" --rule "$rule"
        --seed "$seed" --analysis --quiet --json "$base.json" --log "$base.csv"
        --save "$base.ckpt")
    local what=start
    if [ -f "$base.ckpt" ]; then
        args+=(--resume "$base.ckpt")
        what=resume
    fi
    args+=("$@")
    if [ "$DRY_RUN" = 1 ]; then
        printf '%q ' "$PEPITA" "${args[@]}"
        printf '\n'
        return 0
    fi
    mkdir -p "$RUNS"
    log "$name: $what (output in $base.out)"
    # a session of its own: a terminal's Ctrl-C reaches only this script,
    # which passes one SIGINT on (a second one would stop pepita unsaved)
    setsid "$PEPITA" "${args[@]}" >>"$base.out" 2>&1 &
    child=$!
    local rc=0
    while :; do
        rc=0
        wait "$child" || rc=$?
        kill -0 "$child" 2>/dev/null || break # else a trap interrupted the wait
    done
    child=
    if [ "$stopping" = 1 ]; then
        log "$name: stopped (exit $rc); rerun the same command to continue from its checkpoint"
        exit 130
    fi
    if [ "$rc" != 0 ]; then
        log "$name: FAILED with exit code $rc; the end of $base.out:"
        tail -n 5 "$base.out" >&2 || true
        FAILED+=("$name")
        return 0
    fi
    log "$name: done, $(grep -o '"final_test_accuracy": [0-9.]*' "$base.json" | head -n 1)"
}

# The commit of this script's tree, for the summary; each run's JSON records
# the source commit of the binary that wrote it ("Source:" in the table).
note() {
    local commit
    commit=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
    echo "Summarised by bench/reproduce.sh at commit $commit."
}

# The runs of one cell's seeds: summarise CELL_PREFIX OUT_NAME
summarise() {
    local prefix=$1 out=$2
    local files=()
    local f
    for f in "$RUNS/$prefix"-s*.json; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    mkdir -p "$RUNS/summary"
    "$PEPITA" summary "${files[@]}" --note "$(note)" -o "$RUNS/summary/$out.md" \
        --json "$RUNS/summary/$out.json"
    cat "$RUNS/summary/$out.md"
}

# run_cell DATASET MODEL RULE TAG SEEDS DATA_DIR [TRAIN_OPTIONS...]
run_cell() {
    local dataset=$1 model=$2 rule=$3 tag=$4 seeds=$5 dir=$6
    shift 6
    local seed
    for seed in $(seq 1 "$seeds"); do
        run_one "$dataset" "$model" "$rule" "$tag" "$seed" "$dir" "$@"
    done
    if [ "$DRY_RUN" = 0 ]; then
        summarise "$dataset-$model-$rule${tag:+-$tag}" "$dataset-$model-$rule${tag:+-$tag}"
    fi
}

summary_all() {
    local files=()
    local f
    for f in "$RUNS"/*.json; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || die "no run JSON in $RUNS"
    mkdir -p "$RUNS/summary"
    "$PEPITA" summary "${files[@]}" --note "$(note)" -o "$RUNS/summary/table.md" \
        --json "$RUNS/summary/table.json"
    cat "$RUNS/summary/table.md"
}

# figure OUT KIND FILES... (nothing when no file exists)
figure() {
    local out=$1 kind=$2
    shift 2
    local files=()
    local f
    for f in "$@"; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    local extra=()
    [ "$kind" = curves ] && extra=(--paper)
    "$PEPITA" plot "${files[@]}" --kind "$kind" "${extra[@]}" -o "$RUNS/figures/$out" ||
        log "figure $out failed"
}

figures() {
    mkdir -p "$RUNS/figures"
    local d m
    for d in mnist cifar10 cifar100 fashion-mnist; do
        for m in fc conv; do
            figure "$d-$m-curves.png" curves "$RUNS/$d-$m"-*.json
        done
        figure "$d-fc-pepita-angle.png" angle "$RUNS/$d-fc-pepita"-s*.json
        figure "$d-fc-pepita-norms.png" norms "$RUNS/$d-fc-pepita"-s*.json
        figure "$d-fc-pepita-histograms.png" histograms "$RUNS/$d-fc-pepita-s1.json"
    done
    ls -l "$RUNS/figures"
}

# The list of issue 7: DATASET MODEL RULE TAG SEEDS [TRAIN_OPTIONS]
ALL=(
    "mnist fc pepita - 3"
    "mnist conv pepita - 3"
    "mnist fc bp - 1"
    "mnist fc fa - 1"
    "mnist fc drtp - 1"
    "cifar10 fc pepita - 3"
    "cifar10 conv pepita - 3"
    "cifar10 fc bp - 1"
    "cifar10 fc fa - 1"
    "cifar10 fc drtp - 1"
    "cifar10 fc pepita f0 1 --modulation zero"
)

# The rest of Table 1 (issue 15): the baselines' conv rows.
CONV_BASELINES=(
    "mnist conv bp - 1"
    "mnist conv fa - 1"
    "mnist conv drtp - 1"
    "cifar10 conv bp - 1"
    "cifar10 conv fa - 1"
    "cifar10 conv drtp - 1"
)

# The follow-up's grid (issue 15): depth x {PEPITA, +WM, +normalisation, BP},
# then the update forms at one layer, then MNIST where time allows.
FOLLOWUP=()
for d in cifar10 mnist; do
    for h in 1 2 3; do
        [ "$d" = mnist ] && [ "$h" = 1 ] && continue # Table 1's MNIST FC rows
        layers=1024
        [ "$h" -ge 2 ] && layers=1024,1024
        [ "$h" -ge 3 ] && layers=1024,1024,1024
        depth=h$h
        FOLLOWUP+=("$d fc pepita $depth 1 --hidden $layers"
            "$d fc pepita $depth-wm 1 --hidden $layers --variant wm"
            "$d fc pepita $depth-norm 1 --hidden $layers --variant norm"
            "$d fc bp $depth 1 --hidden $layers")
        # the earlier wm schedule, mirroring in every epoch: unstable (README)
        [ "$d" = cifar10 ] && FOLLOWUP+=("$d fc pepita $depth-wm-every 1 --hidden $layers --variant wm --pre-mirror 0 --mirror-every 1")
    done
    [ "$d" = cifar10 ] && FOLLOWUP+=("cifar10 fc pepita h1-hebbian 1 --variant hebbian"
        "cifar10 fc pepita h1-time-local 1 --variant time-local")
done
unset d h layers depth

# run_list NAME: every cell of a list (ALL, CONV_BASELINES or FOLLOWUP)
run_list() {
    local -n cells=$1
    local line dataset model rule tag seeds opts matched=0
    for line in "${cells[@]}"; do
        read -r dataset model rule tag seeds opts <<<"$line"
        [ "$tag" = - ] && tag=
        # shellcheck disable=SC2053 # GLOB is a pattern
        [ -n "$ONLY" ] && [[ $dataset-$model-$rule${tag:+-$tag} != $ONLY ]] && continue
        matched=$((matched + 1))
        local cell_opts=()
        if [ -n "${opts:-}" ]; then
            read -r -a cell_opts <<<"$opts"
        fi
        run_cell "$dataset" "$model" "$rule" "$tag" "$seeds" "$(data_dir "$dataset")" \
            "${cell_opts[@]}" "${EXTRA[@]}"
    done
    [ "$matched" -gt 0 ] || die "--only '$ONLY' matches no cell of this list (see: plan LIST)"
}

run_all() {
    run_list ALL
    if [ "$DRY_RUN" = 0 ]; then
        summary_all
        figures
    fi
}

case $MODE in
cell)
    [ -z "$ONLY" ] || die "--only selects cells of a list; cell runs one cell"
    [ ${#POSITIONAL[@]} -eq 3 ] || die "cell needs DATASET MODEL RULE"
    dir=${DATA:-$(data_dir "${POSITIONAL[0]}")}
    run_cell "${POSITIONAL[0]}" "${POSITIONAL[1]}" "${POSITIONAL[2]}" "$TAG" "$SEEDS" "$dir" \
        "${EXTRA[@]}"
    ;;
all) run_all ;;
conv-baselines) run_list CONV_BASELINES ;;
followup) run_list FOLLOWUP ;;
plan)
    DRY_RUN=1
    case ${POSITIONAL[0]:-all} in
    all) run_all ;;
    conv-baselines) run_list CONV_BASELINES ;;
    followup) run_list FOLLOWUP ;;
    *) die "plan takes all, conv-baselines or followup, got '${POSITIONAL[0]}'" ;;
    esac
    ;;
summary) summary_all ;;
figures) figures ;;
*) die "unknown mode '$MODE' (cell, all, conv-baselines, followup, summary, figures or plan)" ;;
esac

if [ ${#FAILED[@]} -gt 0 ]; then
    log "failed runs: ${FAILED[*]}"
    exit 1
fi
