"""The AMEIR-C network (PRODUCT.md section 3) written in PyTorch, tensor for tensor.

Parameters carry the C tensor names ("emb/item", "block0/conv/weight", ...) so weights copy
over by name. Used by make_reference.py (golden files for the C test, in float64) and by
tests/bench/torch_bench.py (the throughput comparison, in float32).

Masking is written the way the C layers do it: padding positions (item id 0) are zero after
every block; padding keys are masked in attention and an all-padding row gives 0, not NaN;
pooling and the mean use real positions only; the GRU skips padding steps (h carries over,
output 0); an empty history aggregates to a zero vector.
"""
import math

import torch
import torch.nn.functional as F

ACTS = {
    "identity": lambda x: x,
    "relu": F.relu,
    "gelu": F.gelu,  # erf form, as C
    "swish": F.silu,
}
DIN_HIDDEN = 36
SE_REDUCTION = 4  # the SE shortcut's bottleneck: max(1, segments // 4) units (AMEIR_SE_REDUCTION)


class Schema:
    """fields: list of (name, vocab, width, is_item); columns follow in that order."""

    def __init__(self, fields, seq_len, item_field):
        self.fields = fields
        self.seq_len = seq_len
        self.item_field = item_field
        self.offset, self.item_offset = [], []
        x, it = 0, 0
        for _, _, w, is_item in fields:
            self.offset.append(x)
            x += w
            self.item_offset.append(it if is_item else -1)
            it += w if is_item else 0
        self.x_width, self.item_width = x, it

    def find(self, name):
        return [f[0] for f in self.fields].index(name)


class AmeirNet(torch.nn.Module):
    def __init__(self, arch, schema, d, dtype=torch.float32, gru="steps"):
        super().__init__()
        self.arch, self.schema, self.d, self.gru_impl = arch, schema, d, gru
        self.names = []
        beh = arch.get("behavior", {})
        self.blocks = beh.get("blocks", []) if schema.seq_len > 0 else []
        self.aggregate = beh.get("aggregate", "mean")
        self.positions = beh.get("positions", False) and schema.seq_len > 0
        self.inter = [[schema.find(n) for n in g] for g in arch.get("interactions", [])]
        mlp = arch.get("mlp", {})
        self.layers = mlp.get("layers", [])
        # False, True (linear) or "se" (the input re-weighted per d-wide segment first)
        self.shortcut = mlp.get("shortcut", False) if len(self.layers) > 0 else False
        L, nf = schema.seq_len, len(schema.fields)

        def add(name, *shape):
            p = torch.nn.Parameter(torch.zeros(*shape, dtype=dtype))
            self.register_parameter(name.replace("/", "__"), p)
            self.names.append(name)

        for name, vocab, _, _ in schema.fields:
            add("emb/" + name, vocab, d)
        if L > 0:
            if self.positions:
                add("pos_emb", L, d)
            for i, b in enumerate(self.blocks):
                op = b["op"]
                if op == "zero":
                    continue
                if b.get("norm", "none") == "layernorm":
                    add(f"block{i}/ln/weight", d)
                    add(f"block{i}/ln/bias", d)
                if op == "conv":
                    add(f"block{i}/conv/weight", d, d, b["kernel"])
                    add(f"block{i}/conv/bias", d)
                elif op == "gru":
                    add(f"block{i}/gru/weight_ih", 3 * d, d)
                    add(f"block{i}/gru/weight_hh", 3 * d, d)
                    add(f"block{i}/gru/bias_ih", 3 * d)
                    add(f"block{i}/gru/bias_hh", 3 * d)
                elif op == "attention":
                    add(f"block{i}/attention/in_proj_weight", 3 * d, d)
                    add(f"block{i}/attention/in_proj_bias", 3 * d)
                    add(f"block{i}/attention/out_proj_weight", d, d)
                    add(f"block{i}/attention/out_proj_bias", d)
            if self.aggregate == "target_attention":
                add("agg/din/w1", DIN_HIDDEN, 4 * d)
                add("agg/din/b1", DIN_HIDDEN)
                add("agg/din/w2", 1, DIN_HIDDEN)
                add("agg/din/b2", 1)
        self.D0 = nf * d + (d if L > 0 else 0) + len(self.inter) * d
        width = self.D0
        for j, layer in enumerate(self.layers):
            add(f"mlp/{j}/weight", layer["units"], width)
            add(f"mlp/{j}/bias", layer["units"])
            width = layer["units"]
        if self.shortcut:
            add("mlp/shortcut/weight", width, self.D0)
            add("mlp/shortcut/bias", width)
        if self.shortcut == "se":  # bottleneck of max(1, S // 4) units over the S segments
            S = self.D0 // d
            R = max(1, S // SE_REDUCTION)
            add("mlp/se/fc1/weight", R, S)
            add("mlp/se/fc1/bias", R)
            add("mlp/se/fc2/weight", S, R)
            add("mlp/se/fc2/bias", S)
        add("out/weight", 1, width)
        add("out/bias", 1)

    def p(self, name):
        return getattr(self, name.replace("/", "__"))

    def named(self):
        return [(n, self.p(n)) for n in self.names]

    def init_weights(self, gen):
        """Seeded weights with PyTorch-like scales (embedding row 0 stays 0)."""
        with torch.no_grad():
            for name, t in self.named():
                if name.startswith("emb/"):
                    t.normal_(0.0, 0.1, generator=gen)
                    t[0].zero_()
                elif name == "pos_emb":
                    t.normal_(0.0, 0.1, generator=gen)
                elif "/ln/" in name:
                    t.normal_(1.0 if name.endswith("weight") else 0.0, 0.1, generator=gen)
                else:
                    fan_in = t.shape[1] * (t.shape[2] if t.dim() == 3 else 1) if t.dim() > 1 else t.shape[0]
                    bound = 1.0 / math.sqrt(fan_in)
                    t.uniform_(-bound, bound, generator=gen)

    # ---- pieces ----
    @staticmethod
    def pooled(table, ids):
        """mean of the rows of the non-zero ids, zeros if none. ids (N, w)"""
        real = (ids != 0).to(table.dtype)
        e = table[ids] * real.unsqueeze(-1)
        return e.sum(1) / real.sum(1, keepdim=True).clamp(min=1.0)

    def gru(self, i, x, m):
        W_ih, W_hh = self.p(f"block{i}/gru/weight_ih"), self.p(f"block{i}/gru/weight_hh")
        b_ih, b_hh = self.p(f"block{i}/gru/bias_ih"), self.p(f"block{i}/gru/bias_hh")
        B, L, d = x.shape
        if self.gru_impl == "packed":
            # move real steps to the front (stable order), run cuDNN-style packed GRU, move back
            order = torch.argsort((~m).to(torch.int8), dim=1, stable=True)
            lengths = m.sum(1)
            xs = torch.gather(x, 1, order.unsqueeze(-1).expand(B, L, d))
            packed = torch.nn.utils.rnn.pack_padded_sequence(xs, lengths.clamp(min=1).cpu(), batch_first=True,
                                                             enforce_sorted=False)
            out, _ = torch._VF.gru(packed.data, packed.batch_sizes, torch.zeros(1, B, d, dtype=x.dtype),
                                   [W_ih, W_hh, b_ih, b_hh], True, 1, 0.0, self.training, False)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(
                torch.nn.utils.rnn.PackedSequence(out, packed.batch_sizes, packed.sorted_indices,
                                                  packed.unsorted_indices), batch_first=True, total_length=L)
            back = torch.zeros_like(out).scatter(1, order.unsqueeze(-1).expand(B, L, d), out)
            return back * m.unsqueeze(-1).to(x.dtype)
        h = x.new_zeros(B, d)
        outs = []
        for l in range(L):
            gi = x[:, l] @ W_ih.t() + b_ih
            gh = h @ W_hh.t() + b_hh
            r = torch.sigmoid(gi[:, :d] + gh[:, :d])
            z = torch.sigmoid(gi[:, d:2 * d] + gh[:, d:2 * d])
            n = torch.tanh(gi[:, 2 * d:] + r * gh[:, 2 * d:])
            hn = (1 - z) * n + z * h
            ml = m[:, l].unsqueeze(-1)
            h = torch.where(ml, hn, h)
            outs.append(torch.where(ml, hn, torch.zeros_like(hn)))
        return torch.stack(outs, 1)

    def attention(self, i, x, m, heads):
        B, L, d = x.shape
        kpm = ~m
        kpm = kpm & m.any(1, keepdim=True)  # an all-padding row attends everywhere; its output is masked below
        out, _ = F.multi_head_attention_forward(
            x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), d, heads,
            self.p(f"block{i}/attention/in_proj_weight"), self.p(f"block{i}/attention/in_proj_bias"),
            None, None, False, 0.0,
            self.p(f"block{i}/attention/out_proj_weight"), self.p(f"block{i}/attention/out_proj_bias"),
            training=self.training, key_padding_mask=kpm, need_weights=False)
        return out.transpose(0, 1) * m.unsqueeze(-1).to(x.dtype)

    @staticmethod
    def window3(x):
        """(x[l-1], x[l], x[l+1]) with zeros beyond the ends, along dim 1"""
        z = torch.zeros_like(x[:, :1])
        return torch.cat([z, x[:, :-1]], 1), x, torch.cat([x[:, 1:], z], 1)

    def block_op(self, i, b, x, m):
        mf = m.unsqueeze(-1).to(x.dtype)
        op = b["op"]
        if op == "conv":
            k = b["kernel"]
            y = F.conv1d(x.transpose(1, 2), self.p(f"block{i}/conv/weight"), self.p(f"block{i}/conv/bias"),
                         padding=k // 2)
            return y.transpose(1, 2) * mf
        if op == "gru":
            return self.gru(i, x, m)
        if op == "attention":
            return self.attention(i, x, m, b["heads"])
        if op == "avgpool":
            s = sum(self.window3(x * mf))
            c = sum(self.window3(mf))
            return s / c.clamp(min=1.0) * mf
        if op == "maxpool":
            xm = x.masked_fill(~m.unsqueeze(-1), float("-inf"))
            y = F.max_pool1d(xm.transpose(1, 2), 3, 1, padding=1).transpose(1, 2)
            return torch.where(m.unsqueeze(-1), y, torch.zeros_like(y))
        raise ValueError(op)

    def forward(self, x, hist, dropout=0.0):
        s, d = self.schema, self.d
        B = x.shape[0]
        fe = []
        for f, (name, _, w, _) in enumerate(s.fields):
            fe.append(self.pooled(self.p("emb/" + name), x[:, s.offset[f]:s.offset[f] + w]))
        fe = torch.stack(fe, 1)  # (B, F, d)
        parts = [fe.reshape(B, -1)]
        L = s.seq_len
        if L > 0:
            key = s.item_offset[s.item_field]
            m = hist[:, :, key] != 0
            mf = m.unsqueeze(-1).to(fe.dtype)
            t = 0
            h = 0
            for f, (name, _, w, is_item) in enumerate(s.fields):
                if not is_item:
                    continue
                t = t + fe[:, f]
                io = s.item_offset[f]
                h = h + self.pooled(self.p("emb/" + name), hist[:, :, io:io + w].reshape(B * L, w)).reshape(B, L, d)
            if self.positions:  # row 0 = the most recent event (position L-1)
                h = h + self.p("pos_emb").flip(0).unsqueeze(0)
            h = h * mf
            for i, b in enumerate(self.blocks):
                if b["op"] == "zero":
                    continue
                inp = h
                if b.get("norm", "none") == "layernorm":
                    inp = F.layer_norm(h, (d,), self.p(f"block{i}/ln/weight"), self.p(f"block{i}/ln/bias"),
                                       1e-5) * mf
                h = h + ACTS[b.get("act", "identity")](self.block_op(i, b, inp, m))
                if dropout > 0:
                    h = F.dropout(h, dropout, True)
            if self.aggregate == "target_attention":
                tt = t.unsqueeze(1).expand_as(h)
                q = torch.cat([h, tt, h - tt, h * tt], -1)
                a = torch.sigmoid(q @ self.p("agg/din/w1").t() + self.p("agg/din/b1"))
                a = (a @ self.p("agg/din/w2").t() + self.p("agg/din/b2")) * mf
                beh = (a * h).sum(1)
            elif self.aggregate == "mean":
                beh = (h * mf).sum(1) / mf.sum(1).clamp(min=1.0)
            elif self.aggregate == "last":
                pos = torch.arange(1, L + 1).unsqueeze(0)
                last = (m.long() * pos).max(1).values - 1  # -1: empty history
                beh = h[torch.arange(B), last.clamp(min=0)] * (last >= 0).unsqueeze(-1).to(h.dtype)
            else:
                raise ValueError(self.aggregate)
            parts.append(beh)
        for g in self.inter:
            v = fe[:, g[0]]
            for f in g[1:]:
                v = v * fe[:, f]
            parts.append(v)
        z0 = torch.cat(parts, 1)
        z = z0
        for j, layer in enumerate(self.layers):
            z = ACTS[layer["act"]](z @ self.p(f"mlp/{j}/weight").t() + self.p(f"mlp/{j}/bias"))
            if j == len(self.layers) - 1 and self.shortcut:  # after the last activation, before dropout
                z = z + self.shortcut_input(z0) @ self.p("mlp/shortcut/weight").t() + self.p("mlp/shortcut/bias")
            if dropout > 0:
                z = F.dropout(z, dropout, True)
        return (z @ self.p("out/weight").t() + self.p("out/bias")).squeeze(1)

    def shortcut_input(self, z0):
        """z0, or for "se" z0 with each d-wide segment scaled by its squeeze-and-excitation weight"""
        if self.shortcut != "se":
            return z0
        seg = z0.view(z0.shape[0], -1, self.d)
        h = torch.relu(seg.mean(2) @ self.p("mlp/se/fc1/weight").t() + self.p("mlp/se/fc1/bias"))
        e = torch.sigmoid(h @ self.p("mlp/se/fc2/weight").t() + self.p("mlp/se/fc2/bias"))
        return (seg * e.unsqueeze(2)).reshape(z0.shape[0], -1)

    def touched_rows(self, x, hist):
        """field name -> distinct non-zero ids of the batch (target and history)"""
        s, rows = self.schema, {}
        for f, (name, _, w, is_item) in enumerate(s.fields):
            ids = [x[:, s.offset[f]:s.offset[f] + w].reshape(-1)]
            if is_item and s.seq_len > 0:
                io = s.item_offset[f]
                ids.append(hist[:, :, io:io + w].reshape(-1))
            u = torch.unique(torch.cat(ids))
            rows[name] = u[u != 0]
        return rows

    def loss(self, x, hist, label, l2=0.0, dropout=0.0, rows=None):
        logits = self.forward(x, hist, dropout)
        loss = F.binary_cross_entropy_with_logits(logits, label)
        if l2 > 0:
            rows = rows if rows is not None else self.touched_rows(x, hist)
            for name, r in rows.items():
                loss = loss + l2 * (self.p("emb/" + name)[r] ** 2).sum()
        return loss, logits
