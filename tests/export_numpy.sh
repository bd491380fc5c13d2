#!/usr/bin/env bash
# The NumPy round trip the README promises: data made by NumPy (np.savez,
# np.savez_compressed, np.save) trains, `pepita export` writes the weights,
# and the README's NumPy script reproduces `pepita eval`'s test accuracy
# (FC, ReLU and DRTP's tanh); a conv forward pass in NumPy does the same for
# the conv model. Skips when NumPy is not importable (Debian: python3-numpy).
# Usage: export_numpy.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 source=$2
pepita=$build/pepita
python=
for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import numpy' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    echo "SKIP: export_numpy: NumPy is not importable (install python3-numpy)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pepita-export-numpy-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# The README's script, exactly as printed there.
awk '/<!-- numpy-eval -->/ {on = 1; next} on && /^```python/ {next} on && /^```/ {exit} on' \
    "$source/README.md" >readme_eval.py
if [ "$(wc -l <readme_eval.py)" -lt 5 ]; then
    echo "FAIL: no NumPy script after <!-- numpy-eval --> in README.md"
    exit 1
fi

"$python" - <<'PY' || exit 1
import os
import numpy as np
rng = np.random.default_rng(7)
def images(n):  # 12x12 uint8, the class lights one quadrant
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 90, (n, 12, 12)).astype(np.uint8)
    for i in range(n):
        r, c = (y[i] // 2) * 6, (y[i] % 2) * 6
        x[i, r:r + 6, c:c + 6] += 150
    return x, y
def features(n):  # float32 vectors, 3 classes
    y = rng.integers(0, 3, n).astype(np.int32)
    x = rng.normal(0, 1, (n, 20)).astype(np.float32)
    x[np.arange(n), y * 5] += 2.5
    return x, y
(a, b), (c, d) = images(600), images(200)
np.savez("images.npz", x_train=a, y_train=b, x_test=c, y_test=d)
(e, f), (g, h) = features(600), features(200)
np.savez_compressed("features.npz", x_train=e, y_train=f, x_test=g, y_test=h)
os.mkdir("npy")
for name, v in dict(x_train=a[:, None], y_train=b, x_test=c[:, None], y_test=d).items():
    np.save(f"npy/{name}.npy", v)  # N x 1 x 12 x 12
PY

accuracy() { sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' | tail -n 1; }
status=0
# data, model options, the checker (readme or conv)
run() {
    local data=$1 options=$2 checker=$3
    rm -f run.ckpt weights.npz
    if ! "$pepita" train --dataset npz --data "$data" --epochs 2 $options --save run.ckpt \
        --quiet >train.log 2>&1; then
        echo "FAIL: pepita train --data $data $options:"
        cat train.log
        status=1
        return
    fi
    local export_args=()
    [ "$checker" = conv ] && export_args=(--data "$data")
    "$pepita" export --checkpoint run.ckpt --npz weights.npz "${export_args[@]}" >/dev/null &&
        want=$("$pepita" eval --checkpoint run.ckpt --data "$data" | accuracy) || {
        echo "FAIL: export or eval of $data $options"
        status=1
        return
    }
    local data_npz=$data
    if [ -d "$data" ]; then # the README script reads an .npz: pack the directory
        "$python" -c 'import numpy as np, sys; np.savez("packed.npz", **{k: np.load(f"npy/{k}.npy") for k in ["x_test", "y_test"]})'
        data_npz=packed.npz
    fi
    if [ "$checker" = readme ]; then
        got=$("$python" readme_eval.py weights.npz "$data_npz" | accuracy)
    else
        got=$("$python" "$source/tests/export_conv.py" weights.npz "$data_npz" | accuracy)
    fi
    # equal, or one test sample apart (a float near-tie may round the other way)
    if [ -n "$got" ] && [ -n "$want" ] &&
        "$python" -c "import sys; sys.exit(abs($got - $want) > 1 / 200 + 1e-9)"; then
        echo "ok: $data $options: pepita eval $want, NumPy $got"
    else
        echo "FAIL: $data $options: pepita eval '$want', NumPy '$got'"
        status=1
    fi
}
run images.npz "--hidden 32" readme
run features.npz "--hidden 32,16" readme
run features.npz "--hidden 16 --rule drtp" readme
run npy "--hidden 24 --rule bp" readme
run images.npz "--model conv --batch 20" conv
# the follow-up's normalisation is recorded (it scales the logits, not their argmax)
run features.npz "--hidden 32,16 --variant norm" readme
if ! "$python" -c 'import json, numpy as np
c = json.loads(str(np.load("weights.npz")["config"]))
assert c["normalise"] is True and c["update"] == "difference" and c["mirror"] is False, c'; then
    echo "FAIL: the export of a --variant norm run does not record normalise"
    status=1
fi
exit $status
