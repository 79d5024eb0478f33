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
row has zero gradient and zero moments, so its update is exactly zero).

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


def run(name, arch, out_dir):
    gen = torch.Generator().manual_seed(1234 + ord(name))
    net = AmeirNet(arch, SCHEMA, D, dtype=torch.float64)
    net.init_weights(gen)
    with torch.no_grad():  # the C net starts from exactly these float32 values
        for _, p in net.named():
            p.copy_(p.float().double())
    x, hist, label = make_batch(gen)
    xt, ht, yt = torch.from_numpy(x).long(), torch.from_numpy(hist).long(), torch.from_numpy(label)
    init = {n: p.detach().clone() for n, p in net.named()}
    opt = torch.optim.Adam([p for _, p in net.named()], lr=LR, betas=BETAS, eps=EPS)
    losses = []
    for step in range(2):
        opt.zero_grad()
        loss, logits = net.loss(xt, ht, yt, l2=L2)
        loss.backward()
        assert torch.isfinite(loss), name
        if step == 0:
            grads = {n: p.grad.detach().clone() for n, p in net.named()}
            logits0 = logits.detach().clone()
        losses.append(loss.item())
        opt.step()
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
