#!/usr/bin/env python3
"""The PyTorch CPU peer of pepita-bench: the same PEPITA and BP training steps
as pepita-cl (FC 784-1024-10 with 10% dropout at batch 64, conv 32@5x5 -> ReLU
-> maxpool 2x2 -> dense at batch 100; momentum 0.9, no biases, He uniform
initialisation, F ~ U(-a, a) with a = 0.05 sqrt(6/d)), written the way a
PyTorch user would: PEPITA runs the modulated pass in full on x' = x + e F^T
(no shortcut), BP uses autograd, both step torch.optim.SGD with momentum.

pepita-bench starts it with --serve and a data file it wrote, then alternates
its own epochs with this peer's: each "epoch" line on stdin runs one training
epoch and answers one JSON line (training seconds, loss, test accuracy).
Run alone: torch_peer.py --mnist DIR --model fc --rule pepita --epochs 2;
--device cuda runs the same steps on a GPU in strict fp32 (no TF32), the
yardstick for pepita-cl on that GPU.
Never a test dependency: pepita-bench skips it when torch does not import.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as nnf
except ImportError as error:  # pepita-bench reads this line and skips the peer
    print(json.dumps(dict(ready=False, error="%s: %s" % (sys.executable, error))), flush=True)
    sys.exit(0)

PRESETS = {  # pepita-cl's MNIST presets (host/train/config.c)
    ("fc", "pepita"): dict(batch=64, lr=0.1, dropout=0.1),
    ("fc", "bp"): dict(batch=64, lr=0.1, dropout=0.1),
    ("conv", "pepita"): dict(batch=100, lr=0.02, dropout=0.0),
    ("conv", "bp"): dict(batch=100, lr=0.1, dropout=0.0),
}
MOMENTUM = 0.9
F_SCALE = 0.05
FILTERS, KERNEL = 32, 5


def read_split(f):
    """One split of pepita-bench's data file: 'PPDS', five little-endian
    int32 (n, channels, height, width, classes), pixels (u8), labels (u8)."""
    magic = f.read(4)
    if magic != b"PPDS":
        raise ValueError("not a pepita-bench data file (magic %r)" % magic)
    n, c, h, w, classes = struct.unpack("<5i", f.read(20))
    pixels = np.frombuffer(f.read(n * c * h * w), dtype=np.uint8).reshape(n, c, h, w)
    labels = np.frombuffer(f.read(n), dtype=np.uint8)
    if labels.shape[0] != n:
        raise ValueError("data file truncated")
    return pixels, labels, classes


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">%dI" % dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(dirname, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(dirname, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError("%s: no %s[.gz]" % (dirname, stem))


def load_mnist(dirname, samples):
    x = read_idx(find(dirname, "train-images-idx3-ubyte"))[:, None]
    y = read_idx(find(dirname, "train-labels-idx1-ubyte"))
    xt = read_idx(find(dirname, "t10k-images-idx3-ubyte"))[:, None]
    yt = read_idx(find(dirname, "t10k-labels-idx1-ubyte"))
    if samples:
        x, y = x[:samples], y[:samples]
    return (x, y, 10), (xt, yt, 10)


def he_uniform(shape, fan_in, gen):
    bound = math.sqrt(6.0 / fan_in)
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


class Peer:
    def __init__(self, model, rule, train, test, seed, batch=None, lr=None, device="cpu"):
        self.model, self.rule, self.device = model, rule, torch.device(device)
        preset = PRESETS[(model, rule)]
        self.batch, self.lr, self.p_drop = batch or preset["batch"], lr or preset["lr"], preset["dropout"]
        pixels, labels, self.classes = train
        # pixels scaled to [0, 1] once, as pepita-cl gathers them per batch
        self.x = torch.from_numpy(np.array(pixels)).float().div_(255.0)
        self.y = torch.from_numpy(labels.astype(np.int64))
        tp, tl, _ = test
        self.xt = torch.from_numpy(np.array(tp)).float().div_(255.0)
        self.yt = torch.from_numpy(tl.astype(np.int64))
        n, c, h, w = self.x.shape
        d = c * h * w
        self.gen = torch.Generator().manual_seed(seed)
        if model == "fc":
            hidden = 1024
            self.w = [he_uniform((hidden, d), d, self.gen), he_uniform((self.classes, hidden), hidden, self.gen)]
        else:
            fan = c * KERNEL * KERNEL
            pooled = FILTERS * ((h - KERNEL + 1) // 2) * ((w - KERNEL + 1) // 2)
            self.w = [he_uniform((FILTERS, c, KERNEL, KERNEL), fan, self.gen),
                      he_uniform((self.classes, pooled), pooled, self.gen)]
            # channels-last: oneDNN's fast convolution layout on CPUs
            self.w[0] = self.w[0].contiguous(memory_format=torch.channels_last)
        a = F_SCALE * math.sqrt(6.0 / d)
        self.f = (torch.rand((d, self.classes), generator=self.gen) * 2 - 1) * a
        # initialised on the CPU from one seed, whatever the device, then moved
        self.x, self.y, self.xt, self.yt = (t.to(self.device) for t in (self.x, self.y, self.xt, self.yt))
        self.w = [p.to(self.device) for p in self.w]
        self.f = self.f.to(self.device)
        self.mask_gen = self.gen if self.device.type == "cpu" else torch.Generator(self.device).manual_seed(seed)
        for p in self.w:
            p.requires_grad_(rule == "bp")
        self.opt = torch.optim.SGD(self.w, lr=self.lr, momentum=MOMENTUM)

    def images(self, x):
        if self.model == "fc":
            return x.reshape(x.shape[0], -1)
        return x.contiguous(memory_format=torch.channels_last)

    def hidden(self, x, mask):
        """The layers before the output: ReLU (+ dropout) of the dense layer,
        or max-pooled ReLU of the convolution; also the pre-pool activity."""
        if self.model == "fc":
            h = torch.relu(x @ self.w[0].t())
            if mask is not None:
                h = h * mask
            return h, h
        h = torch.relu(nnf.conv2d(x, self.w[0]))
        return nnf.max_pool2d(h, 2).flatten(1), h

    def pepita_step(self, x, y):
        b = x.shape[0]
        mask = None
        if self.p_drop > 0:
            mask = (torch.rand((b, self.w[0].shape[0]), generator=self.mask_gen, device=self.device) >= self.p_drop)
            mask = mask.float()
            mask.mul_(1.0 / (1.0 - self.p_drop))
        h, act = self.hidden(x, mask)
        z = h @ self.w[1].t()
        p = torch.softmax(z, dim=1)
        e = p.clone()
        rows = torch.arange(b, device=self.device)
        e[rows, y] -= 1.0
        loss = -torch.log(p[rows, y].clamp_min(1e-30)).sum()
        correct = (z.argmax(1) == y).sum()
        # modulated pass on x' = x + e F^T, in full
        xm = x + (e @ self.f.t()).reshape(x.shape)
        if self.model == "conv":
            xm = xm.contiguous(memory_format=torch.channels_last)
        hm, actm = self.hidden(xm, mask)
        if self.model == "fc":
            g0 = (act - actm).t() @ xm / b
        else:  # mean over batch and output positions
            positions = act.shape[2] * act.shape[3]
            g0 = torch.nn.grad.conv2d_weight(xm, self.w[0].shape, act - actm) / (b * positions)
        g1 = e.t() @ hm / b
        self.w[0].grad, self.w[1].grad = g0, g1
        self.opt.step()
        return loss, correct

    def bp_step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        h = self.images(x)
        if self.model == "fc":
            h = nnf.dropout(torch.relu(h @ self.w[0].t()), self.p_drop, training=True)
        else:
            h = nnf.max_pool2d(torch.relu(nnf.conv2d(h, self.w[0])), 2).flatten(1)
        z = h @ self.w[1].t()
        loss = nnf.cross_entropy(z, y, reduction="sum")
        (loss / x.shape[0]).backward()
        self.opt.step()
        return loss.detach(), (z.detach().argmax(1) == y).sum()

    def train_batch(self, idx):
        """One step of the rule on the samples idx: (summed loss, correct)."""
        x = self.x[idx]
        if self.rule == "pepita":
            return self.pepita_step(self.images(x), self.y[idx])
        return self.bp_step(x, self.y[idx])

    def untimed_steps(self, first, count):
        """Steps on batches first..first+count-1 taken in order (wrapping):
        for timing threads and warming a GPU on a throwaway model."""
        n = self.x.shape[0]
        for i in range(first, first + count):
            self.train_batch((torch.arange(i * self.batch, (i + 1) * self.batch) % n).to(self.device))

    def epoch(self):
        n = self.x.shape[0]
        start = time.perf_counter()
        order = torch.randperm(n, generator=self.gen).to(self.device)
        total_loss = torch.zeros((), device=self.device)
        total_correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for b0 in range(0, n, self.batch):
            loss, correct = self.train_batch(order[b0 : b0 + self.batch])
            total_loss += loss
            total_correct += correct
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # the GPU runs behind the host
        seconds = time.perf_counter() - start
        return dict(seconds=seconds, train_loss=float(total_loss) / n,
                    train_accuracy=float(total_correct) / n, test_accuracy=self.evaluate())

    @torch.no_grad()
    def evaluate(self):
        correct = 0
        for b0 in range(0, self.xt.shape[0], 1000):
            x = self.images(self.xt[b0 : b0 + 1000])
            h, _ = self.hidden(x, None)
            correct += int(((h @ self.w[1].t()).argmax(1) == self.yt[b0 : b0 + 1000]).sum())
        return correct / self.xt.shape[0]


def pick_threads(args, train, test):
    """On a shared machine OpenMP's barriers can make 2 threads slower than 1
    (a descheduled thread stalls every product): time both, keep the faster,
    so the peer is never a slowed one. A throwaway model; nothing is kept."""
    best = None
    for threads in sorted({1, os.cpu_count() or 1}, reverse=True):
        torch.set_num_threads(threads)
        peer = Peer(args.model, args.rule, train, test, args.seed, args.batch, args.lr)
        peer.untimed_steps(0, 10)
        start = time.perf_counter()
        peer.untimed_steps(10, 30)
        seconds = time.perf_counter() - start
        if best is None or seconds < best[0]:
            best = (seconds, threads)
    return best[1]


def warm_up_gpu(args, train, test):
    """CUDA's context, cuBLAS and cuDNN start on first use: ten steps of a
    throwaway model take that out of the first timed epoch."""
    Peer(args.model, args.rule, train, test, args.seed, args.batch, args.lr, args.device).untimed_steps(0, 10)
    torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["fc", "conv"], required=True)
    ap.add_argument("--rule", choices=["pepita", "bp"], required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data-file", help="pepita-bench's data file (train and test splits)")
    src.add_argument("--mnist", help="directory of MNIST IDX files")
    ap.add_argument("--samples", type=int, default=0, help="training samples (0: all; --mnist)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs to run (without --serve)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0: the faster of 1 and all CPUs, timed on 30 steps)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, help="batch size (default: pepita-cl's MNIST preset)")
    ap.add_argument("--lr", type=float, help="learning rate (default: pepita-cl's MNIST preset)")
    ap.add_argument("--serve", action="store_true", help="one epoch per 'epoch' line on stdin")
    ap.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda[:N]")
    args = ap.parse_args()

    if args.data_file:
        with open(args.data_file, "rb") as f:
            train, test = read_split(f), read_split(f)
    else:
        train, test = load_mnist(args.mnist, args.samples)
    try:
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch %s sees no CUDA device" % torch.__version__)
    except RuntimeError as error:  # pepita-bench reads this line and goes on without the peer
        print(json.dumps(dict(ready=False, error="--device %s: %s" % (args.device, error))), flush=True)
        sys.exit(0)
    if args.device.startswith("cuda"):
        # strict fp32 like pepita-cl: no TF32 in products or convolutions
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_num_threads(args.threads or 1)
        warm_up_gpu(args, train, test)
    else:
        torch.set_num_threads(args.threads or pick_threads(args, train, test))
    peer = Peer(args.model, args.rule, train, test, args.seed, args.batch, args.lr, args.device)
    hello = dict(ready=True, torch=torch.__version__, threads=torch.get_num_threads(),
                 mkldnn=torch.backends.mkldnn.is_available(), batch=peer.batch, lr=peer.lr,
                 device=str(peer.device) if peer.device.type == "cpu" else torch.cuda.get_device_name(peer.device))
    print(json.dumps(hello), flush=True)
    if args.serve:
        for line in sys.stdin:
            if line.strip() != "epoch":
                break
            print(json.dumps(peer.epoch()), flush=True)
    else:
        for _ in range(args.epochs):
            print(json.dumps(peer.epoch()), flush=True)


if __name__ == "__main__":
    main()
