#!/usr/bin/env python3
"""Every layer against PyTorch (float64): runs dump_layers (the C layers built in double),
which prints inputs, weights, outputs and gradients for dout = R, recomputes each with
torch and compares outputs and gradients. Padding positions must have zero input
gradient in C; torch's gradient there is not compared (torch reads padding zeros as
values, the C layers treat them as constants).
usage: torch_layers.py PATH/TO/dump_layers"""
import json
import subprocess
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # meson treats 77 as a skip
    print(f"skip: PyTorch is not importable ({e})")
    sys.exit(77)

torch.set_default_dtype(torch.float64)
RTOL, ATOL = 1e-9, 1e-10
failures = []


def T(v, shape=None, grad=False):
    t = torch.tensor(v, dtype=torch.float64)
    if shape is not None:
        t = t.reshape(shape)
    return t.requires_grad_(grad)


def compare(case, name, got, want, where=None):
    got = torch.tensor(got, dtype=torch.float64).reshape(want.shape)
    want = want.detach()
    if where is not None:
        got, want = got[where], want[where]
    err = (got - want).abs()
    worst = err.max().item() if err.numel() else 0.0
    ok = torch.allclose(got, want, rtol=RTOL, atol=ATOL)
    label = f"{case['op']} opt={case['opt']}"
    print(f"{label:22s} {name:8s} max abs err {worst:.3g}")
    if not ok:
        i = int(err.reshape(-1).argmax())
        failures.append(f"{label} {name}[{i}]: C {got.reshape(-1)[i].item():.12g}, torch {want.reshape(-1)[i].item():.12g}")


def seq_case(c):
    B, L, C = c["B"], c["L"], c["C"]
    m = torch.tensor(c["mask"], dtype=torch.bool).reshape(B, L)
    x = T(c["x"], (B, L, C), grad=True)
    return B, L, C, m, x


def backward(out, R):
    (out * R).sum().backward()


def check_act(c):
    x = T(c["x"], grad=True)
    f = {"identity": lambda v: v, "relu": F.relu, "gelu": F.gelu, "swish": F.silu, "sigmoid": torch.sigmoid}[c["name"]]
    out = f(x)
    backward(out, T(c["R"]))
    compare(c, "out", c["out"], out)
    compare(c, "dx", c["dx"], x.grad)


def check_conv(c):
    B, L, C, m, x = seq_case(c)
    K = c["opt"]
    w, b = T(c["w"], (C, C, K), True), T(c["b"], (C,), True)
    out = F.conv1d(x.transpose(1, 2), w, b, padding=K // 2).transpose(1, 2) * m[..., None]
    backward(out, T(c["R"], (B, L, C)))
    compare(c, "out", c["out"], out)
    compare(c, "dx", c["dx"], x.grad, m)
    compare(c, "dx pad", c["dx"], torch.zeros(B, L, C), ~m)
    compare(c, "dw", c["dw"], w.grad)
    compare(c, "db", c["db"], b.grad)


def check_gru(c):
    # skipping padding steps is running the GRU on the real positions only
    B, L, C, m, x = seq_case(c)
    gru = torch.nn.GRU(C, C, batch_first=True)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(T(c["w_ih"], (3 * C, C)))
        gru.weight_hh_l0.copy_(T(c["w_hh"], (3 * C, C)))
        gru.bias_ih_l0.copy_(T(c["b_ih"], (3 * C,)))
        gru.bias_hh_l0.copy_(T(c["b_hh"], (3 * C,)))
    out = torch.zeros(B, L, C)
    for b in range(B):
        idx = m[b].nonzero().reshape(-1)
        if len(idx):
            y, _ = gru(x[b, idx][None])
            out = out.index_put((torch.full_like(idx, b), idx), y[0])
    backward(out, T(c["R"], (B, L, C)))
    compare(c, "out", c["out"], out)
    compare(c, "dx", c["dx"], x.grad, m)
    compare(c, "dx pad", c["dx"], torch.zeros(B, L, C), ~m)
    compare(c, "dw_ih", c["dw_ih"], gru.weight_ih_l0.grad)
    compare(c, "dw_hh", c["dw_hh"], gru.weight_hh_l0.grad)
    compare(c, "db_ih", c["db_ih"], gru.bias_ih_l0.grad)
    compare(c, "db_hh", c["db_hh"], gru.bias_hh_l0.grad)


def check_attention(c):
    B, L, C, m, x = seq_case(c)
    H = c["opt"]
    mha = torch.nn.MultiheadAttention(C, H, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(T(c["in_w"], (3 * C, C)))
        mha.in_proj_bias.copy_(T(c["in_b"], (3 * C,)))
        mha.out_proj.weight.copy_(T(c["out_w"], (C, C)))
        mha.out_proj.bias.copy_(T(c["out_b"], (C,)))
    rows = m.any(dim=1)  # torch gives NaN for a row without any real key; C gives 0
    xr = x[rows]
    y, _ = mha(xr, xr, xr, key_padding_mask=~m[rows], need_weights=False)
    out = torch.zeros(B, L, C).index_put((rows.nonzero().reshape(-1),), y) * m[..., None]
    backward(out, T(c["R"], (B, L, C)))
    compare(c, "out", c["out"], out)
    compare(c, "dx", c["dx"], x.grad, m)
    compare(c, "dx pad", c["dx"], torch.zeros(B, L, C), ~m)
    compare(c, "din_w", c["din_w"], mha.in_proj_weight.grad)
    compare(c, "din_b", c["din_b"], mha.in_proj_bias.grad)
    compare(c, "dout_w", c["dout_w"], mha.out_proj.weight.grad)
    compare(c, "dout_b", c["dout_b"], mha.out_proj.bias.grad)


def check_layernorm(c):
    N, C = c["B"], c["C"]
    x, w, b = T(c["x"], (N, C), True), T(c["w"], (C,), True), T(c["b"], (C,), True)
    out = F.layer_norm(x, (C,), w, b, eps=1e-5)
    backward(out, T(c["R"], (N, C)))
    compare(c, "out", c["out"], out)
    compare(c, "dx", c["dx"], x.grad)
    compare(c, "dw", c["dw"], w.grad)
    compare(c, "db", c["db"], b.grad)


def check_din(c):
    B, L, C, m, h = seq_case(c)
    t = T(c["t"], (B, C), True)
    w1, b1 = T(c["w1"], (36, 4 * C), True), T(c["b1"], (36,), True)
    w2, b2 = T(c["w2"], (1, 36), True), T(c["b2"], (1,), True)
    tt = t[:, None, :].expand(B, L, C)
    f = torch.cat([h, tt, h - tt, h * tt], dim=-1)
    a = (torch.sigmoid(f @ w1.T + b1) @ w2.T + b2)[..., 0] * m
    out = (a[..., None] * h).sum(dim=1)
    backward(out, T(c["R"], (B, C)))
    compare(c, "out", c["out"], out)
    compare(c, "dx", c["dx"], h.grad, m)
    compare(c, "dx pad", c["dx"], torch.zeros(B, L, C), ~m)
    for name, p in [("dt", t), ("dw1", w1), ("db1", b1), ("dw2", w2), ("db2", b2)]:
        compare(c, name, c[name], p.grad)


def check_pool_mean_last(c):
    B, L, C, m, x = seq_case(c)
    mf = m[..., None].double()
    if c["op"] == "avgpool":
        s = F.avg_pool1d((x * mf).transpose(1, 2), 3, 1, 1, count_include_pad=True).transpose(1, 2) * 3
        n = F.avg_pool1d(mf.transpose(1, 2), 3, 1, 1, count_include_pad=True).transpose(1, 2) * 3
        out = torch.where(m[..., None], s / n.clamp(min=1), torch.zeros(()))
    elif c["op"] == "maxpool":
        xm = torch.where(m[..., None], x, torch.full((), float("-inf")))
        p = F.max_pool1d(xm.transpose(1, 2), 3, 1, 1).transpose(1, 2)
        out = torch.where(m[..., None], p, torch.zeros(()))
    elif c["op"] == "mean":
        out = (x * mf).sum(dim=1) / mf.sum(dim=1).clamp(min=1)
    else:
        pos = torch.arange(L)[None, :].expand(B, L)
        last = torch.where(m, pos, torch.full((), -1)).max(dim=1).values
        out = x[torch.arange(B), last.clamp(min=0)] * (last >= 0)[:, None]
    backward(out, T(c["R"], out.shape))
    compare(c, "out", c["out"], out)
    compare(c, "dx", c["dx"], x.grad, m)
    compare(c, "dx pad", c["dx"], torch.zeros(B, L, C), ~m)


def check_embedding(c):
    N, w, d, V = c["B"], c["L"], c["C"], c["opt"]
    ids = torch.tensor(c["ids"]).reshape(N, w)
    table = T(c["table"], (V, d), True)
    out = F.embedding_bag(ids, table, mode="mean", padding_idx=0)
    backward(out, T(c["R"], (N, d)))
    compare(c, "out", c["out"], out)
    compare(c, "dtable", c["dtable"], table.grad)


def check_bce(c):
    z, y = T(c["x"], grad=True), T(c["labels"])
    out = F.binary_cross_entropy_with_logits(z, y)
    out.backward()
    compare(c, "out", c["out"], out.reshape(1))
    compare(c, "dx", c["dx"], z.grad)


CHECKS = {"act": check_act, "conv": check_conv, "gru": check_gru, "attention": check_attention,
          "layernorm": check_layernorm, "din": check_din, "avgpool": check_pool_mean_last,
          "maxpool": check_pool_mean_last, "mean": check_pool_mean_last, "last": check_pool_mean_last,
          "embedding": check_embedding, "bce": check_bce}


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    lines = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout.splitlines()
    seen = set()
    for line in lines:
        c = json.loads(line)
        CHECKS[c["op"]](c)
        seen.add(c["op"])
    missing = set(CHECKS) - seen
    if missing:
        failures.append(f"dump_layers printed no case for {sorted(missing)}")
    for f in failures:
        print("FAIL", f)
    print(f"{len(lines)} cases, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
