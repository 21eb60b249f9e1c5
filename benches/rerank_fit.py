#!/usr/bin/env python3
"""Fits the re-ranker's weights (src/kb/rerank.rs) on feature dumps of development sets.

    supportd eval retrieval --data tests/data/retrieval_dev.jsonl --features dev.jsonl
    supportd eval retrieval --data tests/data/retrieval_dev2.jsonl --features dev2.jsonl
    python3 benches/rerank_fit.py dev.jsonl dev2.jsonl [--l2=0.01]

Listwise softmax regression with an L2 penalty (plain Python, no packages). Reports each set
fitted on the others (cross-set), 5-fold cross-validation over all, and the weights fitted on
all, in the raw features' scale, ready to paste. Never give it a held-out set.
"""
import json
import math
import random
import sys


def load(path):
    out = []
    for line in open(path, encoding="utf-8"):
        if line.strip():
            q = json.loads(line)
            names = q["features"]
            out.append(([c["x"] for c in q["candidates"]], [c["relevant"] for c in q["candidates"]]))
    return names, out


def top1(w, qs, feats):
    total = 0.0
    for xs, rel in qs:
        if not xs:
            continue
        s = [sum(w[i] * x[i] for i in feats) for x in xs]
        best = max(range(len(xs)), key=lambda k: (s[k], -k))
        n_rel = max(1, sum(rel))
        total += (1.0 / n_rel) if rel[best] else 0.0
    return total / len(qs)


def fit(qs, dim, feats, l2=0.01, epochs=400, lr=0.5):
    # standardise by each feature's spread (the mean drops out of a softmax over candidates)
    xs_all = [x for xs, _ in qs for x in xs]
    std = []
    for i in range(dim):
        v = [x[i] for x in xs_all]
        m = sum(v) / len(v)
        std.append(math.sqrt(sum((a - m) ** 2 for a in v) / len(v)) or 1.0)
    w = [0.0] * dim
    train = [(xs, rel) for xs, rel in qs if any(rel) and not all(rel)]
    for _ in range(epochs):
        g = [0.0] * dim
        for xs, rel in train:
            z = [[x[i] / std[i] for i in range(dim)] for x in xs]
            s = [sum(w[i] * zz[i] for i in feats) for zz in z]
            mx = max(s)
            e = [math.exp(a - mx) for a in s]
            tot = sum(e)
            p = [a / tot for a in e]
            n_rel = sum(rel)
            for k, zz in enumerate(z):
                target = (1.0 / n_rel) if rel[k] else 0.0
                for i in feats:
                    g[i] += (p[k] - target) * zz[i]
        for i in feats:
            w[i] -= lr * (g[i] / len(train) + l2 * w[i])
    return [w[i] / std[i] if i in feats else 0.0 for i in range(dim)]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--l2=")]
    l2 = float(next((a[5:] for a in sys.argv[1:] if a.startswith("--l2=")), "0.01"))
    sets = [load(p) for p in args]
    names = sets[0][0]
    dim = len(names)
    feats = list(range(dim))
    base = [0.0] * dim
    base[names.index("fused_share")] = 1.0
    for reg in (0.003, 0.01, 0.03, 0.1):
        print(f"l2 {reg}")
        for k, (_, qs) in enumerate(sets):
            others = [q for j, (_, s) in enumerate(sets) if j != k for q in s]
            w = fit(others, dim, feats, reg)
            print(f"  {args[k]}: fused {top1(base, qs, feats):.3f} -> re-ranked {top1(w, qs, feats):.3f} (fitted on the others)")
        allq = [q for _, s in sets for q in s]
        random.Random(7).shuffle(allq)
        folds = 5
        b = r = 0.0
        for f in range(folds):
            test = allq[f::folds]
            train = [q for i, q in enumerate(allq) if i % folds != f]
            w = fit(train, dim, feats, reg)
            b += top1(base, test, feats) * len(test)
            r += top1(w, test, feats) * len(test)
        print(f"  5-fold over all: fused {b / len(allq):.3f} -> re-ranked {r / len(allq):.3f}")
    w = fit([q for _, s in sets for q in s], dim, feats, l2)
    print("weights (all sets, l2 %.3f):" % l2)
    for n, x in zip(names, w):
        print(f"  {n:<16} {x:+.4f}")
    print("[" + ", ".join(f"{x:.4f}" for x in w) + "]")


if __name__ == "__main__":
    main()
