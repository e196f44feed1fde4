"""Collect and generate the model corpus: real ONNX graphs from the packages installed here,
beyond the dev models in shared/models/dev, as the exporters people use for FPGA work really
produce them.

    python benchmarks/corpus/collect.py [--out build/corpus] [--only SUBSTRING] [--list]

Sources (see README.md beside this file):
  shipped   ONNX files in installed wheels (qonnx test data, onnxruntime's datasets)
  torch     PyTorch modules exported with torch.onnx (TorchScript exporter, opset 13, unless
            the entry says dynamo), float
  trained   the same, briefly trained on a data set scikit-learn ships (digits, 8x8 images)
  qdq       onnxruntime.quantization.quantize_static of a torch export: QDQ or QOperator
  brevitas  Brevitas quantized nets exported as QONNX (export_qonnx) or QCDQ; the FINN
            bnn_pynq example networks from brevitas_examples
  qonnx     QONNX exports passed through qonnx's cleanup / channels-last transformations
  sklearn   scikit-learn models trained on its shipped data sets, converted with skl2onnx
  keras     Keras 3 models (torch backend: channels-last layers) exported with model.export

Every model is written as <out>/<name>.onnx and described in <out>/manifest.json: name, file,
source, how (what made it), weights (shipped / random seeded / trained on ...), inputs (name,
shape, dtype), input_range (the data run.py feeds: "normal" or "uniform01"), quirks, ops,
opset, sha256, reference (onnxruntime or qonnx). A generator that fails (a missing package,
an exporter error) is recorded under "skipped" with its one-line reason and never stops the
run. Models identical (sha256) to a dev model are left out. Needs the `[corpus]` extra
(torch, brevitas, onnxoptimizer, onnxscript, skl2onnx, keras, qonnx)."""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("KERAS_BACKEND", "torch")  # keras 3 without tensorflow
REPO = Path(__file__).resolve().parents[2]
DEV_MODELS = REPO.parent / "shared" / "models" / "dev"
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "finn",
                 "qonnx.custom_op.channels_last")
SEED = 0


@dataclass
class Spec:
    name: str
    make: Callable[[Path], dict | None]  # writes the model to the path; may return manifest extras
    source: str
    how: str
    weights: str
    quirks: str = ""
    input_range: str = "normal"


SPECS: list[Spec] = []


def corpus(name, source, how, weights="random (seeded)", quirks="", input_range="normal"):
    def deco(fn):
        SPECS.append(Spec(name, fn, source, how, weights, quirks, input_range))
        return fn
    return deco


# ---------------------------------------------------------------------------------------------
# helpers
def _site(*parts) -> Path:
    import qonnx
    return Path(qonnx.__file__).resolve().parents[1].joinpath(*parts)


def _copy(src: Path, path: Path):
    path.write_bytes(Path(src).read_bytes())


def _quiet():
    """torch.onnx's exporters print progress lines; keep the collect log readable
    (CORPUS_VERBOSE=1 shows them, and the tracebacks of failed generators)."""
    return contextlib.ExitStack() if os.environ.get("CORPUS_VERBOSE") else _Quiet()


class _Quiet:
    def __enter__(self):
        self._out, self._err = io.StringIO(), io.StringIO()
        self._a = contextlib.redirect_stdout(self._out)
        self._b = contextlib.redirect_stderr(self._err)
        self._a.__enter__()
        self._b.__enter__()
        return self

    def __exit__(self, *exc):
        self._b.__exit__(*exc)
        self._a.__exit__(*exc)
        return False


def _torch():
    import logging

    import torch
    torch.manual_seed(SEED)
    # eval-mode MultiheadAttention / TransformerEncoderLayer take a fused fast path that the
    # TorchScript exporter cannot export; training code and deployments export the plain ops
    torch.backends.mha.set_fastpath_enabled(False)
    logging.getLogger("torch").setLevel(logging.ERROR)  # "torchvision is not installed" per export
    return torch


def export(model, shape, path: Path, *, dynamo: bool = False, opset: int | None = None,
           dynamic_batch: bool = True, inputs: list[tuple] | None = None):
    """torch.onnx.export of model on random inputs of `shape` (batch first, batch 1).
    TorchScript exporter at opset 13 by default; dynamo=True uses torch.export (opset 18+)."""
    torch = _torch()
    model = model.eval()
    shapes = inputs or [shape]
    xs = tuple(torch.randn(*s) for s in shapes)
    names = ["input"] if len(xs) == 1 else [f"input{k}" for k in range(len(xs))]
    with _quiet(), torch.no_grad():
        if dynamo:
            kw = {}
            if dynamic_batch:
                n = torch.export.Dim("N", min=1, max=1024)
                kw["dynamic_shapes"] = tuple({0: n} for _ in xs)
            torch.onnx.export(model, xs, str(path), dynamo=True, input_names=names, output_names=["output"],
                              **({"opset_version": opset} if opset else {}), **kw)
        else:
            axes = {n: {0: "N"} for n in names + ["output"]} if dynamic_batch else None
            torch.onnx.export(model, xs, str(path), dynamo=False, opset_version=opset or 13, input_names=names,
                              output_names=["output"], dynamic_axes=axes)


def qdq(float_path: Path, path: Path, shape, *, fmt: str = "QDQ", per_channel: bool = False,
        act: str = "QInt8", weight: str = "QInt8", input_range: str = "normal", n: int = 64, **extra):
    """onnxruntime.quantization.quantize_static on random calibration data (min-max)."""
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    rng = np.random.default_rng(SEED)
    data = rng.random((n,) + tuple(shape[1:])) if input_range == "uniform01" else rng.normal(size=(n,) + tuple(shape[1:]))

    class Reader(CalibrationDataReader):
        def __init__(self):
            import onnx
            m = onnx.load(str(float_path))
            self.name = m.graph.input[0].name
            self.it = iter(data.astype(np.float32)[:, None])

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {self.name: x}

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        try:
            with _quiet():
                quant_pre_process(str(float_path), str(pre), skip_symbolic_shape=True)
        except Exception:
            pre = float_path
        with _quiet():
            quantize_static(str(pre), str(path), Reader(),
                            quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
                            per_channel=per_channel, activation_type=getattr(QuantType, act),
                            weight_type=getattr(QuantType, weight), extra_options=extra or None)


def brevitas_export(model, shape, path: Path, qcdq: bool = False):
    torch = _torch()
    from brevitas.export import export_onnx_qcdq, export_qonnx

    model = model.eval()
    x = torch.randn(*shape)
    with _quiet(), torch.no_grad():
        model(x)  # initialise the runtime statistics of the activation quantizers
        (export_onnx_qcdq if qcdq else export_qonnx)(model, x, export_path=str(path))


def _calibrate_brevitas(model, shape, steps: int = 8):
    """A few training-mode forward passes so the activation scales see data."""
    torch = _torch()
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            model(torch.randn(16, *shape[1:]))
    return model.eval()


def _bake_bn_stats(model, shape):
    """Random BatchNorm statistics (a freshly built model has mean 0, var 1: BN folds to nothing)."""
    torch = _torch()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model


# ---------------------------------------------------------------------------------------------
# torch building blocks (the shapes torchvision's layers have, written out: torchvision's wheel
# does not import next to the torch build installed here)
def nets():
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    def cbr(i, o, k=3, s=1, p=None, g=1, act=nn.ReLU, bn=True, d=1):
        p = (k // 2) * d if p is None else p
        layers = [nn.Conv2d(i, o, k, s, p, groups=g, bias=not bn, dilation=d)]
        layers += [nn.BatchNorm2d(o)] if bn else []
        layers += [act()] if act else []
        return nn.Sequential(*layers)

    class Mlp(nn.Module):
        def __init__(self, sizes, act=nn.ReLU, bn=False, out=None):
            super().__init__()
            layers = []
            for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(nn.Linear(a, b))
                if k < len(sizes) - 2:
                    layers += ([nn.BatchNorm1d(b)] if bn else []) + [act()]
            if out:
                layers.append(out)
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x)

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.f1, self.f2, self.f3 = nn.Linear(256, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.c1(x)), 2)
            x = F.max_pool2d(F.relu(self.c2(x)), 2)
            x = x.view(x.size(0), -1)
            return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))

    class BasicBlock(nn.Module):  # torchvision.models.resnet.BasicBlock
        def __init__(self, i, o, s=1):
            super().__init__()
            self.a = cbr(i, o, 3, s)
            self.b = cbr(o, o, 3, 1, act=None)
            self.down = None if s == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False),
                                                                     nn.BatchNorm2d(o))

        def forward(self, x):
            idn = x if self.down is None else self.down(x)
            return F.relu(self.b(self.a(x)) + idn)

    class Bottleneck(nn.Module):  # torchvision.models.resnet.Bottleneck
        def __init__(self, i, mid, o, s=1):
            super().__init__()
            self.body = nn.Sequential(cbr(i, mid, 1), cbr(mid, mid, 3, s), cbr(mid, o, 1, act=None))
            self.down = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))

        def forward(self, x):
            return F.relu(self.body(x) + self.down(x))

    class ResNet8(nn.Module):  # MLPerf Tiny image classification (CIFAR-10)
        def __init__(self):
            super().__init__()
            self.stem = cbr(3, 16, 3)
            self.blocks = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.blocks(self.stem(x))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class DsCnn(nn.Module):  # MLPerf Tiny keyword spotting (49x10 MFCC)
        def __init__(self, c=64):
            super().__init__()
            layers = [cbr(1, c, (10, 4), (2, 2), (5, 1))]
            for _ in range(4):
                layers += [cbr(c, c, 3, g=c), cbr(c, c, 1)]
            self.body = nn.Sequential(*layers)
            self.fc = nn.Linear(c, 12)

        def forward(self, x):
            x = self.body(x)
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class MobileNetV1(nn.Module):  # MLPerf Tiny visual wake words, width 0.25
        def __init__(self, alpha=0.25, classes=2):
            super().__init__()
            c = lambda n: max(8, int(n * alpha))
            cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
            layers, i = [cbr(3, c(32), 3, 2)], c(32)
            for o, s in cfg:
                layers += [cbr(i, i, 3, s, g=i), cbr(i, c(o), 1)]
                i = c(o)
            self.body = nn.Sequential(*layers)
            self.fc = nn.Linear(i, classes)

        def forward(self, x):
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.body(x), 1), 1))

    class SqueezeExcite(nn.Module):  # torchvision.ops.SqueezeExcitation
        def __init__(self, c, r=4, gate=nn.Sigmoid):
            super().__init__()
            self.fc1, self.fc2, self.gate = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1), gate()

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            return x * self.gate(self.fc2(F.relu(self.fc1(s))))

    class InvertedResidual(nn.Module):  # torchvision MobileNetV2 / V3 block
        def __init__(self, i, o, s=1, t=4, act=nn.ReLU6, se=False):
            super().__init__()
            h = i * t
            layers = [cbr(i, h, 1, act=act), cbr(h, h, 3, s, g=h, act=act)]
            layers += [SqueezeExcite(h, gate=nn.Hardsigmoid)] if se else []
            layers += [cbr(h, o, 1, act=None)]
            self.body, self.res = nn.Sequential(*layers), s == 1 and i == o

        def forward(self, x):
            return x + self.body(x) if self.res else self.body(x)

    class MobileNetV2Tiny(nn.Module):
        def __init__(self, act=nn.ReLU6, se=False):
            super().__init__()
            self.body = nn.Sequential(cbr(3, 16, 3, 2, act=act), InvertedResidual(16, 16, act=act, se=se),
                                      InvertedResidual(16, 24, 2, act=act, se=se),
                                      InvertedResidual(24, 24, act=act, se=se), cbr(24, 64, 1, act=act))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.body(x), 1), 1))

    class ShuffleBlock(nn.Module):  # torchvision ShuffleNetV2 InvertedResidual (stride 1)
        def __init__(self, c):
            super().__init__()
            h = c // 2
            self.branch = nn.Sequential(cbr(h, h, 1), cbr(h, h, 3, g=h, act=None), cbr(h, h, 1))

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            x = torch.cat((a, self.branch(b)), dim=1)
            n, c, hh, ww = x.shape
            return x.view(n, 2, c // 2, hh, ww).transpose(1, 2).contiguous().view(n, c, hh, ww)

    class ShuffleNetTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(cbr(3, 24, 3, 2), nn.MaxPool2d(3, 2, 1), ShuffleBlock(24), ShuffleBlock(24))
            self.fc = nn.Linear(24, 10)

        def forward(self, x):
            return self.fc(self.body(x).mean([2, 3]))

    class Fire(nn.Module):  # torchvision SqueezeNet Fire module
        def __init__(self, i, s, e):
            super().__init__()
            self.sq, self.e1, self.e3 = nn.Conv2d(i, s, 1), nn.Conv2d(s, e, 1), nn.Conv2d(s, e, 3, padding=1)

        def forward(self, x):
            x = F.relu(self.sq(x))
            return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)

    class SqueezeNetTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 32, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
                                      Fire(32, 8, 16), Fire(32, 8, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
                                      Fire(32, 16, 32), nn.Dropout(0.5), nn.Conv2d(64, 10, 1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())

        def forward(self, x):
            return self.body(x)

    class ResNetStem(nn.Module):  # torchvision ResNet stem + layer1 + head, at 64x64
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(cbr(3, 16, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
            self.layer = nn.Sequential(Bottleneck(16, 8, 32, 2))
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layer(self.stem(x)), (1, 1)), 1))

    class UNet(nn.Module):
        def __init__(self, up="nearest", c=8):
            super().__init__()
            self.e1, self.e2 = nn.Sequential(cbr(1, c), cbr(c, c)), nn.Sequential(cbr(c, 2 * c), cbr(2 * c, 2 * c))
            self.mid = nn.Sequential(cbr(2 * c, 4 * c), cbr(4 * c, 4 * c))
            self.mode = up
            if up == "transpose":
                self.u2, self.u1 = nn.ConvTranspose2d(4 * c, 4 * c, 2, 2), nn.ConvTranspose2d(2 * c, 2 * c, 2, 2)
            self.d2 = nn.Sequential(cbr(6 * c, 2 * c), cbr(2 * c, 2 * c))
            self.d1 = nn.Sequential(cbr(3 * c, c), cbr(c, c))
            self.out = nn.Conv2d(c, 1, 1)

        def _up(self, x, k):
            if self.mode == "transpose":
                return (self.u2 if k == 2 else self.u1)(x)
            return F.interpolate(x, scale_factor=2, mode=self.mode,
                                 **({"align_corners": False} if self.mode == "bilinear" else {}))

        def forward(self, x):
            a = self.e1(x)
            b = self.e2(F.max_pool2d(a, 2))
            m = self.mid(F.max_pool2d(b, 2))
            b = self.d2(torch.cat([self._up(m, 2), b], 1))
            return torch.sigmoid(self.out(self.d1(torch.cat([self._up(b, 1), a], 1))))

    class ConvAutoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(cbr(1, 8, 3, 2, bn=False), cbr(8, 16, 3, 2, bn=False))
            self.dec = nn.Sequential(nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(8, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())

        def forward(self, x):
            return self.dec(self.enc(x))

    class Espcn(nn.Module):  # sub-pixel super resolution
        def __init__(self, r=2):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.Tanh(), nn.Conv2d(16, 8, 3, padding=1),
                                      nn.Tanh(), nn.Conv2d(8, r * r, 3, padding=1), nn.PixelShuffle(r))

        def forward(self, x):
            return self.body(x)

    class Conv1dEcg(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv1d(1, 16, 7, padding=3), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
                                      nn.Conv1d(16, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(2),
                                      nn.Conv1d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                                      nn.Linear(32, 5))

        def forward(self, x):
            return self.body(x)

    class Tcn(nn.Module):  # dilated causal convolutions with residuals
        def __init__(self, c=16):
            super().__init__()
            self.inp = nn.Conv1d(4, c, 1)
            self.convs = nn.ModuleList(nn.Conv1d(c, c, 3, dilation=d) for d in (1, 2, 4))
            self.fc = nn.Linear(c, 3)

        def forward(self, x):
            x = self.inp(x)
            for conv in self.convs:
                d = conv.dilation[0]
                x = x + F.relu(conv(F.pad(x, (2 * d, 0))))
            return self.fc(x[:, :, -1])

    class Conv1dSeparable(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv1d(6, 6, 5, padding=2, groups=6), nn.Conv1d(6, 24, 1), nn.ReLU(),
                                      nn.Conv1d(24, 24, 5, stride=2, padding=2, groups=24), nn.Conv1d(24, 32, 1),
                                      nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(32, 6))

        def forward(self, x):
            return self.body(x)

    class Attention(nn.Module):  # hand-written single-head attention over particles
        def __init__(self, d_in=8, d=16, classes=5):
            super().__init__()
            self.emb, self.q, self.k, self.v = nn.Linear(d_in, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
            self.fc, self.scale = nn.Linear(d, classes), d ** -0.5

        def forward(self, x):
            h = F.relu(self.emb(x))
            a = torch.softmax(self.q(h) @ self.k(h).transpose(1, 2) * self.scale, dim=-1)
            return self.fc((a @ self.v(h)).mean(1))

    class MhaBlock(nn.Module):
        def __init__(self, d=16, heads=2):
            super().__init__()
            self.mha = nn.MultiheadAttention(d, heads, batch_first=True)
            self.norm = nn.LayerNorm(d)

        def forward(self, x):
            return self.norm(x + self.mha(x, x, x, need_weights=False)[0])

    class Encoder(nn.Module):
        def __init__(self, d=16, heads=2, ff=32, classes=5):
            super().__init__()
            self.emb = nn.Linear(8, d)
            self.enc = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
            self.fc = nn.Linear(d, classes)

        def forward(self, x):
            return self.fc(self.enc(self.emb(x)).mean(1))

    class DeepSets(nn.Module):  # particle-flow network: per-particle MLP, sum pooling, MLP
        def __init__(self):
            super().__init__()
            self.phi = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
            self.rho = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))

        def forward(self, x):
            return self.rho(self.phi(x).sum(1))

    class Mixer(nn.Module):  # MLP-Mixer block: token mixing through a transpose
        def __init__(self, tokens=16, d=8):
            super().__init__()
            self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.tok = nn.Sequential(nn.Linear(tokens, 32), nn.GELU(), nn.Linear(32, tokens))
            self.ch = nn.Sequential(nn.Linear(d, 16), nn.GELU(), nn.Linear(16, d))

        def forward(self, x):
            x = x + self.tok(self.n1(x).transpose(1, 2)).transpose(1, 2)
            return x + self.ch(self.n2(x))

    class Rnn(nn.Module):
        def __init__(self, kind):
            super().__init__()
            self.rnn = getattr(nn, kind)(6, 16, batch_first=True)
            self.fc = nn.Linear(16, 3)

        def forward(self, x):
            return self.fc(self.rnn(x)[0][:, -1])

    class Normalized(nn.Module):  # preprocessing kept in the graph: (x - mean) / std
        def __init__(self, body, c=3):
            super().__init__()
            self.body = body
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406][:c]).view(1, c, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225][:c]).view(1, c, 1, 1))

        def forward(self, x):
            return self.body((x - self.mean) / self.std)

    class DenseResidual(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp, self.a, self.b, self.out = nn.Linear(16, 32), nn.Linear(32, 32), nn.Linear(32, 32), nn.Linear(32, 5)

        def forward(self, x):
            h = F.relu(self.inp(x))
            h = F.relu(h + self.b(F.relu(self.a(h))))
            return self.out(h)

    return dict(torch=torch, nn=nn, F=F, cbr=cbr, Mlp=Mlp, LeNet=LeNet, BasicBlock=BasicBlock, ResNet8=ResNet8,
                DsCnn=DsCnn, MobileNetV1=MobileNetV1, SqueezeExcite=SqueezeExcite, InvertedResidual=InvertedResidual,
                MobileNetV2Tiny=MobileNetV2Tiny, ShuffleNetTiny=ShuffleNetTiny, SqueezeNetTiny=SqueezeNetTiny,
                ResNetStem=ResNetStem, UNet=UNet, ConvAutoencoder=ConvAutoencoder, Espcn=Espcn, Conv1dEcg=Conv1dEcg,
                Tcn=Tcn, Conv1dSeparable=Conv1dSeparable, Attention=Attention, MhaBlock=MhaBlock, Encoder=Encoder,
                DeepSets=DeepSets, Mixer=Mixer, Rnn=Rnn, Normalized=Normalized, DenseResidual=DenseResidual)


_NETS: dict | None = None


def N():
    global _NETS
    if _NETS is None:
        _NETS = nets()
    _torch()  # every model starts from the same seed
    return _NETS


# ---------------------------------------------------------------------------------------------
# the float torch models: (name, factory, input shape, how, quirks, input_range, exporter options)
def _float_models():
    n = N()
    nn = n["nn"]
    return [
        ("jet_mlp", lambda: n["Mlp"]([16, 64, 32, 32, 5], out=nn.Softmax(1)), (1, 16),
         "jet-tagging MLP 16-64-32-32-5, ReLU, Softmax", "", "normal", {}),
        ("jet_mlp_bn", lambda: _bake_bn_stats(n["Mlp"]([16, 64, 32, 32, 5], bn=True), (1, 16)), (1, 16),
         "jet MLP with BatchNorm1d after every hidden Linear", "BatchNormalization on 2-D tensors", "normal", {}),
        ("jet_mlp_dynamo", lambda: n["Mlp"]([16, 64, 32, 32, 5], out=nn.Softmax(1)), (1, 16),
         "jet MLP exported with the dynamo exporter", "torch.export graph, opset 18+, Gemm", "normal",
         {"dynamo": True}),
        ("jet_mlp_fixed_batch", lambda: n["Mlp"]([16, 64, 32, 32, 5]), (1, 16),
         "jet MLP logits, batch fixed at 1", "static batch dimension 1", "normal", {"dynamic_batch": False}),
        ("jet_mlp_opset9", lambda: n["Mlp"]([16, 64, 32, 32, 5], act=nn.LeakyReLU), (1, 16),
         "jet MLP with LeakyReLU at opset 9", "old opset (Gemm-9)", "normal", {"opset": 9}),
        ("unsw_mlp", lambda: n["Mlp"]([593, 64, 64, 64, 1], out=nn.Sigmoid()), (1, 593),
         "UNSW-NB15-style network-intrusion MLP 593-64-64-64-1, Sigmoid", "", "uniform01", {}),
        ("toyadmos_autoencoder", lambda: _bake_bn_stats(n["Mlp"]([640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640],
                                                                 bn=True), (1, 640)), (1, 640),
         "MLPerf Tiny anomaly-detection dense autoencoder 640-128x4-8-128x4-640 with BN", "", "normal", {}),
        ("mlp_tanh_sigmoid", lambda: nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 32), nn.Sigmoid(),
                                                   nn.Linear(32, 5)), (1, 16),
         "MLP with Tanh and Sigmoid hidden activations", "", "normal", {}),
        ("mlp_elu_selu_silu", lambda: nn.Sequential(nn.Linear(16, 32), nn.ELU(), nn.Linear(32, 32), nn.SELU(),
                                                    nn.Linear(32, 32), nn.SiLU(), nn.Linear(32, 5)), (1, 16),
         "MLP with ELU, SELU, SiLU", "SiLU exports as Sigmoid*Mul", "normal", {}),
        ("mlp_gelu_layernorm", lambda: nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.GELU(), nn.Linear(32, 5)),
         (1, 16), "MLP with LayerNorm and GELU (transformer feed-forward style)",
         "LayerNorm decomposed at opset 13 (ReduceMean/Sub/Pow/Sqrt/Div), GELU as Erf", "normal", {}),
        ("mlp_gelu_layernorm_dynamo", lambda: nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.GELU(),
                                                            nn.Linear(32, 5)), (1, 16),
         "the same, dynamo exporter", "LayerNormalization and Gelu ops (opset 18+)", "normal", {"dynamo": True}),
        ("mlp_hardswish_softplus", lambda: nn.Sequential(nn.Linear(16, 32), nn.Hardswish(), nn.Linear(32, 32),
                                                         nn.Softplus(), nn.Linear(32, 32), nn.Hardsigmoid(),
                                                         nn.Linear(32, 5), nn.LogSoftmax(1)), (1, 16),
         "MLP with HardSwish, Softplus, HardSigmoid, LogSoftmax", "", "normal", {}),
        ("mlp_relu6_prelu", lambda: nn.Sequential(nn.Linear(16, 32), nn.ReLU6(), nn.Linear(32, 32), nn.PReLU(32),
                                                  nn.Linear(32, 5)), (1, 16),
         "MLP with ReLU6 (Clip) and per-channel PReLU", "", "normal", {}),
        ("mlp_dense_residual", lambda: n["DenseResidual"](), (1, 16),
         "MLP with a residual Add between dense layers", "", "normal", {}),
        ("lenet5_mnist", lambda: n["LeNet"](), (1, 1, 28, 28),
         "LeNet-5 on 28x28: Conv5x5-MaxPool x2, FC 120-84-10, view() flatten", "Reshape with a computed shape",
         "uniform01", {}),
        ("lenet5_mnist_dynamo", lambda: n["LeNet"](), (1, 1, 28, 28),
         "LeNet-5, dynamo exporter", "opset 18+", "uniform01", {"dynamo": True}),
        ("cifar_vgg_small", lambda: nn.Sequential(n["cbr"](3, 16), n["cbr"](16, 16), nn.MaxPool2d(2), n["cbr"](16, 32),
                                                  n["cbr"](32, 32), nn.MaxPool2d(2), nn.Flatten(),
                                                  nn.Linear(32 * 8 * 8, 10)), (1, 3, 32, 32),
         "VGG-style CIFAR CNN: Conv-BN-ReLU x2, MaxPool, x2, Dense", "", "normal", {}),
        ("resnet8_cifar", lambda: _bake_bn_stats(n["ResNet8"](), None), (1, 3, 32, 32),
         "MLPerf Tiny ResNet-8 (CIFAR-10): three BasicBlocks, 1x1 strided shortcuts, global average pool",
         "residual Add", "normal", {}),
        ("dscnn_kws", lambda: _bake_bn_stats(n["DsCnn"](), None), (1, 1, 49, 10),
         "MLPerf Tiny DS-CNN keyword spotting on 49x10 MFCC: 10x4 stride-2 conv, 4 depthwise-separable blocks",
         "asymmetric kernel and padding", "normal", {}),
        ("mobilenetv1_025_vww", lambda: _bake_bn_stats(n["MobileNetV1"](), None), (1, 3, 96, 96),
         "MLPerf Tiny visual wake words MobileNetV1 alpha 0.25 on 96x96", "13 depthwise-separable blocks",
         "uniform01", {}),
        ("mobilenetv2_tiny", lambda: _bake_bn_stats(n["MobileNetV2Tiny"](), None), (1, 3, 32, 32),
         "MobileNetV2 inverted-residual blocks (expand 1x1, depthwise 3x3, ReLU6, project, residual)",
         "ReLU6 as Clip", "normal", {}),
        ("mobilenetv3_tiny", lambda: _bake_bn_stats(n["MobileNetV2Tiny"](n["nn"].Hardswish, se=True), None),
         (1, 3, 32, 32), "MobileNetV3-style blocks: HardSwish and squeeze-excitation with HardSigmoid gate",
         "broadcast Mul by a per-channel gate", "normal", {}),
        ("se_resnet_block", lambda: nn.Sequential(n["cbr"](3, 16), n["SqueezeExcite"](16), n["BasicBlock"](16, 16)),
         (1, 3, 16, 16), "squeeze-excitation (GlobalAveragePool, 1x1 convs, Sigmoid, Mul) + BasicBlock", "",
         "normal", {}),
        ("shufflenet_tiny", lambda: n["ShuffleNetTiny"](), (1, 3, 32, 32),
         "ShuffleNetV2 blocks: chunk/Split, channel shuffle (Reshape-Transpose-Reshape), Concat, mean()",
         "5-D Reshape/Transpose", "normal", {}),
        ("squeezenet_tiny", lambda: n["SqueezeNetTiny"](), (1, 3, 32, 32),
         "SqueezeNet Fire modules (Concat of 1x1 and 3x3 expands), ceil_mode MaxPool, Dropout",
         "ceil_mode pooling", "normal", {}),
        ("resnet_stem_bottleneck", lambda: n["ResNetStem"](), (1, 3, 64, 64),
         "torchvision ResNet stem (7x7 stride 2 pad 3, MaxPool 3x3/2 pad 1) + a strided Bottleneck", "", "normal", {}),
        ("imagenet_normalized_cnn", lambda: n["Normalized"](nn.Sequential(n["cbr"](3, 8, bn=False), nn.MaxPool2d(2),
                                                                          nn.Flatten(), nn.Linear(8 * 8 * 8, 4))),
         (1, 3, 16, 16), "CNN with (x - mean) / std preprocessing in the graph", "Sub/Div by per-channel constants",
         "uniform01", {}),
        ("unet_nearest", lambda: n["UNet"]("nearest"), (1, 1, 32, 32),
         "U-Net, 2 levels, nearest Resize upsampling, Concat skips, Sigmoid", "Resize (nearest, scales)",
         "uniform01", {}),
        ("unet_bilinear", lambda: n["UNet"]("bilinear"), (1, 1, 32, 32),
         "U-Net with bilinear Resize (align_corners=False)", "Resize linear, half_pixel", "uniform01", {}),
        ("unet_convtranspose", lambda: n["UNet"]("transpose"), (1, 1, 32, 32),
         "U-Net upsampling with ConvTranspose2d(k2, s2)", "ConvTranspose", "uniform01", {}),
        ("unet_nearest_opset9", lambda: n["UNet"]("nearest"), (1, 1, 16, 16),
         "U-Net, nearest upsampling at opset 9", "Upsample op (deprecated)", "uniform01", {"opset": 9}),
        ("conv_autoencoder", lambda: n["ConvAutoencoder"](), (1, 1, 28, 28),
         "convolutional autoencoder: strided convs, ConvTranspose with output_padding, Sigmoid", "ConvTranspose",
         "uniform01", {}),
        ("espcn_pixelshuffle", lambda: n["Espcn"](), (1, 1, 16, 16),
         "ESPCN super resolution: Tanh convs, PixelShuffle x2", "DepthToSpace (CRD)", "uniform01", {}),
        ("cnn_dilated_grouped", lambda: nn.Sequential(n["cbr"](4, 16, 3, d=2), n["cbr"](16, 16, 3, g=4),
                                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)),
         (1, 4, 16, 16), "dilated conv (d=2) and grouped conv (groups=4)", "", "normal", {}),
        ("cnn_asym_strides", lambda: nn.Sequential(nn.Conv2d(2, 8, (1, 3), (1, 2), (0, 1)), nn.ReLU(),
                                                   nn.Conv2d(8, 8, (3, 1), (2, 1), (1, 0)), nn.ReLU(),
                                                   nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
                                                   nn.Flatten(), nn.Linear(8 * 4 * 4, 3)),
         (1, 2, 16, 16), "1x3 / 3x1 kernels with asymmetric strides, ceil-mode AvgPool", "", "normal", {}),
        ("cnn_avgpool_pad", lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AvgPool2d(3, 2, 1),
                                                  nn.Conv2d(8, 8, 3), nn.LeakyReLU(0.1), nn.MaxPool2d(2, 2),
                                                  nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8, 3)),
         (1, 3, 20, 20), "AvgPool with padding (count_include_pad), LeakyReLU, global max pool", "", "normal", {}),
        ("cnn_adaptive_pool_2x2", lambda: nn.Sequential(n["cbr"](3, 8, bn=False), nn.AdaptiveAvgPool2d((2, 2)),
                                                        nn.Flatten(), nn.Linear(32, 4)),
         (1, 3, 16, 16), "AdaptiveAvgPool2d((2,2)) exported as AveragePool", "", "normal", {}),
        ("cnn_prelu_elu", lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.PReLU(8), nn.Conv2d(8, 8, 3),
                                                nn.ELU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 3)),
         (1, 3, 16, 16), "conv with per-channel PReLU and ELU", "PRelu slope shaped (C,1,1)", "normal", {}),
        ("conv1d_ecg", lambda: _bake_bn_stats(n["Conv1dEcg"](), None), (1, 1, 128),
         "1-D CNN for ECG-style signals: Conv1d-BN-ReLU-MaxPool x2, global average pool, Dense", "", "normal", {}),
        ("conv1d_tcn", lambda: n["Tcn"](), (1, 4, 64),
         "temporal convolutional network: dilated causal Conv1d (d=1,2,4), left Pad, residual Adds, last step",
         "Pad + Slice (Gather) of the last time step", "normal", {}),
        ("conv1d_separable", lambda: n["Conv1dSeparable"](), (1, 6, 64),
         "depthwise-separable 1-D CNN (IMU activity style), strided, global max pool", "", "normal", {}),
        ("attention_particles", lambda: n["Attention"](), (1, 16, 8),
         "single-head self-attention over 16 particles x 8 features, mean pooling, classifier",
         "batched MatMul of two activations, Softmax on the last axis", "normal", {}),
        ("mha_layernorm", lambda: n["MhaBlock"](), (1, 8, 16),
         "nn.MultiheadAttention (2 heads) + residual + LayerNorm", "head split Reshape/Transpose; opset 14 "
         "(scaled_dot_product_attention needs it)", "normal", {"opset": 14}),
        ("transformer_encoder", lambda: n["Encoder"](), (1, 8, 8),
         "nn.TransformerEncoderLayer d=16, 2 heads, ff 32 + mean + classifier", "opset 14", "normal", {"opset": 14}),
        ("transformer_encoder_dynamo", lambda: n["Encoder"](), (1, 8, 8),
         "the same, dynamo exporter", "opset 18+, LayerNormalization", "normal", {"dynamo": True}),
        ("deepsets_particles", lambda: n["DeepSets"](), (1, 16, 3),
         "particle-flow / Deep Sets: per-particle MLP on (batch, 16, 3), sum pooling, MLP", "ReduceSum over set",
         "normal", {}),
        ("mlp_mixer_block", lambda: n["Mixer"](), (1, 16, 8),
         "MLP-Mixer block: LayerNorm, token-mixing MLP through Transpose, channel MLP, GELU", "", "normal", {}),
        ("lstm_small", lambda: n["Rnn"]("LSTM"), (1, 10, 6),
         "LSTM(6, 16) over 10 steps + Dense on the last step", "LSTM op", "normal", {}),
        ("gru_small", lambda: n["Rnn"]("GRU"), (1, 10, 6),
         "GRU(6, 16) over 10 steps + Dense on the last step", "GRU op", "normal", {}),
    ]


def _bake_all(model):
    return _bake_bn_stats(model, None)


def _float_factory(name):
    return next(f for (n, f, *_rest) in _float_models() if n == name)


FLOAT_NAMES = ["jet_mlp", "jet_mlp_bn", "jet_mlp_dynamo", "jet_mlp_fixed_batch", "jet_mlp_opset9", "unsw_mlp",
               "toyadmos_autoencoder", "mlp_tanh_sigmoid", "mlp_elu_selu_silu", "mlp_gelu_layernorm",
               "mlp_gelu_layernorm_dynamo", "mlp_hardswish_softplus", "mlp_relu6_prelu", "mlp_dense_residual",
               "lenet5_mnist", "lenet5_mnist_dynamo", "cifar_vgg_small", "resnet8_cifar", "dscnn_kws",
               "mobilenetv1_025_vww", "mobilenetv2_tiny", "mobilenetv3_tiny", "se_resnet_block", "shufflenet_tiny",
               "squeezenet_tiny", "resnet_stem_bottleneck", "imagenet_normalized_cnn", "unet_nearest",
               "unet_bilinear", "unet_convtranspose", "unet_nearest_opset9", "conv_autoencoder",
               "espcn_pixelshuffle", "cnn_dilated_grouped", "cnn_asym_strides", "cnn_avgpool_pad",
               "cnn_adaptive_pool_2x2", "cnn_prelu_elu", "conv1d_ecg", "conv1d_tcn", "conv1d_separable",
               "attention_particles", "mha_layernorm", "transformer_encoder", "transformer_encoder_dynamo",
               "deepsets_particles", "mlp_mixer_block", "lstm_small", "gru_small"]


def _float_entry(name):
    return next(e for e in _float_models() if e[0] == name)


# the table needs torch to build; registering by name keeps `--list` free of torch imports
def _register_float_lazily():
    for name in FLOAT_NAMES:
        def make(path, name=name):
            _n, factory, shape, how, quirks, rng, opts = _float_entry(name)
            export(factory(), shape, path, **opts)
            exporter = "dynamo" if opts.get("dynamo") else f"TorchScript, opset {opts.get('opset', 13)}"
            return {"how": f"torch.onnx.export ({exporter}): {how}", "quirks": quirks, "input_range": rng}
        corpus(name, "torch", "torch.onnx.export")(make)


_register_float_lazily()


# ---------------------------------------------------------------------------------------------
# pruned models (magnitude pruning baked into the weights)
def _pruned(factory, amount, structured=False):
    torch = _torch()
    from torch.nn.utils import prune

    model = factory()
    for m in model.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv1d)):
            if structured:
                prune.ln_structured(m, "weight", amount=amount, n=1, dim=0)
            else:
                prune.l1_unstructured(m, "weight", amount=amount)
            prune.remove(m, "weight")
    return model


@corpus("jet_mlp_pruned80", "torch", "jet MLP, torch.nn.utils.prune.l1_unstructured 80% of every Linear, baked",
        quirks="80% zero weights")
def _(path):
    export(_pruned(_float_factory("jet_mlp"), 0.8), (1, 16), path)


@corpus("unsw_mlp_pruned90", "torch", "UNSW MLP, l1_unstructured 90% of every Linear", quirks="90% zero weights",
        input_range="uniform01")
def _(path):
    export(_pruned(_float_factory("unsw_mlp"), 0.9), (1, 593), path)


@corpus("cifar_vgg_channel_pruned", "torch", "VGG-style CNN, ln_structured 50% of output channels (zero filters)",
        quirks="whole zero filters, BN after them")
def _(path):
    export(_bake_all(_pruned(_float_factory("cifar_vgg_small"), 0.5, structured=True)), (1, 3, 32, 32), path)


@corpus("lenet5_pruned70", "torch", "LeNet-5, l1_unstructured 70% of conv and dense weights", quirks="70% zeros",
        input_range="uniform01")
def _(path):
    export(_pruned(_float_factory("lenet5_mnist"), 0.7), (1, 1, 28, 28), path)


# ---------------------------------------------------------------------------------------------
# briefly trained on scikit-learn's digits (8x8 grey images, 1797 samples)
def _digits():
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def _train(model, x, y, epochs=60):
    torch = _torch()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        for i in range(0, len(x), 256):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[i:i + 256]), yt[i:i + 256]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(xt).argmax(1) == yt).float().mean())
    return model, acc


@corpus("digits_mlp_trained", "trained", "MLP 64-64-32-10 with BatchNorm1d trained 30 epochs (Adam) on sklearn digits",
        weights="trained (sklearn digits)", input_range="uniform01")
def _(path):
    n = N()
    x, y = _digits()
    model, acc = _train(n["Mlp"]([64, 64, 32, 10], bn=True), x, y, epochs=30)
    export(model, (1, 64), path)
    return {"weights": f"trained on sklearn digits, train accuracy {acc:.3f}"}


@corpus("digits_cnn_trained", "trained", "CNN Conv3x3(8)-ReLU-MaxPool-Conv3x3(16)-ReLU-Dense on 1x8x8 sklearn digits, trained 20 epochs (Adam)",
        weights="trained (sklearn digits)", input_range="uniform01")
def _(path):
    n = N()
    nn = n["nn"]
    x, y = _digits()
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Linear(16 * 4 * 4, 10))
    model, acc = _train(model, x.reshape(-1, 1, 8, 8), y, epochs=20)
    export(model, (1, 1, 8, 8), path)
    return {"weights": f"trained on sklearn digits, train accuracy {acc:.3f}"}


# ---------------------------------------------------------------------------------------------
# onnxruntime quantize_static of torch exports
QDQ_VARIANTS = [
    # name, float model, options, how, quirks
    ("jet_mlp_qdq_s8_pertensor", "jet_mlp", {}, "QDQ int8 activations and weights, per tensor", ""),
    ("jet_mlp_qdq_u8s8", "jet_mlp", {"act": "QUInt8"}, "QDQ uint8 activations, int8 weights", "asymmetric zero points"),
    ("jet_mlp_qoperator", "jet_mlp", {"fmt": "QOperator", "act": "QUInt8"},
     "QOperator format (QLinearMatMul / QGemm / QLinearAdd)", "QOperator"),
    ("jet_mlp_qdq_s16", "jet_mlp", {"act": "QInt16", "weight": "QInt8"}, "QDQ int16 activations, int8 weights",
     "16-bit QuantizeLinear"),
    ("jet_mlp_qdq_s4w", "jet_mlp", {"weight": "QInt4"}, "QDQ int8 activations, int4 weights", "INT4 DequantizeLinear"),
    ("unsw_mlp_qdq", "unsw_mlp", {}, "QDQ int8 per tensor", ""),
    ("toyadmos_autoencoder_qdq", "toyadmos_autoencoder", {"per_channel": True}, "QDQ int8, per-channel weights", ""),
    ("lenet5_qdq_perchannel", "lenet5_mnist", {"per_channel": True}, "QDQ int8, per-channel weights",
     "per-channel DequantizeLinear axis 0"),
    ("lenet5_qoperator", "lenet5_mnist", {"fmt": "QOperator", "act": "QUInt8"}, "QOperator (QLinearConv, MaxPool on uint8)",
     "QOperator"),
    ("resnet8_qdq", "resnet8_cifar", {"per_channel": True}, "QDQ int8, per-channel weights", "QDQ around residual Add"),
    ("resnet8_qoperator", "resnet8_cifar", {"fmt": "QOperator", "act": "QUInt8"}, "QOperator (QLinearConv, QLinearAdd, "
     "QLinearGlobalAveragePool)", "QOperator contrib ops"),
    ("dscnn_kws_qdq_u8", "dscnn_kws", {"act": "QUInt8", "per_channel": True}, "QDQ uint8 activations, per-channel int8 "
     "weights", ""),
    ("mobilenetv1_025_vww_qdq", "mobilenetv1_025_vww", {"per_channel": True}, "QDQ int8 per-channel", ""),
    ("mobilenetv2_tiny_qdq", "mobilenetv2_tiny", {}, "QDQ int8 per tensor", "QDQ around Clip"),
    ("unet_nearest_qdq", "unet_nearest", {}, "QDQ int8 per tensor", "QDQ around Resize and Concat"),
    ("conv1d_ecg_qdq", "conv1d_ecg", {"per_channel": True}, "QDQ int8 per-channel", ""),
    ("attention_particles_qdq", "attention_particles", {}, "QDQ int8 per tensor", "QDQ on activation x activation MatMul"),
    ("transformer_encoder_qdq", "transformer_encoder", {}, "QDQ int8 per tensor", ""),
    ("cifar_vgg_qdq_sym", "cifar_vgg_small", {"ActivationSymmetric": True, "WeightSymmetric": True},
     "QDQ int8, symmetric activations", "zero points 0"),
]


for _name, _base, _opts, _how, _quirks in QDQ_VARIANTS:
    def _make(path, base=_base, opts=_opts):
        _n, factory, shape, _h, _q, rng, eopts = _float_entry(base)
        with tempfile.TemporaryDirectory() as tmp:
            fp = Path(tmp) / "float.onnx"
            export(factory(), shape, fp, **eopts)
            qdq(fp, path, shape, input_range=rng, **opts)
        return {"input_range": rng}
    corpus(_name, "qdq", f"onnxruntime.quantization.quantize_static (min-max, 64 random calibration samples) of "
                         f"{_base}: {_how}", quirks=_quirks)(_make)


@corpus("jet_mlp_dynamic_quant", "qdq", "onnxruntime.quantization.quantize_dynamic of jet_mlp (int8 weights)",
        quirks="DynamicQuantizeLinear / MatMulInteger")
def _(path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        fp = Path(tmp) / "float.onnx"
        export(_float_factory("jet_mlp")(), (1, 16), fp)
        with _quiet():
            quantize_dynamic(str(fp), str(path), weight_type=QuantType.QInt8)


# ---------------------------------------------------------------------------------------------
# Brevitas
def _bnn_pynq(name, shape):
    def make(path):
        import brevitas_examples.bnn_pynq.models as zoo
        model = getattr(zoo, name)(pretrained=False)
        _calibrate_brevitas(model, shape)
        brevitas_export(model, shape, path)
    return make


for _name, _shape, _how in [
        ("tfc_1w1a", (1, 1, 28, 28), "FINN TFC 64-64-64 binary MLP on MNIST"),
        ("tfc_1w2a", (1, 1, 28, 28), "TFC, binary weights, 2-bit activations"),
        ("tfc_2w2a", (1, 1, 28, 28), "TFC, 2-bit weights and activations"),
        ("sfc_2w2a", (1, 1, 28, 28), "SFC 256x3 MLP, 2-bit"),
        ("lfc_1w1a", (1, 1, 28, 28), "LFC 1024x3 binary MLP"),
        ("cnv_1w1a", (1, 3, 32, 32), "FINN CNV (VGG-like CIFAR-10 CNN) binary"),
        ("cnv_1w2a", (1, 3, 32, 32), "CNV binary weights, 2-bit activations"),
        ("cnv_2w2a", (1, 3, 32, 32), "CNV 2-bit")]:
    corpus(f"brevitas_{_name}", "brevitas", f"brevitas_examples.bnn_pynq.models.{_name}(pretrained=False), "
           f"export_qonnx: {_how}", weights="random (seeded; activation scales from 8 random batches)",
           quirks="BipolarQuant / Quant, BatchNormalization, input scaling Mul/Sub/Div",
           input_range="uniform01")(_bnn_pynq(_name, _shape))


def _brevitas_nets():
    torch = _torch()
    nn = torch.nn
    import brevitas.nn as qnn
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint,
                                Int8WeightPerChannelFloat, Uint8ActPerTensorFixedPoint)

    def qlin(i, o, w, **kw):
        return qnn.QuantLinear(i, o, bias=True, weight_bit_width=w, **kw)

    class JetMlp(nn.Module):
        def __init__(self, w=6, a=6, po2=False, bn=False):
            super().__init__()
            wq = {"weight_quant": Int8WeightPerTensorFixedPoint} if po2 else {}
            aq = {"act_quant": Uint8ActPerTensorFixedPoint} if po2 else {}
            iq = {"act_quant": Int8ActPerTensorFixedPoint} if po2 else {}
            layers = [qnn.QuantIdentity(bit_width=8, return_quant_tensor=True, **iq)]
            for i, o in [(16, 64), (64, 32), (32, 32)]:
                layers += [qlin(i, o, w, **wq)] + ([nn.BatchNorm1d(o)] if bn else []) + \
                          [qnn.QuantReLU(bit_width=a, return_quant_tensor=True, **aq)]
            layers += [qlin(32, 5, w, **wq)]
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x)

    class UnswMlp(nn.Module):  # FINN's cybersecurity example (UNSW-NB15), 2-bit
        def __init__(self):
            super().__init__()
            layers = []
            for i, o in [(593, 64), (64, 64), (64, 64)]:
                layers += [qnn.QuantLinear(i, o, bias=True, weight_bit_width=2), nn.BatchNorm1d(o), nn.Dropout(0.5),
                           qnn.QuantReLU(bit_width=2)]
            layers += [qnn.QuantLinear(64, 1, bias=True, weight_bit_width=2)]
            self.body = nn.Sequential(qnn.QuantIdentity(bit_width=2), *layers)

        def forward(self, x):
            return self.body(x)

    class Cnn(nn.Module):
        def __init__(self, w=4, a=4, per_channel=False, avg=False):
            super().__init__()
            wq = {"weight_quant": Int8WeightPerChannelFloat} if per_channel else {}
            self.body = nn.Sequential(
                qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
                qnn.QuantConv2d(1, 8, 3, padding=1, weight_bit_width=w, **wq), nn.BatchNorm2d(8),
                qnn.QuantReLU(bit_width=a, return_quant_tensor=True), nn.MaxPool2d(2),
                qnn.QuantConv2d(8, 16, 3, padding=1, weight_bit_width=w, **wq), nn.BatchNorm2d(16),
                qnn.QuantReLU(bit_width=a, return_quant_tensor=True),
                qnn.TruncAvgPool2d(2, bit_width=a) if avg else nn.MaxPool2d(2),
                nn.Flatten(), qlin(16 * 7 * 7, 10, w))

        def forward(self, x):
            return self.body(x)

    class DwBlock(nn.Module):  # MobileNet-style depthwise-separable, 4-bit
        def __init__(self, c=16):
            super().__init__()
            self.body = nn.Sequential(
                qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
                qnn.QuantConv2d(3, c, 3, 2, 1, weight_bit_width=4, bias=False), nn.BatchNorm2d(c),
                qnn.QuantReLU(bit_width=4, return_quant_tensor=True),
                qnn.QuantConv2d(c, c, 3, 1, 1, groups=c, weight_bit_width=4, bias=False), nn.BatchNorm2d(c),
                qnn.QuantReLU(bit_width=4, return_quant_tensor=True),
                qnn.QuantConv2d(c, 2 * c, 1, weight_bit_width=4, bias=False), nn.BatchNorm2d(2 * c),
                qnn.QuantReLU(bit_width=4, return_quant_tensor=True),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), qlin(2 * c, 10, 4))

        def forward(self, x):
            return self.body(x)

    class Residual(nn.Module):  # both branches re-quantized by one shared QuantIdentity before the Add
        def __init__(self, c=8):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.c0 = qnn.QuantConv2d(3, c, 3, padding=1, weight_bit_width=4)
            self.r0 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.c1 = qnn.QuantConv2d(c, c, 3, padding=1, weight_bit_width=4)
            self.r1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.c2 = qnn.QuantConv2d(c, c, 3, padding=1, weight_bit_width=4)
            self.shared = qnn.QuantIdentity(bit_width=6, return_quant_tensor=True)
            self.out = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.fc = qlin(c, 4, 4)

        def forward(self, x):
            x = self.r0(self.c0(self.inp(x)))
            y = self.c2(self.r1(self.c1(x)))
            z = self.out(self.shared(x) + self.shared(y))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(z, 1), 1))

    class Conv1dQ(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                qnn.QuantIdentity(bit_width=8, return_quant_tensor=True),
                qnn.QuantConv1d(2, 16, 5, padding=2, weight_bit_width=6), qnn.QuantReLU(bit_width=6, return_quant_tensor=True),
                nn.MaxPool1d(2),
                qnn.QuantConv1d(16, 16, 3, padding=1, weight_bit_width=6), qnn.QuantReLU(bit_width=6, return_quant_tensor=True),
                nn.Flatten(), qlin(16 * 16, 4, 6))

        def forward(self, x):
            return self.body(x)

    class HardTanhBinary(nn.Module):  # binarized activations by QuantHardTanh (BipolarQuant in QONNX)
        def __init__(self):
            super().__init__()
            from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
            wq = {"weight_quant": SignedBinaryWeightPerTensorConst}
            self.body = nn.Sequential(
                qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
                qnn.QuantLinear(32, 64, bias=False, **wq), nn.BatchNorm1d(64),
                qnn.QuantHardTanh(act_quant=SignedBinaryActPerTensorConst),
                qnn.QuantLinear(64, 64, bias=False, **wq), nn.BatchNorm1d(64),
                qnn.QuantHardTanh(act_quant=SignedBinaryActPerTensorConst),
                qnn.QuantLinear(64, 10, bias=False, **wq))

        def forward(self, x):
            return self.body(x)

    return dict(JetMlp=JetMlp, UnswMlp=UnswMlp, Cnn=Cnn, DwBlock=DwBlock, Residual=Residual, Conv1dQ=Conv1dQ,
                HardTanhBinary=HardTanhBinary)


BREVITAS = [
    # name, net, kwargs, input shape, how, quirks, qcdq
    ("brevitas_jet_mlp_w6a6", "JetMlp", {}, (1, 16), "jet MLP, 8-bit input, 6-bit weights and activations, float scales",
     "non-power-of-two scales", False),
    ("brevitas_jet_mlp_w4a4_po2", "JetMlp", {"w": 4, "a": 4, "po2": True}, (1, 16),
     "jet MLP, 4-bit, power-of-two (fixed-point) scales", "po2 scales", False),
    ("brevitas_jet_mlp_w3a3_bn", "JetMlp", {"w": 3, "a": 3, "bn": True}, (1, 16),
     "jet MLP, 3-bit, BatchNorm1d between QuantLinear and QuantReLU", "BatchNormalization between Quant nodes", False),
    ("brevitas_jet_mlp_w8a8_qcdq", "JetMlp", {"w": 8, "a": 8}, (1, 16),
     "jet MLP 8-bit exported with export_onnx_qcdq", "QuantizeLinear/Clip/DequantizeLinear", True),
    ("brevitas_unsw_mlp_w2a2", "UnswMlp", {}, (1, 593), "FINN cybersecurity-style UNSW-NB15 MLP, 2-bit, BN, Dropout",
     "2-bit input quantizer", False),
    ("brevitas_mnist_cnn_w4a4", "Cnn", {}, (1, 1, 28, 28), "CNN QuantConv2d-BN-QuantReLU-MaxPool x2, 4-bit", "", False),
    ("brevitas_mnist_cnn_w8a8_perchannel", "Cnn", {"w": 8, "a": 8, "per_channel": True}, (1, 1, 28, 28),
     "the CNN with 8-bit per-channel float weight scales", "per-channel Quant scale", False),
    ("brevitas_mnist_cnn_w4a4_truncavgpool", "Cnn", {"avg": True}, (1, 1, 28, 28),
     "the CNN with TruncAvgPool2d", "Trunc op after AveragePool", False),
    ("brevitas_mnist_cnn_w8a8_qcdq", "Cnn", {"w": 8, "a": 8}, (1, 1, 28, 28), "the CNN 8-bit, export_onnx_qcdq",
     "QCDQ", True),
    ("brevitas_dw_separable_w4a4", "DwBlock", {}, (1, 3, 32, 32),
     "MobileNet-style depthwise-separable block, 4-bit, no bias + BN", "depthwise Conv with Quant weights", False),
    ("brevitas_residual_w4a4", "Residual", {}, (1, 3, 16, 16),
     "residual block whose branches share one QuantIdentity before the Add", "Add of two Quant outputs", False),
    ("brevitas_conv1d_w6a6", "Conv1dQ", {}, (1, 2, 32), "1-D CNN, 6-bit", "", False),
    ("brevitas_binary_mlp_hardtanh", "HardTanhBinary", {}, (1, 32),
     "binary MLP with QuantHardTanh activations and constant-scale binary weights", "BipolarQuant activations", False),
]

for _name, _net, _kw, _shape, _how, _quirks, _qcdq in BREVITAS:
    def _make(path, net=_net, kw=_kw, shape=_shape, qcdq=_qcdq):
        model = _brevitas_nets()[net](**kw)
        _bake_bn_stats(model, shape)
        _calibrate_brevitas(model, shape)
        brevitas_export(model, shape, path, qcdq=qcdq)
    corpus(_name, "brevitas", f"brevitas {'export_onnx_qcdq' if _qcdq else 'export_qonnx'}: {_how}",
           weights="random (seeded; activation scales from 8 random batches)", quirks=_quirks)(_make)


# ---------------------------------------------------------------------------------------------
# QONNX exports after qonnx's own transformations (what FINN / hls4ml users feed on)
def _qonnx_transformed(base, channels_last):
    def make(path):
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.util.cleanup import cleanup_model

        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.onnx"
            spec = next(s for s in SPECS if s.name == base)
            spec.make(raw)
            with _quiet():
                m = cleanup_model(ModelWrapper(str(raw)))
                if channels_last:
                    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
                    m = m.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
                    m = cleanup_model(m)
            m.save(str(path))
    return make


for _name, _base, _cl in [("qonnx_clean_jet_mlp_w6a6", "brevitas_jet_mlp_w6a6", False),
                          ("qonnx_clean_cnv_2w2a", "brevitas_cnv_2w2a", False),
                          ("qonnx_chlast_mnist_cnn_w4a4", "brevitas_mnist_cnn_w4a4", True),
                          ("qonnx_chlast_dw_separable_w4a4", "brevitas_dw_separable_w4a4", True),
                          ("qonnx_chlast_conv1d_w6a6", "brevitas_conv1d_w6a6", True)]:
    corpus(_name, "qonnx", f"{_base} through qonnx.util.cleanup.cleanup_model"
           + (" and ConvertToChannelsLastAndClean(make_input_channels_last=True)" if _cl else ""),
           weights="random (seeded)", quirks="channels_last Conv/MaxPool domain, NHWC input" if _cl else
           "constant-folded, shapes inferred", input_range="uniform01" if "cnv" in _base else "normal")(
        _qonnx_transformed(_base, _cl))


# ---------------------------------------------------------------------------------------------
# shipped ONNX files
SHIPPED = [
    ("qonnx_residual_block", ("qonnx", "data", "onnx", "residual_block_clean.onnx"),
     "qonnx test data: Conv-Relu-MaxPool residual block on 1x200x200", "large image", "normal"),
    ("qonnx_sdp_attention", ("qonnx", "data", "onnx", "matmul_update", "sdp.onnx"),
     "qonnx test data: scaled dot-product attention, three (64,1,128) inputs", "no batch axis (L, N, E)", "normal"),
    ("qonnx_eltwise_chanlast", ("qonnx", "data", "onnx", "eltwise_chanlast_testcase.onnx"),
     "qonnx test data: Quant, Conv, element-wise Mul/Add, 3x224x224", "large image", "normal"),
    ("qonnx_espcn_subpixel_float", ("qonnx", "data", "onnx", "bsd300x3-espcn", "subpixel", "float_model.onnx"),
     "qonnx test data: float ESPCN with DepthToSpace on 3x4x4", "", "uniform01"),
    ("qonnx_espcn_subpixel_quant", ("qonnx", "data", "onnx", "bsd300x3-espcn", "subpixel", "quant_model.onnx"),
     "qonnx test data: quantized ESPCN (Brevitas QONNX) with DepthToSpace on 3x128x128", "BN after Quant", "uniform01"),
    ("qonnx_espcn_resize_float", ("qonnx", "data", "onnx", "bsd300x3-espcn", "nn_resize", "float_model.onnx"),
     "qonnx test data: float ESPCN with nearest Resize on 3x128x128", "", "uniform01"),
    ("qonnx_espcn_resize_quant", ("qonnx", "data", "onnx", "bsd300x3-espcn", "nn_resize", "quant_model.onnx"),
     "qonnx test data: quantized ESPCN with nearest Resize on 3x128x128", "", "uniform01"),
    ("ort_mul_1", ("onnxruntime", "datasets", "mul_1.onnx"), "onnxruntime datasets: Mul by a constant, (3,2)",
     "no batch axis", "normal"),
    ("ort_sigmoid", ("onnxruntime", "datasets", "sigmoid.onnx"), "onnxruntime datasets: Sigmoid on (3,4,5)",
     "", "normal"),
    ("ort_logreg_iris", ("onnxruntime", "datasets", "logreg_iris.onnx"),
     "onnxruntime datasets: scikit-learn logistic regression (ai.onnx.ml LinearClassifier, ZipMap)",
     "ai.onnx.ml domain, sequence-of-maps output", "normal"),
]

for _name, _parts, _how, _quirks, _rng in SHIPPED:
    corpus(_name, "shipped", _how, weights="shipped", quirks=_quirks, input_range=_rng)(
        lambda path, parts=_parts: _copy(_site(*parts), path))


# ---------------------------------------------------------------------------------------------
# scikit-learn through skl2onnx
def _skl(name, build, data, **conv):
    def make(path):
        import numpy as np
        from skl2onnx import to_onnx

        x, y = data()
        model = build().fit(x, y)
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")
            onx = to_onnx(model, x[:1].astype(np.float32), target_opset={"": 13, "ai.onnx.ml": 3}, **conv)
        path.write_bytes(onx.SerializeToString())
        return {"weights": f"trained on sklearn {data.__name__.strip('_')}, train score {model.score(x, y):.3f}"}
    return make


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler
    d = load_breast_cancer()
    return StandardScaler().fit_transform(d.data), d.target


def _diabetes():
    from sklearn.datasets import load_diabetes
    d = load_diabetes()
    return d.data * 10, d.target / 100.0


def _iris():
    from sklearn.datasets import load_iris
    d = load_iris()
    return d.data, d.target


def _sk(cls, **kw):
    def build():
        import importlib
        mod, name = cls.rsplit(".", 1)
        return getattr(importlib.import_module(mod), name)(**kw)
    return build


def _pipeline():
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), MLPClassifier((32, 16), max_iter=400, random_state=0))


_NOZIP = {"options": {"zipmap": False}}
for _name, _build, _data, _conv, _how in [
        ("skl_mlp_classifier_digits", _sk("sklearn.neural_network.MLPClassifier", hidden_layer_sizes=(32,), max_iter=300,
                                          random_state=0), _digits, _NOZIP, "MLPClassifier(32) on digits, zipmap off"),
        ("skl_mlp_regressor_diabetes", _sk("sklearn.neural_network.MLPRegressor", hidden_layer_sizes=(16, 16),
                                           max_iter=800, random_state=0), _diabetes, {}, "MLPRegressor(16,16)"),
        ("skl_logreg_breast_cancer", _sk("sklearn.linear_model.LogisticRegression", max_iter=500), _breast_cancer,
         _NOZIP, "LogisticRegression, zipmap off"),
        ("skl_linear_regression_diabetes", _sk("sklearn.linear_model.LinearRegression"), _diabetes, {},
         "LinearRegression (ai.onnx.ml LinearRegressor)"),
        ("skl_linear_svc_iris", _sk("sklearn.svm.LinearSVC", random_state=0), _iris, {}, "LinearSVC (label + scores)"),
        ("skl_pipeline_scaler_mlp_iris", _pipeline, _iris, _NOZIP, "StandardScaler + MLPClassifier(32,16) pipeline")]:
    corpus(_name, "sklearn", f"skl2onnx.to_onnx: {_how}", weights="trained",
           quirks="ai.onnx.ml ops, label + probabilities outputs", input_range="normal")(_skl(_name, _build, _data, **_conv))


# ---------------------------------------------------------------------------------------------
# Keras 3 (torch backend): channels-last layers
def _keras(build, shape):
    def make(path):
        import numpy as np
        import keras

        keras.utils.set_random_seed(SEED)
        model = build(keras)
        model(np.random.default_rng(SEED).normal(size=(2,) + tuple(shape)).astype("float32"))
        with _quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.export(str(path), format="onnx", verbose=False)
    return make


def _k_mlp(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((16,)), L.Dense(64, activation="relu"), L.Dense(32, activation="relu"),
                             L.Dense(32, activation="relu"), L.Dense(5, activation="softmax")])


def _k_cnn(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(),
                             L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                             L.Dense(10, activation="softmax")])


def _k_bn_cnn(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(8, 3, padding="same", use_bias=False),
                             L.BatchNormalization(), L.Activation("relu"), L.AveragePooling2D(2),
                             L.Conv2D(16, 3, padding="same"), L.Activation("relu"), L.GlobalAveragePooling2D(),
                             L.Dense(4)])


def _k_sep(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((32, 32, 3)), L.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
                             L.SeparableConv2D(16, 3, padding="same", activation="relu"),
                             L.DepthwiseConv2D(3, padding="same"), L.Conv2D(16, 1, activation="relu"),
                             L.GlobalMaxPooling2D(), L.Dense(10)])


def _k_conv1d(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((64, 3)), L.Conv1D(16, 5, padding="same", activation="relu"),
                             L.MaxPooling1D(2), L.Conv1D(16, 3, activation="tanh"), L.GlobalAveragePooling1D(),
                             L.Dense(3)])


def _k_upsample(keras):
    L = keras.layers
    inp = keras.Input((16, 16, 1))
    a = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = L.Conv2D(16, 3, padding="same", activation="relu")(L.MaxPooling2D()(a))
    u = L.UpSampling2D()(b)
    out = L.Conv2D(1, 1, activation="sigmoid")(L.Concatenate()([u, a]))
    return keras.Model(inp, out)


for _name, _build, _shape, _how, _rng in [
        ("keras_jet_mlp", _k_mlp, (16,), "Dense 64-32-32-5 ReLU/Softmax", "normal"),
        ("keras_mnist_cnn_nhwc", _k_cnn, (28, 28, 1), "Conv2D-MaxPool x2, Flatten, Dense Softmax (NHWC input)",
         "uniform01"),
        ("keras_bn_cnn_nhwc", _k_bn_cnn, (16, 16, 3), "Conv2D-BN-ReLU, AveragePooling2D, GlobalAveragePooling2D",
         "normal"),
        ("keras_separable_nhwc", _k_sep, (32, 32, 3), "SeparableConv2D, DepthwiseConv2D, GlobalMaxPooling2D", "normal"),
        ("keras_conv1d_nwc", _k_conv1d, (64, 3), "Conv1D, MaxPooling1D, GlobalAveragePooling1D (NWC input)", "normal"),
        ("keras_unet_upsampling_nhwc", _k_upsample, (16, 16, 1), "U-Net-style UpSampling2D + Concatenate skip",
         "uniform01")]:
    corpus(_name, "keras", f"keras 3 (torch backend) model.export(format='onnx'): {_how}",
           quirks="channels-last input, Transposes around every convolution" if len(_shape) > 1 else "",
           input_range=_rng)(_keras(_build, _shape))


# ---------------------------------------------------------------------------------------------
def describe(path: Path) -> dict:
    import onnx

    m = onnx.load(str(path))
    g = m.graph
    inits = {i.name for i in g.initializer}

    def vi(v):
        t = v.type.tensor_type
        return {"name": v.name, "shape": [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                                          for d in t.shape.dim], "dtype": onnx.TensorProto.DataType.Name(t.elem_type)}
    ops = Counter((n.domain + "." if n.domain not in ("", "ai.onnx") else "") + n.op_type for n in g.node)
    data = path.read_bytes()
    return {"inputs": [vi(v) for v in g.input if v.name not in inits], "outputs": [vi(v) for v in g.output],
            "ops": dict(ops.most_common()), "opset": {(o.domain or "ai.onnx"): o.version for o in m.opset_import},
            "n_params": int(sum(int(__import__("numpy").prod(i.dims)) for i in g.initializer)),
            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "reference": "qonnx" if any(n.domain in QONNX_DOMAINS for n in g.node) else "onnxruntime"}


def dev_hashes() -> set[str]:
    try:
        return {e["sha256"] for e in json.loads((DEV_MODELS / "MANIFEST.json").read_text())}
    except (OSError, ValueError, KeyError):
        return set()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "build" / "corpus"))
    ap.add_argument("--only", default="", help="make only the models whose name contains this")
    ap.add_argument("--list", action="store_true", help="list the model names and exit")
    args = ap.parse_args()
    if args.list:
        for s in SPECS:
            print(f"{s.name:40s} {s.source}")
        return 0
    warnings.simplefilter("ignore")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mpath = out / "manifest.json"
    old = {}
    if args.only and mpath.exists():  # a partial run updates the manifest it finds
        try:
            doc = json.loads(mpath.read_text())
            old = {e["name"]: e for e in doc.get("models", [])}
        except ValueError:
            pass
    dev = dev_hashes()
    models, skipped = dict(old), []
    t_all = time.time()
    for spec in SPECS:
        if args.only not in spec.name:
            continue
        path = out / f"{spec.name}.onnx"
        t0 = time.time()
        try:
            extra = spec.make(path) or {}
            entry = {"name": spec.name, "file": path.name, "source": spec.source, "how": spec.how,
                     "weights": spec.weights, "input_range": spec.input_range, "quirks": spec.quirks}
            entry.update(extra)
            entry.update(describe(path))
            if entry["sha256"] in dev:
                path.unlink()
                skipped.append({"name": spec.name, "reason": "identical to a dev model"})
                models.pop(spec.name, None)
                print(f"skip  {spec.name}: identical to a dev model", flush=True)
                continue
            models[spec.name] = entry
            print(f"ok    {spec.name:40s} {time.time() - t0:5.1f} s  {entry['bytes']:>9,d} B  "
                  f"{', '.join(f'{k}:{v}' for k, v in list(entry['ops'].items())[:6])}", flush=True)
        except BaseException as e:  # noqa: BLE001 - a generator that fails is noted, never stops the run
            if isinstance(e, KeyboardInterrupt):
                raise
            models.pop(spec.name, None)
            line = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]
            skipped.append({"name": spec.name, "reason": line})
            print(f"FAIL  {spec.name}: {line}", flush=True)
            if os.environ.get("CORPUS_VERBOSE"):
                traceback.print_exc()
            with contextlib.suppress(OSError):
                path.unlink()
    order = [s.name for s in SPECS]
    doc = {"generated_by": "benchmarks/corpus/collect.py", "models": sorted(models.values(), key=lambda e: order.index(
        e["name"]) if e["name"] in order else len(order)), "skipped": skipped}
    mpath.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\n{len(models)} models in {out} ({len(skipped)} skipped), {time.time() - t_all:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
