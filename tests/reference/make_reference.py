#!/usr/bin/python3
"""Golden files for tests/reference/test_reference.c: the AMEIR network in PyTorch (float64),
on a small fixed schema and batch, for several architectures that together cover every op,
conv kernel, head count, norm, activation, aggregate, positions on/off, interactions of
order 2..4 and the shortcut off, linear and "se".

Each file ref_NAME.h5 holds: attrs arch (JSON), lr, l2, beta1, beta2, eps; schema/{names,
vocab, width, is_item} and attr seq_len, item_field; the batch x, hist, label; init/NAME
(weights, C tensor names), grad/NAME (gradients of the first step), logits (first step),
loss (both steps), after/NAME (parameters after two Adam steps on the same batch).
Same batch twice, so lazy Adam over touched rows equals torch's dense Adam (an untouched
row has zero gradient and zero moments, so its update is exactly zero). ref_g.h5 is where
they differ: its second step takes another batch (x2, hist2, label2), so rows touched only in
step 1 keep their moments and do not move in step 2 under AMEIR's lazy Adam, while dense Adam
would move them. torch's side there is torch.optim.Adam on the dense tensors and, on the
embedding tables, Adam's own arithmetic applied to the rows the step's batch touches only
(LazyAdam; lazy_adam_rows below). torch.optim.SparseAdam is not that function: it adds eps
to sqrt(v) before the bias correction (an effective eps of eps / sqrt(1 - beta2^t)), which
on this file moved emb/user by 5.06e-4 and emb/gender by 6.73e-4 relative after two steps.

Run: /usr/bin/python3 tests/reference/make_reference.py [OUTDIR]   (a few seconds)
"""
import json
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ameir_torch import AmeirNet, Schema  # noqa: E402

D = 8
L = 8
LR = 0.01
L2 = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8

SCHEMA = Schema([("user", 12, 1, 0), ("gender", 3, 1, 0), ("age", 6, 1, 0), ("item", 20, 1, 1),
                 ("genre", 8, 3, 1)], seq_len=L, item_field=3)

ARCHS = {
    "a": {"behavior": {"blocks": [
        {"norm": "layernorm", "op": "attention", "heads": 1, "act": "gelu"},
        {"norm": "none", "op": "conv", "kernel": 1, "act": "relu"},
        {"norm": "layernorm", "op": "conv", "kernel": 3, "act": "swish"},
        {"norm": "none", "op": "gru", "act": "identity"}],
        "aggregate": "target_attention", "positions": True},
        "interactions": [["user", "item"], ["gender", "age", "genre"]],
        "mlp": {"layers": [{"units": 16, "act": "relu"}, {"units": 8, "act": "swish"}], "shortcut": False}},
    "b": {"behavior": {"blocks": [
        {"norm": "none", "op": "attention", "heads": 2, "act": "relu"},
        {"norm": "layernorm", "op": "conv", "kernel": 5, "act": "gelu"},
        {"norm": "none", "op": "avgpool", "act": "swish"},
        {"norm": "layernorm", "op": "maxpool", "act": "identity"},
        {"norm": "none", "op": "zero", "act": "identity"}],
        "aggregate": "mean", "positions": False},
        "interactions": [["user", "gender", "age", "item"]],
        "mlp": {"layers": [{"units": 12, "act": "gelu"}], "shortcut": True}},
    "c": {"behavior": {"blocks": [
        {"norm": "layernorm", "op": "attention", "heads": 4, "act": "swish"},
        {"norm": "none", "op": "conv", "kernel": 7, "act": "gelu"},
        {"norm": "layernorm", "op": "attention", "heads": 8, "act": "relu"},
        {"norm": "layernorm", "op": "gru", "act": "gelu"},
        {"norm": "none", "op": "maxpool", "act": "relu"}],
        "aggregate": "last", "positions": True},
        "interactions": [["user", "genre"], ["age", "item", "gender"]],
        "mlp": {"layers": [{"units": 16, "act": "identity"}, {"units": 8, "act": "relu"}], "shortcut": True}},
    "d": {"behavior": {"blocks": [], "aggregate": "mean", "positions": False},
          "interactions": [],
          "mlp": {"layers": [], "shortcut": False}},
    "e": {"behavior": {"blocks": [
        {"norm": "layernorm", "op": "avgpool", "act": "relu"},
        {"norm": "none", "op": "gru", "act": "swish"}],
        "aggregate": "target_attention", "positions": False},
        "interactions": [["item", "genre"], ["user", "gender", "age", "genre"]],
        "mlp": {"layers": [{"units": 8, "act": "gelu"}], "shortcut": False}},
    # the "se" shortcut: 8 segments (5 fields, behaviour, 2 interactions), bottleneck 2
    "f": {"behavior": {"blocks": [
        {"norm": "layernorm", "op": "conv", "kernel": 3, "act": "relu"}],
        "aggregate": "last", "positions": True},
        "interactions": [["user", "item"], ["age", "genre"]],
        "mlp": {"layers": [{"units": 16, "act": "relu"}, {"units": 8, "act": "gelu"}], "shortcut": "se"}},
}

# step 2 on a second batch: lazy (SparseAdam) and dense Adam differ (the arch of "f")
ARCHS["g"] = ARCHS["f"]
TWO_BATCHES = {"g"}

# real events per row: full, 2 padding, empty history, 5 padding, one event, 3 padding
REAL = [8, 6, 0, 3, 1, 5]


def make_batch(gen):
    s = SCHEMA
    B = len(REAL)
    x = np.zeros((B, s.x_width), np.int32)
    hist = np.zeros((B, L, s.item_width), np.int32)
    for f, (_, vocab, w, is_item) in enumerate(s.fields):
        ids = torch.randint(1, vocab, (B, w), generator=gen).numpy()
        if w > 1:  # multi-valued: some slots empty, and one row with no value at all
            ids[torch.rand(B, w, generator=gen).numpy() < 0.35] = 0
            ids[1] = 0
        x[:, s.offset[f]:s.offset[f] + w] = ids
        if is_item:
            io = s.item_offset[f]
            hid = torch.randint(1 if w == 1 else 0, vocab, (B, L, w), generator=gen).numpy()
            hist[:, :, io:io + w] = hid
    for r, n in enumerate(REAL):
        hist[r, :L - n] = 0  # padding first; position L-1 is the most recent event
    label = (torch.rand(B, generator=gen) < 0.5).double().numpy()
    return x, hist, label


def lazy_adam_rows(p, g, m, v, rows, t):
    """torch.optim.Adam's single-tensor arithmetic (PyTorch 1.13) on the given rows only"""
    b1, b2 = BETAS
    with torch.no_grad():
        m[rows] = m[rows] * b1 + g[rows] * (1 - b1)
        v[rows] = v[rows] * b2 + g[rows] * g[rows] * (1 - b2)
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        denom = (v[rows].sqrt() / (bc2 ** 0.5)) + EPS
        p[rows] = p[rows] - (LR / bc1) * m[rows] / denom


def run(name, arch, out_dir):
    gen = torch.Generator().manual_seed(1234 + ord(name))
    net = AmeirNet(arch, SCHEMA, D, dtype=torch.float64)
    net.init_weights(gen)
    with torch.no_grad():  # the C net starts from exactly these float32 values
        for _, p in net.named():
            p.copy_(p.float().double())
    x, hist, label = make_batch(gen)
    batches = [(x, hist, label)]
    batches.append(make_batch(gen) if name in TWO_BATCHES else batches[0])
    tensors = [(torch.from_numpy(a).long(), torch.from_numpy(h).long(), torch.from_numpy(y)) for a, h, y in batches]
    init = {n: p.detach().clone() for n, p in net.named()}
    lazy = name in TWO_BATCHES
    tables = [(n, p) for n, p in net.named() if lazy and n.startswith("emb/")]
    dense = [p for n, p in net.named() if not (lazy and n.startswith("emb/"))]
    opts = [torch.optim.Adam(dense, lr=LR, betas=BETAS, eps=EPS)]
    moments = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in tables}
    losses = []
    for step in range(2):
        xt, ht, yt = tensors[step]
        for o in opts:
            o.zero_grad()
        for _, p in tables:
            p.grad = None
        loss, logits = net.loss(xt, ht, yt, l2=L2)
        loss.backward()
        assert torch.isfinite(loss), name
        if step == 0:
            grads = {n: p.grad.detach().clone() for n, p in net.named()}
            logits0 = logits.detach().clone()
        losses.append(loss.item())
        for o in opts:
            o.step()
        if tables:
            rows = net.touched_rows(xt, ht)
            for n, p in tables:
                lazy_adam_rows(p, p.grad, *moments[n], rows[n[len("emb/"):]], step + 1)
    if any(b["op"] == "gru" for b in arch["behavior"]["blocks"]):
        # the packed GRU of the bench is the same function as the step-by-step one
        fast = AmeirNet(arch, SCHEMA, D, dtype=torch.float64, gru="packed")
        fast.load_state_dict(net.state_dict())
        with torch.no_grad():
            a, b = net(xt, ht), fast(xt, ht)
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), (name, a, b)
    path = os.path.join(out_dir, f"ref_{name}.h5")
    with h5py.File(path, "w") as f:
        f.attrs["arch"] = json.dumps(arch)
        f.attrs["d"] = D
        f.attrs["lr"] = LR
        f.attrs["l2"] = L2
        f.attrs["beta1"], f.attrs["beta2"], f.attrs["eps"] = BETAS[0], BETAS[1], EPS
        g = f.create_group("schema")
        g.attrs["seq_len"] = SCHEMA.seq_len
        g.attrs["item_field"] = SCHEMA.item_field
        g.attrs["names"] = ",".join(fl[0] for fl in SCHEMA.fields)
        g["vocab"] = np.array([fl[1] for fl in SCHEMA.fields], np.int32)
        g["width"] = np.array([fl[2] for fl in SCHEMA.fields], np.int32)
        g["is_item"] = np.array([fl[3] for fl in SCHEMA.fields], np.int32)
        f["x"], f["hist"], f["label"] = x, hist, label.astype(np.float32)
        if name in TWO_BATCHES:
            f["x2"], f["hist2"], f["label2"] = batches[1][0], batches[1][1], batches[1][2].astype(np.float32)
        f["loss"] = np.array(losses)
        f["logits"] = logits0.numpy()
        for n, p in net.named():
            f["init/" + n] = init[n].numpy().astype(np.float32)
            f["grad/" + n] = grads[n].numpy()
            f["after/" + n] = p.detach().numpy()
    print(f"{path}: {len(net.names)} tensors, loss {losses[0]:.6f} -> {losses[1]:.6f}, "
          f"{os.path.getsize(path)} bytes")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(0)
    for name, arch in ARCHS.items():
        run(name, arch, out_dir)


if __name__ == "__main__":
    main()
