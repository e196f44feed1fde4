"""The intermediate representation: Graph, Node, Tensor."""
from .graph import Graph, Node, Tensor, to_ir_layout, to_onnx_layout

__all__ = ["Graph", "Node", "Tensor", "to_ir_layout", "to_onnx_layout"]
