"""Train a small MLP on scikit-learn's digits and export it to ONNX.

Produces the demo inputs for qcompile next to this script:
  digits_mlp.onnx       64 -> 32 -> 16 -> 10 MLP (Gemm/Relu/Softmax, opset 13)
  digits_test_x.npy     held-out test features, float32 in [0, 1]
  digits_test_y.npy     held-out test labels, int64
  digits_calib_x.npy    200 training samples for quantization calibration

Needs only scikit-learn, onnx and onnxruntime (no network, no skl2onnx).
"""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from mlp_onnx import mlp_model

OUT = Path(__file__).resolve().parent
SEED = 0

# Pixels are 0..16; scaling to [0, 1] keeps activations in a friendly range
# for fixed-point quantization later.
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
y = y.astype(np.int64)
X_tr, X_te, y_tr, y_te = train_test_split(
    X, y, test_size=0.2, random_state=SEED, stratify=y)

clf = MLPClassifier(hidden_layer_sizes=(32, 16), activation="relu",
                    max_iter=1000, random_state=SEED)
clf.fit(X_tr, y_tr)
print(f"train accuracy: {clf.score(X_tr, y_tr):.4f}")
print(f"test accuracy:  {clf.score(X_te, y_te):.4f}")

# The graph: Gemm(+Relu) per layer, Softmax at the end (mlp_onnx.py).
model = mlp_model("digits_mlp", clf.coefs_, clf.intercepts_)

# The exported graph must classify exactly like the sklearn model.
sess = ort.InferenceSession(model.SerializeToString(),
                            providers=["CPUExecutionProvider"])
probs = sess.run(None, {"input": X_te})[0]
assert (probs.argmax(axis=1) == clf.predict(X_te)).all(), "ONNX != sklearn"
print(f"onnx test accuracy: {(probs.argmax(axis=1) == y_te).mean():.4f}")

onnx.save(model, OUT / "digits_mlp.onnx")
np.save(OUT / "digits_test_x.npy", X_te)
np.save(OUT / "digits_test_y.npy", y_te)
np.save(OUT / "digits_calib_x.npy", X_tr[:200].copy())
print(f"wrote {len(X_te)} test / 200 calibration samples to {OUT}")
