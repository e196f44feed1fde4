"""A compiled design: the typed graph for one target, plus what is derived from it.

A Design is saved into the output folder (design/design.json + design/constants.npz) so the
simulator, `qcompile csim OUT` and search tools can reload exactly what was emitted.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .cost.target import BoardPackage, Target
from .errors import CompileError, OutputError, first_line
from .ir import Graph, Node, Tensor
from .ir.graph import Layout
from .numerics import FixedType
from .ops import REGISTRY
from .resources import read_json

FORMAT_VERSION = 1


@dataclasses.dataclass
class Design:
    graph: Graph
    target: Target
    model_path: str = ""
    options: dict = dataclasses.field(default_factory=dict)   # JSON-able summary of the options
    # compile_model's arguments, in memory only (calibration data included): compiler.prune
    # compiles the model again with them
    compile_args: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    _simulator: object = dataclasses.field(default=None, repr=False)
    _estimator: object = dataclasses.field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.graph.name

    def simulator(self):
        from .sim import Simulator

        if self._simulator is None:
            self._simulator = Simulator(self.graph)
        return self._simulator

    def estimator(self):
        if self._estimator is None:
            from .cost.estimator import Estimator

            self._estimator = Estimator(self.graph, self.target)
        return self._estimator

    def __getstate__(self):
        """Pickled (Dask moves designs between workers) without the simulator and estimator:
        each process rebuilds its own (they hold closures, and onnxruntime sessions)."""
        return {**self.__dict__, "_simulator": None, "_estimator": None}

    def invalidate(self) -> None:
        """Call after changing the graph in place (e.g. a different reuse factor)."""
        self._simulator = None
        self._estimator = None

    # ---- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        nodes = []
        for node in self.graph.nodes():
            fields = {}
            for f in dataclasses.fields(node.op):
                fields[f.name] = _encode(getattr(node.op, f.name), f"{node.name}/{f.name}", arrays)
            nodes.append({"name": node.name, "kind": node.kind, "inputs": node.inputs, "outputs": node.outputs,
                          "source": node.source, "fields": fields})
        tensors = [{"name": t.name, "shape": list(t.shape), "type": t.type.cpp() if t.type else None,
                    "model_typed": t.model_typed, "scale": _encode(t.scale, f"tensor/{t.name}/scale", arrays),
                    "fold": t.fold}
                   for t in self.graph.tensors.values()]
        doc = {"format": FORMAT_VERSION, "name": self.graph.name, "model_path": self.model_path,
               "options": self.options, "inputs": self.graph.inputs, "outputs": self.graph.outputs,
               "tensors": tensors, "nodes": nodes,
               "input_quantizers": {k: {f.name: _encode(getattr(q, f.name), f"inq/{k}/{f.name}", arrays)
                                        for f in dataclasses.fields(q)}
                                    for k, q in self.graph.input_quantizers.items()},
               "input_layouts": [_encode_layout(v, f"layout/in{i}", arrays)
                                 for i, v in enumerate(self.graph.input_layouts)],
               "output_layouts": [_encode_layout(v, f"layout/out{i}", arrays)
                                  for i, v in enumerate(self.graph.output_layouts)],
               "whole_tensor": self.graph.whole_tensor,
               "target": {k: v for k, v in dataclasses.asdict(self.target).items()}}
        (folder / "design.json").write_text(json.dumps(doc, indent=1))
        np.savez_compressed(folder / "constants.npz", **arrays)

    @classmethod
    def load(cls, folder: Path) -> "Design":
        folder = Path(folder)
        if (folder / "design" / "design.json").is_file():  # an output folder
            folder = folder / "design"
        path = folder / "design.json"
        if not path.is_file():
            raise OutputError(f"{folder}: not a qcompile output folder (no design.json)")
        doc = read_json(path, "design file", OutputError)
        try:
            arrays = dict(np.load(folder / "constants.npz"))
        except (OSError, ValueError) as e:
            raise OutputError(f"{folder}: design files are unreadable ({e})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_VERSION:
            found = doc.get("format") if isinstance(doc, dict) else None
            raise OutputError(f"{folder}: design format {found} is not {FORMAT_VERSION}; recompile")
        try:
            design = cls._from_doc(doc, arrays)
            design.simulator()   # every op rebuilt, every tensor it reads typed: the design is whole
        except CompileError:
            raise
        except Exception as e:   # a hand-edited or damaged design.json
            raise OutputError(f"{folder}: design files are inconsistent ({type(e).__name__}: {first_line(e)}); "
                              "recompile the model") from None
        return design

    @classmethod
    def _from_doc(cls, doc: dict, arrays: dict) -> "Design":
        g = Graph(name=doc["name"])
        for t in doc["tensors"]:
            g.add_tensor(Tensor(t["name"], tuple(t["shape"]), FixedType.parse(t["type"]) if t["type"] else None,
                                t["model_typed"], _decode(t["scale"], arrays), t.get("fold")))
        g.inputs, g.outputs = list(doc["inputs"]), list(doc["outputs"])
        g.whole_tensor = bool(doc.get("whole_tensor", False))
        g.input_quantizers = {k: REGISTRY["Quant"](**{f: _decode(v, arrays) for f, v in q.items()})
                              for k, q in doc.get("input_quantizers", {}).items()}
        if "input_layouts" in doc:
            g.input_layouts = [_decode_layout(v, arrays) for v in doc["input_layouts"]]
            g.output_layouts = [_decode_layout(v, arrays) for v in doc["output_layouts"]]
        else:  # written before layouts were recorded: the default channels-last one
            g.input_layouts = [Layout.channels_last(tuple(v)) for v in doc["onnx_input_shapes"]]
            g.output_layouts = [Layout.channels_last(tuple(v)) for v in doc["onnx_output_shapes"]]
        for n in doc["nodes"]:
            op = REGISTRY[n["kind"]](**{k: _decode(v, arrays) for k, v in n["fields"].items()})
            g.add_node(Node(n["name"], op, n["inputs"], n["outputs"], n.get("source", "")))
        target = dict(doc["target"])
        if target.get("package"):
            target["package"] = BoardPackage(**target["package"])
        return cls(graph=g, target=Target(**target), model_path=doc.get("model_path", ""),
                   options=doc.get("options", {}))


def _encode_layout(lay: Layout, key: str, arrays: dict) -> dict:
    return {"onnx_shape": list(lay.onnx_shape), "perm": None if lay.perm is None else list(lay.perm),
            "order": None if lay.order is None else _encode(np.asarray(lay.order), key, arrays)}


def _decode_layout(doc: dict, arrays: dict) -> Layout:
    return Layout(tuple(doc["onnx_shape"]), None if doc["perm"] is None else tuple(doc["perm"]),
                  None if doc["order"] is None else _decode(doc["order"], arrays))


def _encode(value, key: str, arrays: dict):
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"array": key}
    if isinstance(value, FixedType):
        return {"fixed": value.cpp()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{key}/{i}", arrays) for i, v in enumerate(value)]
    return value


def _decode(value, arrays: dict):
    if isinstance(value, dict) and "array" in value:
        return arrays[value["array"]]
    if isinstance(value, dict) and "fixed" in value:
        return FixedType.parse(value["fixed"])
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value
