#!/usr/bin/python3
"""The PyTorch side of `ameir bench`, written as a PyTorch user would: an nn.Module of
nn.Embedding (padding_idx 0), nn.LayerNorm, nn.MultiheadAttention with a key_padding_mask,
nn.Conv1d, nn.GRU, the DIN unit as nn.Linear layers over [h, t, h-t, h*t], an nn.Sequential
MLP and BCEWithLogitsLoss; gradients dropped (zero_grad(set_to_none=True)) before each step.
Same bench schema, batch shapes and Adam settings (lr 1e-3, L2 0, dropout 0) as ameir.

--optimizer sparse (default): the tables are nn.Embedding(sparse=True) under
torch.optim.SparseAdam, the rest under torch.optim.Adam, so both programs update only the
table rows a batch touches (ameir's lazy Adam). --optimizer dense: one Adam over all
parameters, tables included (every row's moments decay every step).

It computes ameir's function (--check compares loss and every gradient with
tests/reference/ameir_torch.py, which tests/reference checks against the C code). Padding is
masked as ameir masks it: padding positions are 0 after every block, attention ignores
padding keys. ameir's GRU carries h over a padding step; histories are padded at the front
(the most recent event last), so h stays 0 through the leading padding and ameir's output is
nn.GRU run from the first real step: the bench's rows share their L/5 leading padding, so
nn.GRU runs over x[:, p:] (10 fewer steps than L). A batch whose rows start at different
steps is refused.

usage: /usr/bin/python3 tests/bench/torch_bench.py --arch FILE [--batch 256] [--seq 50]
       [--dim 16] [--steps 200] [--warmup 10] [--threads 1] [--seed 1]
       [--optimizer sparse|dense] [--json] [--check]
Last line: samples/s: N   (or, with --json, a JSON object after it)
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FIELDS = [("user", 6040), ("gender", 2), ("age", 7), ("occupation", 21), ("zip", 3402), ("item", 3706),
          ("genre", 18), ("year", 81)]
ITEM = 5
N_BATCHES = 8
DIN_HIDDEN = 36
ACTS = {"identity": nn.Identity, "relu": nn.ReLU, "gelu": nn.GELU, "swish": nn.SiLU}


class Block(nn.Module):
    """h + act(op(norm(h))), padding positions kept at 0"""

    def __init__(self, spec, d):
        super().__init__()
        self.op = spec["op"]
        self.norm = nn.LayerNorm(d) if spec.get("norm", "none") == "layernorm" else None
        if self.op == "attention":
            self.att = nn.MultiheadAttention(d, spec["heads"], batch_first=True)
        elif self.op == "conv":
            self.conv = nn.Conv1d(d, d, spec["kernel"], padding=spec["kernel"] // 2)
        elif self.op == "gru":
            self.gru = nn.GRU(d, d, batch_first=True)
        else:
            raise SystemExit(f"torch_bench: op {self.op!r} is not in this bench (attention, conv, gru)")
        self.act = ACTS[spec.get("act", "identity")]()

    def forward(self, h, m, mf, start):
        x = self.norm(h) * mf if self.norm is not None else h
        if self.op == "attention":
            y, _ = self.att(x, x, x, key_padding_mask=~m, need_weights=False)
        elif self.op == "conv":
            y = self.conv(x.transpose(1, 2)).transpose(1, 2)
        else:
            y, _ = self.gru(x[:, start:])
            y = F.pad(y, (0, 0, start, 0))
        return h + self.act(y * mf)


class BenchNet(nn.Module):
    def __init__(self, arch, d, sparse):
        super().__init__()
        names = [n for n, _ in FIELDS]
        self.emb = nn.ModuleList(nn.Embedding(v + 2, d, padding_idx=0, sparse=sparse) for _, v in FIELDS)
        beh = arch["behavior"]
        if beh.get("aggregate") != "target_attention" or beh.get("positions", False):
            raise SystemExit("torch_bench: the bench has the target_attention aggregate and no positions")
        self.blocks = nn.ModuleList(Block(b, d) for b in beh["blocks"] if b["op"] != "zero")
        self.din = nn.Sequential(nn.Linear(4 * d, DIN_HIDDEN), nn.Sigmoid(), nn.Linear(DIN_HIDDEN, 1))
        self.inter = [[names.index(n) for n in g] for g in arch.get("interactions", [])]
        mlp = arch["mlp"]
        if mlp.get("shortcut", False):
            raise SystemExit("torch_bench: the bench has no MLP shortcut")
        layers, width = [], (len(FIELDS) + 1 + len(self.inter)) * d
        for layer in mlp["layers"]:
            layers += [nn.Linear(width, layer["units"]), ACTS[layer["act"]]()]
            width = layer["units"]
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))
        self.loss_fn = nn.BCEWithLogitsLoss()

    def forward(self, x, hist):
        fe = torch.stack([e(x[:, f]) for f, e in enumerate(self.emb)], 1)  # (B, F, d)
        m = hist != 0  # (B, L)
        mf = m.unsqueeze(-1).to(fe.dtype)
        start = int(m.to(torch.int8).argmax(1).min())
        if not bool(m[:, start:].all()):
            raise SystemExit("torch_bench: rows of a batch start at different steps (the bench's share L/5 padding)")
        h = self.emb[ITEM](hist)  # padding_idx 0: padding positions are 0
        for blk in self.blocks:
            h = blk(h, m, mf, start)
        t = fe[:, ITEM].unsqueeze(1).expand_as(h)
        a = self.din(torch.cat([h, t, h - t, h * t], -1)) * mf  # (B, L, 1)
        parts = [fe.flatten(1), (a * h).sum(1)]
        for g in self.inter:
            v = fe[:, g[0]]
            for f in g[1:]:
                v = v * fe[:, f]
            parts.append(v)
        return self.mlp(torch.cat(parts, 1)).squeeze(1)

    def loss(self, x, hist, y):
        return self.loss_fn(self(x, hist), y)

    def tensor(self, name):
        """this module's parameter for an ameir tensor name ("emb/item", "block0/gru/weight_ih", ...)"""
        part = name.split("/")
        if part[0] == "emb":
            return self.emb[[n for n, _ in FIELDS].index(part[1])].weight
        if part[0] == "agg":
            return {"w1": self.din[0].weight, "b1": self.din[0].bias, "w2": self.din[2].weight,
                    "b2": self.din[2].bias}[part[2]]
        if part[0] == "mlp":
            lin = self.mlp[2 * int(part[1])]
            return getattr(lin, part[2])
        if part[0] == "out":
            return getattr(self.mlp[-1], part[1])
        blk = self.blocks[int(part[0][len("block"):])]
        if part[1] == "ln":
            return getattr(blk.norm, part[2])
        if part[1] == "conv":
            return getattr(blk.conv, part[2])
        if part[1] == "gru":
            return getattr(blk.gru, part[2] + "_l0")
        if part[2].startswith("out_proj_"):
            return getattr(blk.att.out_proj, part[2][len("out_proj_"):])
        return getattr(blk.att, part[2])


def reference_net(arch, seq, d, dtype, seed):
    """tests/reference/ameir_torch.py's net on the bench schema, seeded weights"""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
    from ameir_torch import AmeirNet, Schema  # noqa: E402
    schema = Schema([(n, v + 2, 1, int(i == ITEM)) for i, (n, v) in enumerate(FIELDS)], seq, ITEM)
    ref = AmeirNet(arch, schema, d, dtype=dtype)
    ref.init_weights(torch.Generator().manual_seed(seed))
    return ref


def make_net(arch, seq, d, sparse, dtype, seed):
    """the bench net with the reference net's seeded weights (skipping a block renumbers)"""
    net = BenchNet(arch, d, sparse).to(dtype)
    ref = reference_net(arch, seq, d, dtype, seed)
    live = [i for i, b in enumerate(arch["behavior"]["blocks"]) if b["op"] != "zero"]
    with torch.no_grad():
        for name, t in ref.named():
            if name.startswith("block"):
                i, rest = name[len("block"):].split("/", 1)
                mine = f"block{live.index(int(i))}/{rest}"
            else:
                mine = name
            p = net.tensor(mine)
            if p.shape != t.shape:
                raise SystemExit(f"torch_bench: {name}: shape {tuple(p.shape)}, reference {tuple(t.shape)}")
            p.copy_(t)
    n_ref = sum(t.numel() for _, t in ref.named())
    n_net = sum(p.numel() for p in net.parameters())
    if n_ref != n_net:
        raise SystemExit(f"torch_bench: {n_net} parameters, the reference has {n_ref}")
    return net, ref, live


def make_batches(B, L, gen):
    batches = []
    for _ in range(N_BATCHES):
        x = torch.stack([torch.randint(2, v + 2, (B,), generator=gen) for _, v in FIELDS], 1)
        hist = torch.randint(2, FIELDS[ITEM][1] + 2, (B, L), generator=gen)
        hist[:, :L // 5] = 0
        y = torch.randint(0, 2, (B,), generator=gen).float()
        batches.append((x, hist, y))
    return batches


def check(arch, a):
    """loss and gradients of the bench net against the reference net, in double"""
    worst = 0.0
    for sparse in (True, False):
        net, ref, live = make_net(arch, a.seq, a.dim, sparse, torch.float64, a.seed)
        x, hist, y = make_batches(a.batch, a.seq, torch.Generator().manual_seed(a.seed))[0]
        loss = net.loss(x, hist, y.double())
        loss.backward()
        rloss, _ = ref.loss(x, hist.unsqueeze(-1), y.double())
        rloss.backward()
        err = abs(loss.item() - rloss.item()) / max(1.0, abs(rloss.item()))
        worst = max(worst, err)
        if err > 1e-10:
            raise SystemExit(f"torch_bench --check: loss {loss.item()!r}, reference {rloss.item()!r}")
        for name, t in ref.named():
            mine = name
            if name.startswith("block"):
                i, rest = name[len("block"):].split("/", 1)
                mine = f"block{live.index(int(i))}/{rest}"
            g = net.tensor(mine).grad
            g = g.to_dense() if g.is_sparse else g
            err = float((g - t.grad).abs().max()) / max(1e-3, float(t.grad.abs().max()))
            worst = max(worst, err)
            if err > 1e-8:
                raise SystemExit(f"torch_bench --check: gradient of {name} differs by {err:.3g} (relative)")
    print(f"torch_bench --check: loss and {len(ref.names)} gradients agree with the reference net "
          f"(sparse and dense tables; worst relative difference {worst:.2g})")


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
    ap.add_argument("--optimizer", choices=("sparse", "dense"), default="sparse")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--check", action="store_true", help="compare with the reference net and exit")
    a = ap.parse_args()
    if a.seq < 5 or a.batch < 1 or a.dim < 1 or a.steps < 1 or a.warmup < 0 or a.threads < 1:
        raise SystemExit("torch_bench: --seq >= 5 and positive --batch, --dim, --steps, --threads")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.arch) as f:
        arch = json.load(f)
    if a.check:
        check(arch, a)
        return
    sparse = a.optimizer == "sparse"
    net, _, _ = make_net(arch, a.seq, a.dim, sparse, torch.float32, a.seed)
    if sparse:
        tables = [e.weight for e in net.emb]
        ids = {id(p) for p in tables}
        dense = [p for p in net.parameters() if id(p) not in ids]
        opts = [torch.optim.SparseAdam(tables, lr=1e-3), torch.optim.Adam(dense, lr=1e-3)]
    else:
        opts = [torch.optim.Adam(net.parameters(), lr=1e-3)]
    B, L = a.batch, a.seq
    batches = make_batches(B, L, torch.Generator().manual_seed(a.seed))
    first = last = None
    t0 = c0 = 0.0
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            t0 = time.perf_counter()
            c0 = time.process_time()
        x, hist, y = batches[i % N_BATCHES]
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss = net.loss(x, hist, y)
        loss.backward()
        for o in opts:
            o.step()
        if i == a.warmup:
            first = loss.item()
        if i == a.warmup + a.steps - 1:
            last = loss.item()
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    sps = a.steps * B / seconds
    params = sum(p.numel() for p in net.parameters())
    print(f"torch {torch.__version__}: {a.arch} ({params} parameters), {a.optimizer} tables")
    print(f"batch {B}, seq {L}, dim {a.dim}, threads {a.threads}, {a.steps} steps after {a.warmup} warm-up")
    print(f"loss: {first:.6f} -> {last:.6f}")
    print(f"seconds: {seconds:.3f}, ms/step: {1e3 * seconds / a.steps:.3f}, cpu seconds: {cpu:.3f} "
          f"({a.steps * B / cpu:.0f} samples per cpu second)")
    print(f"samples/s: {sps:.0f}")
    if a.json:
        print(json.dumps({"command": "torch_bench", "arch": a.arch, "batch": B, "seq": L, "dim": a.dim,
                          "threads": a.threads, "steps": a.steps, "optimizer": a.optimizer, "params": params,
                          "seconds": seconds, "cpu_seconds": cpu, "samples_per_s": sps, "first_loss": first,
                          "last_loss": last}))


if __name__ == "__main__":
    main()
