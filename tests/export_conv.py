"""The conv model's forward pass in NumPy on `pepita export`'s weights:
conv (filters, C, k, k), stride 1, no padding, no bias -> ReLU -> 2x2 max
pool -> dense (classes, features) -> argmax. Prints the test accuracy.
Usage: export_conv.py WEIGHTS.npz DATA.npz (used by tests/export_numpy.sh)."""
import json
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

w, d = np.load(sys.argv[1]), np.load(sys.argv[2])
cfg = json.loads(str(w["config"]))
c, h, wd = cfg["input_shape"]
x = d["x_test"].reshape(len(d["x_test"]), c, h, wd).astype(np.float32)
if d["x_test"].dtype == np.uint8:
    x *= np.float32(1 / 255)
k = w["w1"].shape[-1]
patches = sliding_window_view(x, (k, k), axis=(2, 3))  # N, C, oh, ow, k, k
z = np.einsum("ncijab,fcab->nfij", patches, w["w1"], dtype=np.float32)
a = np.maximum(z, 0)
n, f, oh, ow = a.shape
pooled = a[:, :, : oh // 2 * 2, : ow // 2 * 2].reshape(n, f, oh // 2, 2, ow // 2, 2).max((3, 5))
logits = pooled.reshape(n, -1) @ w["w2"].T
print("test accuracy %.4f" % (logits.argmax(1) == d["y_test"]).mean())
