"""Test inputs for the harnesses that compare designs with the model's reference executor
(benchmarks/corpus/run.py, compiler/validation/fuzz.py): what data each graph input gets,
drawn reproducibly, and made exact on the design's input grid. The compiler never imports
this module."""
from __future__ import annotations

import re

import numpy as np
import onnx


def input_kinds(model: onnx.ModelProto, names: list[str], default: str) -> list[str]:
    """The data each graph input gets: QONNX datatype annotations say integer or bipolar."""
    ann: dict[str, str] = {}
    for a in model.graph.quantization_annotation:
        for p in a.quant_parameter_tensor_names:
            if p.key != "finn_datatype":
                continue
            t = p.value.upper()
            hit = re.fullmatch(r"(U?)INT(\d+)", t)
            if hit and int(hit.group(2)) <= 32:
                bits = int(hit.group(2))
                ann[a.tensor_name] = f"int:0:{2 ** bits - 1}" if hit.group(1) else \
                    f"int:{-2 ** (bits - 1)}:{2 ** (bits - 1) - 1}"
            elif t == "BINARY":
                ann[a.tensor_name] = "int:0:1"
            elif t == "BIPOLAR":
                ann[a.tensor_name] = "bipolar"
    return [ann.get(n, default) for n in names]


def draw(rng: np.random.Generator, kind: str, shape, n: int) -> np.ndarray:
    """n samples: "normal" N(0, 1), "uniform01" U[0, 1), "int:LO:HI" integers in [LO, HI],
    "bipolar" {-1, +1}; float32 values (what the model's own executor takes), as float64."""
    size = (n,) + tuple(int(d) for d in shape)
    if kind.startswith("int:"):
        lo, hi = (int(v) for v in kind.split(":")[1:3])
        return rng.integers(lo, hi + 1, size=size).astype(np.float64)
    if kind == "bipolar":
        return rng.choice(np.array([-1.0, 1.0]), size=size)
    x = rng.random(size) if kind == "uniform01" else rng.normal(size=size)
    return x.astype(np.float32).astype(np.float64)


def snap(design, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Inputs made exactly representable in the design's input types, so that the reference
    and the design see the same numbers (a value a hair from a low-bit quantizer's rounding
    boundary would otherwise round differently in the two, and such flips compound)."""
    g = design.graph
    out = []
    for k, x in enumerate(xs):
        t = g.tensors[g.inputs[k]]
        if t.type is None or not np.all(np.asarray(t.scale) == 1.0):
            out.append(x)
        else:
            out.append(t.type.to_float(t.type.quantize(x)))
    return out
