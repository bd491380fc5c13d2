#!/usr/bin/env python3
"""CIFAR-10 binary batches -> a --dataset npz directory of per-channel normalised float32 images.

The follow-up's data loader (ravifrancesco/PEPITA, pepita/dataset/getdataloader.py line 74)
offers transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) after ToTensor;
this writes the same values, rounded as torchvision does in float32 at each step, as
x_train.npy / x_test.npy (N x 3 x 32 x 32 '<f4') and y_train.npy / y_test.npy ('|u1'), with the
standard library only (no NumPy). Used for the time-local screen in README (issue 15).

usage: cifar10_normalised_npy.py CIFAR_DIR OUT_DIR   (CIFAR_DIR holds data_batch_*.bin[.gz])
"""
import array
import gzip
import os
import struct
import sys

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def channel_table(c):
    """value of each byte in channel c: ((b / 255) - mean) / std, each step in float32"""
    return [f32((f32(f32(b / 255.0) - f32(MEAN[c]))) / f32(STD[c])) for b in range(256)]


def read_batch(directory, name):
    path = os.path.join(directory, name)
    if os.path.exists(path):
        return open(path, "rb").read()
    return gzip.open(path + ".gz").read()


def npy_header(descr, shape):
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pad = (64 - (10 + len(text) + 1) % 64) % 64
    text += " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


def convert(directory, names, out_dir, tag, tables):
    records = b"".join(read_batch(directory, n) for n in names)
    n = len(records) // 3073
    if n * 3073 != len(records):
        sys.exit("%s: not a whole number of 3073-byte records" % directory)
    with open(os.path.join(out_dir, "x_%s.npy" % tag), "wb") as fx:
        fx.write(npy_header("<f4", "(%d, 3, 32, 32)" % n))
        for i in range(n):
            base = i * 3073 + 1
            for c in range(3):
                plane = records[base + c * 1024 : base + (c + 1) * 1024]
                values = array.array("f", map(tables[c].__getitem__, plane))
                if sys.byteorder != "little":
                    values.byteswap()
                fx.write(values.tobytes())
    with open(os.path.join(out_dir, "y_%s.npy" % tag), "wb") as fy:
        fy.write(npy_header("|u1", "(%d,)" % n))
        fy.write(bytes(records[i * 3073] for i in range(n)))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    tables = [channel_table(c) for c in range(3)]
    convert(src, ["data_batch_%d.bin" % i for i in range(1, 6)], out, "train", tables)
    convert(src, ["test_batch.bin"], out, "test", tables)


if __name__ == "__main__":
    main()
