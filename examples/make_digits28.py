"""scikit-learn's digits (8x8, 0..16) in MNIST's format, for mnist-8 (the ONNX zoo CNN).

Each digit is resized to 20x20 (bilinear, by hand in numpy), put in a 28x28 field with its
centre of mass at the centre (MNIST's own preprocessing) and scaled to 0..255: mnist-8's
input range, as its test_data_set_0/input_0.pb shows (float32 0..255, bright ink on 0).

Measured with onnxruntime on the model in
shared/models/dev/D10_mnist8_cnn_float_gold/model.onnx (printed again when this runs):
  all 1,797 digits:            90.87% (88.87% with the 20x20 box centred instead)
  the 300 evaluation images:   90.00%

Writes next to this script (float32 for all 1,797 would be 5.6 MB; this is ~1.3 MB):
  digits28_x.npy   float32 (400, 1, 28, 28), values 0..255: rows 0..299 are 300 evaluation
                   images, rows 300..399 are 100 calibration images (disjoint; both
                   stratified by class, seed 0)
  digits28_y.npy   int64 (400,) labels
mnist-8 takes one image at a time (input 1x1x28x28), so feed it row by row.

Needs only numpy and scikit-learn (onnxruntime for the accuracy; the model is skipped with a
note when the shared folder is not there). No network, no PIL.
"""
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

OUT = Path(__file__).resolve().parent
SEED = 0
N_EVAL, N_CALIB = 300, 100
SIZE = 20  # MNIST's digits fill a 20x20 box inside the 28x28 field


def _bilinear_matrix(m: int, n: int) -> np.ndarray:
    """(n, m) interpolation matrix: half-pixel centres (align_corners=False), edges clamped."""
    c = np.clip((np.arange(n) + 0.5) * m / n - 0.5, 0, m - 1)
    i0 = np.floor(c).astype(int)
    i1 = np.minimum(i0 + 1, m - 1)
    f = c - i0
    r = np.zeros((n, m))
    np.add.at(r, (np.arange(n), i0), 1 - f)
    np.add.at(r, (np.arange(n), i1), f)
    return r


def to_mnist(images: np.ndarray, center_of_mass: bool = True) -> np.ndarray:
    """(B, 8, 8) digits 0..16 -> (B, 1, 28, 28) float32 0..255 in MNIST's layout."""
    r = _bilinear_matrix(images.shape[-1], SIZE)
    small = np.einsum("ij,bjk,lk->bil", r, images.astype(np.float64), r)
    out = np.zeros((len(images), 28, 28))
    yy, xx = np.mgrid[:SIZE, :SIZE]
    lo = (28 - SIZE) // 2
    for k, im in enumerate(small):
        oy = ox = lo
        if center_of_mass and im.sum() > 0:  # move the centre of mass to (13.5, 13.5)
            cy, cx = (yy * im).sum() / im.sum(), (xx * im).sum() / im.sum()
            oy = int(np.clip(round(13.5 - cy), 0, 28 - SIZE))
            ox = int(np.clip(round(13.5 - cx), 0, 28 - SIZE))
        out[k, oy:oy + SIZE, ox:ox + SIZE] = im
    return (np.clip(out, 0, 16) * (255.0 / 16.0)).astype(np.float32)[:, None]


def mnist8_accuracy(x: np.ndarray, y: np.ndarray, model: Path) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    pred = np.array([sess.run(None, {name: x[i:i + 1]})[0].argmax() for i in range(len(x))])
    return float((pred == y).mean())


def main() -> None:
    images, labels = load_digits(return_X_y=True)
    images = images.reshape(-1, 8, 8)
    labels = labels.astype(np.int64)
    idx = np.arange(len(labels))
    eval_idx, rest = train_test_split(idx, train_size=N_EVAL, random_state=SEED, stratify=labels)
    calib_idx, _ = train_test_split(rest, train_size=N_CALIB, random_state=SEED, stratify=labels[rest])
    pick = np.concatenate([eval_idx, calib_idx])

    x_all = to_mnist(images)
    x, y = x_all[pick], labels[pick]
    assert x.shape == (N_EVAL + N_CALIB, 1, 28, 28) and x.dtype == np.float32

    shared = Path(os.environ.get("QCOMPILE_SHARED", OUT.parents[1] / "shared"))
    model = shared / "models" / "dev" / "D10_mnist8_cnn_float_gold" / "model.onnx"
    if model.is_file():
        print(f"mnist-8 accuracy, all {len(labels)} digits: {mnist8_accuracy(x_all, labels, model):.4f}")
        print(f"mnist-8 accuracy, 20x20 box centred instead: "
              f"{mnist8_accuracy(to_mnist(images, center_of_mass=False), labels, model):.4f}")
        print(f"mnist-8 accuracy, the {N_EVAL} evaluation images: "
              f"{mnist8_accuracy(x[:N_EVAL], y[:N_EVAL], model):.4f}")
    else:
        print(f"{model} not found: accuracy not measured (set QCOMPILE_SHARED)")

    np.save(OUT / "digits28_x.npy", x)
    np.save(OUT / "digits28_y.npy", y)
    print(f"wrote {N_EVAL} evaluation + {N_CALIB} calibration images to {OUT}")


if __name__ == "__main__":
    main()
