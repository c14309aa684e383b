"""Reference values for the logistic-regression fit and the metrics of
docs/analytics.md §9.1, produced once by scikit-learn (not a dependency of
Lumen; run in a throw-away virtualenv: `pip install scikit-learn`).

    python3 make_fixture_and_reference.py

writes `fixture.csv` (200 rows: x1, x2, x3, y; deterministic, from Python's
own `random` with seed 14) and `expected.json` (sklearn's fit with the same
objective as `logistic::fit`: L2 penalty λ/2·‖β‖² = 1/(2C)·‖β‖² with C = 1/λ,
intercept not penalised, and ROC-AUC, average precision, Brier score and the
10-bin ECE of its predictions on the same rows). The Rust test
`analytics::reference_check` compares `logistic::fit` and `metrics` to them.
"""
import csv
import json
import math
import random

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

LAMBDA = 1.0

rng = random.Random(14)
rows = []
for _ in range(200):
    x = [rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1)]
    z = -0.4 + 1.2 * x[0] - 0.8 * x[1] + 0.1 * x[2]
    y = 1 if rng.random() < 1 / (1 + math.exp(-z)) else 0
    rows.append([round(v, 6) for v in x] + [y])
with open("fixture.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["x1", "x2", "x3", "y"])
    w.writerows(rows)

X = np.array([r[:3] for r in rows])
y = np.array([r[3] for r in rows])
model = LogisticRegression(C=1 / LAMBDA, solver="newton-cg", tol=1e-12, max_iter=1000)
model.fit(X, y)
p = model.predict_proba(X)[:, 1]

# ECE over 10 equal-width bins [0, 0.1), …, [0.9, 1.0] (the last closed).
bins = np.minimum((p * 10).astype(int), 9)
ece = 0.0
for b in range(10):
    members = bins == b
    if members.any():
        ece += members.sum() / len(p) * abs(p[members].mean() - y[members].mean())

expected = {
    "sklearn": sklearn.__version__,
    "lambda": LAMBDA,
    "intercept": float(model.intercept_[0]),
    "coefficients": [float(c) for c in model.coef_[0]],
    "rocAuc": float(roc_auc_score(y, p)),
    "prAuc": float(average_precision_score(y, p)),
    "brier": float(brier_score_loss(y, p)),
    "ece": float(ece),
}
with open("expected.json", "w") as f:
    json.dump(expected, f, indent=2)
    f.write("\n")
print(json.dumps(expected, indent=2))
