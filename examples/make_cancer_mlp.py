"""Train a small MLP on scikit-learn's breast-cancer data and export it to ONNX.

The second real data set next to the digits example (make_digits_mlp.py), and a harder one
for fixed point: the 30 raw features span about six orders of magnitude (worst area up to
~4e3, fractal dimensions ~1e-3..1e-1). As a real deployment does, the model takes the RAW
features and standardizes them itself with the training split's mean/std, baked into the
graph as a first Sub (mean) and Div (std), both per-feature constants; so the input format
and the calibration of that first stage matter.

Produces, next to this script:
  cancer_mlp.onnx       Sub/Div standardization, then 30 -> 32 -> 16 -> 2 MLP
                        (Gemm/Relu, Softmax output, opset 13)
  cancer_test_x.npy     held-out test features (30% stratified split), float32, RAW
  cancer_test_y.npy     held-out test labels, int64 (0 malignant, 1 benign)
  cancer_calib_x.npy    100 training samples, RAW, for quantization calibration

Needs only scikit-learn, onnx and onnxruntime (no network, no skl2onnx): the data set ships
inside scikit-learn.
"""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from mlp_onnx import mlp_model

OUT = Path(__file__).resolve().parent
SEED = 0
N_CALIB = 100

X, y = load_breast_cancer(return_X_y=True)
X = X.astype(np.float32)
y = y.astype(np.int64)
X_tr, X_te, y_tr, y_te = train_test_split(
    X, y, test_size=0.3, random_state=SEED, stratify=y)

# Standardize with the TRAINING split's statistics only (the test split stays unseen).
mean = X_tr.mean(axis=0).astype(np.float32)
std = X_tr.std(axis=0).astype(np.float32)
print(f"raw feature ranges: max {X.max():.4g}, smallest column max {X.max(axis=0).min():.4g}")

clf = MLPClassifier(hidden_layer_sizes=(32, 16), activation="relu",
                    max_iter=2000, random_state=SEED)
clf.fit((X_tr - mean) / std, y_tr)
print(f"train accuracy: {clf.score((X_tr - mean) / std, y_tr):.4f}")
print(f"test accuracy:  {clf.score((X_te - mean) / std, y_te):.4f}")

# sklearn's binary MLPClassifier has ONE logistic output unit (p(benign)); the model asked for
# has two Softmax outputs. softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)], so the last layer
# becomes two units with weights [0, w] and biases [0, b]: the same probabilities exactly.
coefs = [W.astype(np.float32) for W in clf.coefs_]
biases = [b.astype(np.float32) for b in clf.intercepts_]
assert coefs[-1].shape[1] == 1
coefs[-1] = np.concatenate([np.zeros_like(coefs[-1]), coefs[-1]], axis=1)
biases[-1] = np.concatenate([np.zeros_like(biases[-1]), biases[-1]])

# The graph: Sub(mean), Div(std), then Gemm(+Relu) per layer, Softmax at the end (mlp_onnx.py).
inits = [numpy_helper.from_array(mean.reshape(1, -1), "scaler.mean"),
         numpy_helper.from_array(std.reshape(1, -1), "scaler.std")]
nodes = [helper.make_node("Sub", ["input", "scaler.mean"], ["centered"], name="scaler_sub"),
         helper.make_node("Div", ["centered", "scaler.std"], ["standardized"], name="scaler_div")]
model = mlp_model("cancer_mlp", coefs, biases, nodes, inits, first="standardized")
assert [W.shape[1] for W in coefs] == [32, 16, 2] and coefs[0].shape[0] == 30

# The exported graph, fed RAW features, must classify exactly like the sklearn model.
sess = ort.InferenceSession(model.SerializeToString(),
                            providers=["CPUExecutionProvider"])
probs = sess.run(None, {"input": X_te})[0]
assert (probs.argmax(axis=1) == clf.predict((X_te - mean) / std)).all(), "ONNX != sklearn"
acc = (probs.argmax(axis=1) == y_te).mean()
print(f"onnx test accuracy: {acc:.4f}")
assert acc > 0.93, f"float test accuracy {acc:.4f} is not above 0.93"

onnx.save(model, OUT / "cancer_mlp.onnx")
np.save(OUT / "cancer_test_x.npy", X_te)
np.save(OUT / "cancer_test_y.npy", y_te)
np.save(OUT / "cancer_calib_x.npy", X_tr[:N_CALIB].copy())
print(f"wrote {len(X_te)} test / {N_CALIB} calibration samples to {OUT}")
