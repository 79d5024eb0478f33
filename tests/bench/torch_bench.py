#!/usr/bin/python3
"""The PyTorch side of `ameir bench`: the same network (tests/reference/ameir_torch.py, which
the reference test checks against the C code), the same bench schema, batch shapes and
optimizer (Adam, lr 1e-3, L2 0, dropout 0), timing full training steps after a warm-up.
The GRU uses PyTorch's fused packed kernel, the fastest correct form for masked histories.

usage: /usr/bin/python3 tests/bench/torch_bench.py --arch FILE [--batch 256] [--seq 50]
       [--dim 16] [--steps 200] [--warmup 10] [--threads 1] [--seed 1] [--json]
Last line: samples/s: N   (or, with --json, a JSON object after it)
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from ameir_torch import AmeirNet, Schema  # noqa: E402

FIELDS = [("user", 6040), ("gender", 2), ("age", 7), ("occupation", 21), ("zip", 3402), ("item", 3706),
          ("genre", 18), ("year", 81)]
ITEM = 5
N_BATCHES = 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", required=True)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seq", type=int, default=50)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.arch) as f:
        arch = json.load(f)
    schema = Schema([(n, v + 2, 1, int(i == ITEM)) for i, (n, v) in enumerate(FIELDS)], a.seq, ITEM)
    net = AmeirNet(arch, schema, a.dim, gru="packed")
    net.init_weights(torch.Generator().manual_seed(a.seed))
    B, L = a.batch, a.seq
    batches = []
    for _ in range(N_BATCHES):
        x = torch.stack([torch.randint(2, v + 2, (B,)) for _, v in FIELDS], 1)
        hist = torch.randint(2, FIELDS[ITEM][1] + 2, (B, L, 1))
        hist[:, :L // 5] = 0
        y = torch.randint(0, 2, (B,)).float()
        batches.append((x, hist, y))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    first = last = None
    t0 = time.perf_counter()
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            t0 = time.perf_counter()
            c0 = time.process_time()
        x, hist, y = batches[i % N_BATCHES]
        opt.zero_grad(set_to_none=False)
        loss, _ = net.loss(x, hist, y)
        loss.backward()
        opt.step()
        if i == a.warmup:
            first = loss.item()
        last = loss.item() if i == a.warmup + a.steps - 1 else last
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    sps = a.steps * B / seconds
    params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__}: {a.arch} ({params} parameters)")
    print(f"batch {B}, seq {L}, dim {a.dim}, threads {a.threads}, {a.steps} steps after {a.warmup} warm-up")
    print(f"loss: {first:.6f} -> {last:.6f}")
    print(f"seconds: {seconds:.3f}, ms/step: {1e3 * seconds / a.steps:.3f}, cpu seconds: {cpu:.3f} "
          f"({a.steps * B / cpu:.0f} samples per cpu second)")
    print(f"samples/s: {sps:.0f}")
    if a.json:
        print(json.dumps({"command": "torch_bench", "arch": a.arch, "batch": B, "seq": L, "dim": a.dim,
                          "threads": a.threads, "steps": a.steps, "params": params, "seconds": seconds, "cpu_seconds": cpu,
                          "samples_per_s": sps, "first_loss": first, "last_loss": last}))


if __name__ == "__main__":
    main()
