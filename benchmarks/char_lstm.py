"""Character-LSTM timings: zeroin (any checkout, picked by PYTHONPATH) against torch, each
in its own fresh process. Run by hand, never part of the test suite.

Workloads, float32, the same initial weights and batches for both libraries:

- ``epoch``: Embedding(65, 64) + LSTM(64, 128, num_layers=2) + Linear(128, 65),
  cross-entropy on the next character, Adam; 40 batches of 16 sequences x 32 steps.
- ``layer``: one LSTM(64, 128) layer, T=32, B=16: forward + backward of ``out.sum()``.
- ``gru``: the same with one GRU(64, 128) layer (the LSTM's weights, first 3 * 128 rows).
- ``rnn``: the same with one RNN(64, 128) tanh layer (the first 128 rows).
- ``lstm``: another name for ``layer``.
- ``lab``: one training step (Adam) of MIT 6.S191's music model, Embedding(83, 256) +
  LSTM(256, 1024, batch_first) + Linear(1024, 83), batch 8 x 100 steps, cross-entropy on
  the next token.

    python benchmarks/char_lstm.py --rounds 5 --threads 1 \\
        --impl base=/tmp/rnn-base --impl new=. [--torch]
    python benchmarks/char_lstm.py --child epoch zeroin      # one measurement, a JSON line

Each round runs every implementation once, in a fresh process, in turn (before / after /
torch alternate); a child prints the median of its timed repeats, wall and CPU time (at
one thread CPU time is the less noisy on a shared machine). Ratios are per round.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _alternate import add_arguments, compare, time_steps  # noqa: E402

V, E, H, LAYERS, B, T, BATCHES = 65, 64, 128, 2, 16, 32, 40


def _weights():
    import numpy as np
    rng = np.random.default_rng(0)
    u = lambda *s, k=H: rng.uniform(-k ** -0.5, k ** -0.5, s).astype(np.float32)  # noqa: E731
    w = {"emb": rng.standard_normal((V, E)).astype(np.float32)}
    for layer in range(LAYERS):
        width = E if layer == 0 else H
        w[f"weight_ih_l{layer}"] = u(4 * H, width)
        w[f"weight_hh_l{layer}"] = u(4 * H, H)
        w[f"bias_ih_l{layer}"] = u(4 * H)
        w[f"bias_hh_l{layer}"] = u(4 * H)
    w["fc_w"], w["fc_b"] = u(V, H), u(V)
    text = rng.integers(0, V, BATCHES * B * T + 1)
    xs = [text[i * B * T:(i + 1) * B * T].reshape(B, T) for i in range(BATCHES)]
    ys = [text[i * B * T + 1:(i + 1) * B * T + 1].reshape(B, T) for i in range(BATCHES)]
    return w, xs, ys


def _lab_sizes():
    """The lab's sizes in place of the char model's (one layer, one batch)."""
    global V, E, H, LAYERS, B, T, BATCHES
    V, E, H, LAYERS, B, T, BATCHES = 83, 256, 1024, 1, 8, 100, 1


def _build(lib, what):
    """(run, name): run() does one epoch or one layer step and returns a float."""
    if what == "lab":
        _lab_sizes()
    w, xs, ys = _weights()
    if lib == "torch":
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        nn, tensor, lib_t = torch.nn, torch.from_numpy, torch
    else:
        import zeroin as lib_t
        from zeroin import nn
        tensor = lib_t.tensor
    if what in ("layer", "lstm", "gru", "rnn"):
        lstm = {"gru": nn.GRU, "rnn": nn.RNN}.get(what, nn.LSTM)(E, H).float()
        for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            v = w[k][:len(getattr(lstm, k))]        # GRU, RNN: 3 or 1 gates of the LSTM's 4
            getattr(lstm, k).data[...] = tensor(v.copy()) if lib == "torch" else v
        x = tensor(w["emb"][xs[0]].transpose(1, 0, 2).copy())      # (T, B, E)

        def layer():
            lstm.zero_grad()
            out, _ = lstm(x)
            out.sum().backward()
            return float(lstm.weight_hh_l0.grad.sum())
        return layer, lib_t.__file__

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, E)
            self.lstm = nn.LSTM(E, H, num_layers=LAYERS, batch_first=True)
            self.fc = nn.Linear(H, V)

        def forward(self, x):
            out, _ = self.lstm(self.emb(x))
            return self.fc(out)

    model = Model().float()
    for k, v in w.items():
        p = {"emb": model.emb.weight, "fc_w": model.fc.weight, "fc_b": model.fc.bias}.get(k)
        p = getattr(model.lstm, k) if p is None else p
        p.data[...] = tensor(v.copy()) if lib == "torch" else v
    opt = (torch.optim.Adam if lib == "torch" else lib_t.optim.Adam)(model.parameters(), 1e-3)
    conv = (lambda a: torch.from_numpy(a.astype("int64"))) if lib == "torch" else \
        (lambda a: lib_t.tensor(a.astype("int64")))
    batches = [(conv(x), conv(y)) for x, y in zip(xs, ys)]
    F = torch.nn.functional if lib == "torch" else lib_t.nn.functional

    def epoch():
        total = 0.0
        for x, y in batches:
            opt.zero_grad()
            loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
            loss.backward()
            opt.step()
            total += float(loss.item())
        return total / len(batches)
    return epoch, lib_t.__file__


def _child(what, lib):
    run, where = _build(lib, what)
    value = run()                                   # warm-up (and the value to compare)
    repeats, n = {"epoch": (3, 1), "lab": (5, 1)}.get(what, (7, 20))
    wall, cpu = time_steps(run, repeats, n)
    print(json.dumps({"what": what, "lib": lib, "file": where, "value": value,
                      "median_s": wall, "cpu_s": cpu}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2, metavar=("WHAT", "LIB"))
    ap.add_argument("--what", default="epoch,layer",
                    help="epoch, layer (or lstm), gru, rnn, lab (comma-separated)")
    add_arguments(ap)
    a = ap.parse_args()
    if a.child:
        return _child(*a.child)
    for what in a.what.split(","):
        compare(__file__, a, lambda lib, what=what: [what, lib], what)


if __name__ == "__main__":
    main()
