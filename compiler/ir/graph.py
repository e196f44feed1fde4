"""The IR: a DAG of layer nodes joined by tensors. The only module that touches networkx.

Conventions
- Tensor shapes are per sample: the batch dimension is never stored (it is always free).
- Layout is channels-last: ONNX (N, C, *spatial) becomes (*spatial, C); a plain feature
  vector (N, C) becomes (C,).
- Constants (weights, biases, BN parameters) live inside the op that uses them, so every
  tensor in the graph is an activation flowing between layers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import networkx as nx
import numpy as np

from ..numerics import FixedType

if TYPE_CHECKING:  # pragma: no cover
    from ..ops.base import Op


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    type: FixedType | None = None      # None until formats are assigned
    # True when the model itself fixes this tensor's format (a quantizer, or exact
    # arithmetic on model-quantized inputs); such tensors are never narrowed by DFP.
    model_typed: bool = False
    # real value = fixed-point value * scale (1.0 except after non-power-of-two quantizers)
    scale: float | np.ndarray = 1.0
    # elements per beat of its stream (a divisor of the last axis; None: the whole last axis),
    # chosen by its producer (passes/assign_streams.py)
    fold: int | None = None

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))

    @property
    def channels(self) -> int:
        """Length of the last axis: the values of one stream item (pixel or vector)."""
        return self.shape[-1] if self.shape else 1

    @property
    def items(self) -> int:
        return self.size // self.channels

    @property
    def beat(self) -> int:
        """Elements per beat of the tensor's stream."""
        return self.fold or self.channels

    @property
    def beats(self) -> int:
        """Beats per inference."""
        return self.size // self.beat


@dataclass
class Node:
    name: str
    op: "Op"
    inputs: list[str]
    outputs: list[str]
    source: str = ""  # the model op(s) this node came from, for messages and reports

    @property
    def kind(self) -> str:
        return self.op.kind

    @property
    def label(self) -> str:
        """The op for messages: the IR kind, and the model op(s) it came from when they differ
        (a Gemm became a Dense, a Mul an Affine)."""
        if not self.source or self.source.split()[0] == self.kind:
            return self.kind
        return f"{self.kind}, from {self.source}"


@dataclass
class Graph:
    name: str = "model"
    tensors: dict[str, Tensor] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    # how the data of each graph input/output (same order as inputs/outputs) relates to the
    # model's tensor, to convert user data between the model's layout and the IR's
    input_layouts: list["Layout"] = field(default_factory=list)
    output_layouts: list["Layout"] = field(default_factory=list)
    # a model quantizer applied to a graph input on the host (input name -> Quant op): the
    # hardware input is then its integer codes
    input_quantizers: dict = field(default_factory=dict)
    # the model's tensors have no batch axis (a fixed-size model whose first axis means
    # something else, e.g. a sequence): one sample is the whole tensor, and data given in the
    # model's own shapes is one sample (frontend/whole_tensor.py)
    whole_tensor: bool = False
    _dag: nx.DiGraph = field(default_factory=nx.DiGraph, repr=False)

    @property
    def onnx_input_shapes(self) -> list[tuple[int, ...]]:
        return [lay.onnx_shape for lay in self.input_layouts]

    @property
    def onnx_output_shapes(self) -> list[tuple[int, ...]]:
        return [lay.onnx_shape for lay in self.output_layouts]

    def input_to_ir(self, x, k: int = 0, what: str = "input data") -> np.ndarray:
        """A batch for graph input k in the model's layout -> the IR layout (float64)."""
        return self.input_layouts[k].to_ir(x, self.tensors[self.inputs[k]].shape, what)

    def inputs_to_ir(self, data, what: str = "input data") -> list[np.ndarray]:
        """Data for every graph input, in the model's layout -> the IR layout, one array per
        input: an array (a single-input model), or a list/tuple in graph-input order or a dict
        {input name: array} (any model)."""
        from ..errors import DataError

        names = self.inputs
        if isinstance(data, dict):
            unknown = sorted(set(map(str, data)) - set(names))
            missing = [n for n in names if n not in data]
            if unknown or missing:
                raise DataError(f"{what}: the model's inputs are {', '.join(names)}"
                                + (f"; missing {', '.join(missing)}" if missing else "")
                                + (f"; unknown {', '.join(unknown)}" if unknown else ""))
            data = [data[n] for n in names]
        elif len(names) > 1 or (isinstance(data, (list, tuple)) and len(data) == 1
                                and isinstance(data[0], np.ndarray)):
            if not isinstance(data, (list, tuple)) or len(data) != len(names):
                raise DataError(f"{what}: the model has {len(names)} inputs ({', '.join(names)}); give one "
                                "array per input (a list in that order, or a dict by name)")
            data = list(data)
        else:
            data = [data]
        if self.whole_tensor:  # the model's own shapes: one sample
            data = [x[None] if np.shape(x) == tuple(lay.onnx_shape) else x
                    for x, lay in zip(data, self.input_layouts)]
        return [self.input_to_ir(x, k, what if len(names) == 1 else f"{what} for input {names[k]!r}")
                for k, x in enumerate(data)]

    def one_sample(self, data) -> bool:
        """Whole-tensor models: data given in the model's own shapes (one sample, no batch axis)."""
        if not self.whole_tensor:
            return False
        first = next(iter(data.values())) if isinstance(data, dict) else \
            data[0] if isinstance(data, (list, tuple)) and len(self.inputs) > 1 else data
        return np.shape(first) == tuple(self.input_layouts[0].onnx_shape)

    def output_to_onnx(self, y, k: int = 0) -> np.ndarray:
        """A batch of graph output k in the IR layout -> the model's layout."""
        return self.output_layouts[k].to_onnx(y)

    # ---- construction -----------------------------------------------------------
    def add_tensor(self, tensor: Tensor) -> Tensor:
        self.tensors[tensor.name] = tensor
        return tensor

    def add_node(self, node: Node) -> Node:
        if node.name in self._dag:
            raise ValueError(f"duplicate node name {node.name!r}")
        self._dag.add_node(node.name, node=node)
        self._rewire(node)
        return node

    def remove_node(self, name: str) -> Node:
        node = self.node(name)
        self._dag.remove_node(name)
        return node

    def bypass(self, name: str) -> None:
        """Remove a single-input, single-output node. When its input is private to it (one
        producer, no other reader), the producer now writes the node's output tensor, so a
        fused chain keeps the name of its last tensor (as the model calls it); otherwise
        the node's readers read its input. The surviving tensor keeps the input's record
        (type, scale)."""
        node = self.node(name)
        (src,), (dst,) = node.inputs, node.outputs
        prod = self.producer(src)
        private = prod is not None and self.private(src)
        self.remove_node(name)
        if not private:
            self.rename_tensor(dst, src)
            return
        record = self.tensors.pop(src)
        record.name = dst
        self.tensors[dst] = record
        prod.outputs = [dst if t == src else t for t in prod.outputs]
        self._rewire(prod)

    def rename_tensor(self, old: str, new: str) -> None:
        """Make every consumer (and the graph outputs) read `new` where they read `old`."""
        for n in self.consumers(old):
            n.inputs = [new if t == old else t for t in n.inputs]
            self._rewire(n)
        self.outputs = [new if t == old else t for t in self.outputs]
        if not any(old in n.outputs for n in self.nodes()) and old not in self.inputs:
            self.tensors.pop(old, None)

    def set_inputs(self, node: Node, inputs: list[str]) -> None:
        node.inputs = list(inputs)
        self._rewire(node)

    def _rewire(self, node: Node) -> None:
        for pred in list(self._dag.predecessors(node.name)):
            self._dag.remove_edge(pred, node.name)
        for t in node.inputs:
            prod = self.producer(t)
            if prod is not None:
                self._dag.add_edge(prod.name, node.name)
        for t in node.outputs:
            for cons in self.consumers(t):
                self._dag.add_edge(node.name, cons.name)

    # ---- queries ------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return self._dag.nodes[name]["node"]

    def nodes(self) -> list[Node]:
        """Nodes in a topological order (stable: ties keep insertion order)."""
        order = {n: i for i, n in enumerate(self._dag.nodes)}
        names = nx.lexicographical_topological_sort(self._dag, key=order.__getitem__)
        return [self._dag.nodes[n]["node"] for n in names]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes())

    def __len__(self) -> int:
        return self._dag.number_of_nodes()

    def producer(self, tensor: str) -> Node | None:
        for _, data in self._dag.nodes(data=True):
            if tensor in data["node"].outputs:
                return data["node"]
        return None  # a graph input (graphs are small; a scan is cheaper than an index to keep)

    def drop_unread(self, nodes) -> None:
        """Remove the nodes (in order) whose output nothing reads any more and is no graph
        output: a rewrite that took over an op's arithmetic leaves it to its other readers."""
        for n in nodes:
            if not self.consumers(n.outputs[0]) and n.outputs[0] not in self.outputs:
                self.remove_node(n.name)
                self.tensors.pop(n.outputs[0], None)

    def private(self, tensor: str) -> bool:
        """Exactly one node reads `tensor` and it is not a graph output: the precondition of
        every rewrite that changes or removes it (fusing into its producer, folding away)."""
        return tensor not in self.outputs and len(self.consumers(tensor)) == 1

    def consumers(self, tensor: str) -> list[Node]:
        return [d["node"] for _, d in self._dag.nodes(data=True) if tensor in d["node"].inputs]

    def successors(self, node: Node) -> list[Node]:
        return [self.node(n) for n in self._dag.successors(node.name)]

    def is_acyclic(self) -> bool:
        return nx.is_directed_acyclic_graph(self._dag)

    def in_tensors(self, node: Node) -> list[Tensor]:
        return [self.tensors[t] for t in node.inputs]

    def out_tensors(self, node: Node) -> list[Tensor]:
        return [self.tensors[t] for t in node.outputs]

    def stages(self) -> list[list[Node]]:
        """Nodes grouped by depth from the inputs (for reporting pipeline structure)."""
        return [[self.node(n) for n in gen] for gen in nx.topological_generations(self._dag)]


@dataclass
class Layout:
    """How the IR data of a graph input or output relates to the model's tensor, per sample:
    ir_flat = onnx.transpose(perm).ravel() (perm None: the same order), or, when `order` is
    given, ir_flat = onnx_flat[order]. The IR tensor's shape is the graph's business."""

    onnx_shape: tuple[int, ...]
    perm: tuple[int, ...] | None = None
    order: np.ndarray | None = None

    @classmethod
    def channels_last(cls, onnx_shape) -> "Layout":
        r = len(onnx_shape)
        return cls(tuple(onnx_shape), None if r <= 1 else tuple(range(1, r)) + (0,))

    def index(self) -> np.ndarray | None:
        """The gather index ir_flat = onnx_flat[index], or None when the order is the same."""
        if self.order is not None:
            return np.asarray(self.order)
        if self.perm is None or list(self.perm) == sorted(self.perm):
            return None
        n = int(np.prod(self.onnx_shape, dtype=np.int64))
        return np.arange(n).reshape(self.onnx_shape).transpose(self.perm).ravel()

    def to_ir(self, x, ir_shape, what: str = "input data") -> np.ndarray:
        from ..errors import DataError

        x = np.asarray(x, dtype=np.float64)
        n = int(np.prod(self.onnx_shape, dtype=np.int64))
        if x.ndim < 1 or (x.shape[1:] != tuple(self.onnx_shape) and (x.ndim != 2 or x.shape[1] != n)):
            raise DataError(f"{what}: shape {x.shape} does not match the model input "
                            f"(batch, {', '.join(map(str, self.onnx_shape))})")
        flat = x.reshape(len(x), n)
        idx = self.index()
        if idx is not None:
            flat = flat[:, idx]
        return flat.reshape((len(x),) + tuple(ir_shape))

    def to_onnx(self, y) -> np.ndarray:
        y = np.asarray(y)
        flat = y.reshape(len(y), -1)
        idx = self.index()
        if idx is not None:
            out = np.empty_like(flat)
            out[:, idx] = flat
            flat = out
        return flat.reshape((len(y),) + tuple(self.onnx_shape))


def to_ir_layout(x: np.ndarray, layout) -> np.ndarray:
    """Batch of data in the model's layout -> the IR's element order (shape: the ONNX shape
    permuted; prefer Graph.input_to_ir, which also knows the IR tensor's shape). A plain
    shape stands for the default channels-last layout."""
    if not isinstance(layout, Layout):
        layout = Layout.channels_last(tuple(layout))
    shape = layout.onnx_shape if layout.perm is None else tuple(layout.onnx_shape[p] for p in layout.perm)
    return layout.to_ir(x, shape)


def to_onnx_layout(x: np.ndarray, layout) -> np.ndarray:
    """Inverse of to_ir_layout."""
    if not isinstance(layout, Layout):
        layout = Layout.channels_last(tuple(layout))
    return layout.to_onnx(x)
