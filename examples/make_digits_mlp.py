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
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

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

# Build the graph by hand: Gemm(+Relu) per layer, Softmax at the end.
# sklearn stores weights as (in, out), which is Gemm's B with transB=0.
nodes, inits = [], []
x = "input"
n_layers = len(clf.coefs_)
for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_), start=1):
    inits += [numpy_helper.from_array(W.astype(np.float32), f"fc{i}.weight"),
              numpy_helper.from_array(b.astype(np.float32), f"fc{i}.bias")]
    nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"],
                                  [f"fc{i}_out"], name=f"fc{i}", transB=0))
    x = f"fc{i}_out"
    if i < n_layers:  # sklearn applies the activation to hidden layers only
        nodes.append(helper.make_node("Relu", [x], [f"relu{i}_out"],
                                      name=f"relu{i}"))
        x = f"relu{i}_out"
nodes.append(helper.make_node("Softmax", [x], ["probabilities"],
                              name="softmax", axis=-1))

n_in, n_out = clf.coefs_[0].shape[0], clf.coefs_[-1].shape[1]
graph = helper.make_graph(
    nodes, "digits_mlp",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", n_in])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                   ["N", n_out])],
    initializer=inits)
model = helper.make_model(graph, producer_name="qcompile-examples",
                          opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8  # opset 13 era; keeps older onnxruntime builds happy
onnx.checker.check_model(model)

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
