"""nanoGPT-style training step: zeroin (any checkout, picked by PYTHONPATH) against torch,
each in its own fresh process. Run by hand, never part of the test suite.

The model of Karpathy's "Let's build GPT" / nanoGPT's model.py, float32: token + position
embeddings, ``n_layer`` blocks of LayerNorm, causal self-attention (one ``c_attn`` Linear,
the manual ``masked_fill`` + softmax path) and an MLP with GELU, a final LayerNorm and an
``lm_head`` tied to the token embedding; AdamW with weight decay. One step is forward,
cross_entropy, backward and ``opt.step()`` on a batch of 16 x 64 tokens (vocab 65,
n_layer=2, n_head=4, n_embd=128); the same initial weights and batches for both libraries.

    python benchmarks/gpt_step.py --rounds 5 --threads 1 \\
        --impl base=/tmp/tfm-base-main --impl new=. [--torch]
    python benchmarks/gpt_step.py --child zeroin       # one measurement, a JSON line

Each round runs every implementation once, in a fresh process, in turn; a child prints the
median of its timed repeats, wall and CPU time (at one thread CPU time is the less noisy on
a shared machine). Ratios are per round. ``--size`` shrinks the model for a smoke test.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _alternate import add_arguments, compare, time_steps  # noqa: E402

SIZES = {"full": dict(V=65, L=2, NH=4, C=128, T=64, B=16, STEPS=10),
         "tiny": dict(V=11, L=1, NH=2, C=8, T=4, B=2, STEPS=2)}


def _weights(s):
    """Initial weights as nanoGPT draws them (normal 0.02, c_proj scaled), and batches."""
    import numpy as np
    rng = np.random.default_rng(0)
    C, L = s["C"], s["L"]
    n = lambda *shape, std=0.02: (rng.standard_normal(shape) * std).astype(np.float32)  # noqa
    w = {"wte.weight": n(s["V"], C), "wpe.weight": n(s["T"], C)}
    for i in range(L):
        p = f"h.{i}."
        w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"] = n(3 * C, C), n(3 * C)
        w[p + "attn.c_proj.weight"] = n(C, C, std=0.02 / math.sqrt(2 * L))
        w[p + "attn.c_proj.bias"] = n(C)
        w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"] = n(4 * C, C), n(4 * C)
        w[p + "mlp.c_proj.weight"] = n(C, 4 * C, std=0.02 / math.sqrt(2 * L))
        w[p + "mlp.c_proj.bias"] = n(C)
    text = rng.integers(0, s["V"], s["STEPS"] * s["B"] * s["T"] + 1)
    size = s["B"] * s["T"]
    batches = [(text[i * size:(i + 1) * size].reshape(s["B"], s["T"]),
                text[i * size + 1:(i + 1) * size + 1].reshape(s["B"], s["T"]))
               for i in range(s["STEPS"])]
    return w, batches


def _model(lib, nn, F, s):
    C, NH, T = s["C"], s["NH"], s["T"]

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.register_buffer("bias", lib.tril(lib.ones(T, T)).view(1, 1, T, T))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(C, dim=2)
            k = k.view(B, T, NH, C // NH).transpose(1, 2)
            q = q.view(B, T, NH, C // NH).transpose(1, 2)
            v = v.view(B, T, NH, C // NH).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc, self.gelu, self.c_proj = nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(C), CausalSelfAttention()
            self.ln_2, self.mlp = nn.LayerNorm(C), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(s["V"], C), nn.Embedding(T, C)
            self.h = nn.ModuleList([Block() for _ in range(s["L"])])
            self.ln_f = nn.LayerNorm(C)
            self.lm_head = nn.Linear(C, s["V"], bias=False)
            self.wte.weight = self.lm_head.weight           # weight tying

        def forward(self, idx, targets):
            t = idx.size(1)
            x = self.wte(idx) + self.wpe(lib.arange(0, t, dtype=lib.long))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
    return GPT()


def _build(lib_name, size):
    """(step, file): step() does one training step and returns the loss."""
    s = SIZES[size]
    w, batches = _weights(s)
    if lib_name == "torch":
        import torch as lib
        lib.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        conv = lib.from_numpy
    else:
        import zeroin as lib
        conv = lib.tensor
    lib.set_default_dtype(lib.float32)
    model = _model(lib, lib.nn, lib.nn.functional, s)
    for k, p in model.named_parameters():
        if k in w:
            p.data[...] = conv(w[k].copy())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = lib.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                           {"params": no_decay, "weight_decay": 0.0}], lr=1e-3,
                          betas=(0.9, 0.95))
    data = [(conv(x.astype("int64")), conv(y.astype("int64"))) for x, y in batches]
    state = {"i": 0}

    def step():
        x, y = data[state["i"] % len(data)]
        state["i"] += 1
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.item())
    return step, lib.__file__


def _child(lib, size, repeats, n):
    step, where = _build(lib, size)
    value = step()                                  # warm-up (and the value to compare)
    wall, cpu = time_steps(step, repeats, n)
    print(json.dumps({"lib": lib, "size": size, "file": where, "value": value,
                      "median_s": wall, "cpu_s": cpu}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", metavar="LIB", help="zeroin or torch: one measurement")
    ap.add_argument("--size", default="full", choices=sorted(SIZES))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    add_arguments(ap)
    a = ap.parse_args()
    if a.child:
        return _child(a.child, a.size, a.repeats, a.steps)
    compare(__file__, a, lambda lib: [lib, "--size", a.size, "--repeats", str(a.repeats),
                                      "--steps", str(a.steps)], "gpt_step", decimals=2)


if __name__ == "__main__":
    main()
