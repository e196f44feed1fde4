"""A scikit-learn MLPClassifier's weights as an ONNX model, written by hand with onnx.helper
(no skl2onnx): Gemm (+Relu on hidden layers, as sklearn applies it) per layer, Softmax at the
end, opset 13. Shared by make_digits_mlp.py and make_cancer_mlp.py."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp_model(name, coefs, biases, pre_nodes=(), pre_inits=(), first="input"):
    """coefs/biases: sklearn's coefs_/intercepts_ ((in, out) weights: Gemm's B, transB=0).
    pre_nodes/pre_inits: nodes that read "input" and end in tensor `first` (a standardization)."""
    nodes, inits, x = list(pre_nodes), list(pre_inits), first
    for i, (W, b) in enumerate(zip(coefs, biases), start=1):
        inits += [numpy_helper.from_array(np.asarray(W, np.float32), f"fc{i}.weight"),
                  numpy_helper.from_array(np.asarray(b, np.float32), f"fc{i}.bias")]
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [f"fc{i}_out"], name=f"fc{i}",
                                      transB=0))
        x = f"fc{i}_out"
        if i < len(coefs):
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}_out"], name=f"relu{i}"))
            x = f"relu{i}_out"
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], name="softmax", axis=-1))
    n_in, n_out = coefs[0].shape[0], coefs[-1].shape[1]
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_out])], initializer=inits)
    model = helper.make_model(graph, producer_name="qcompile-examples", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # opset 13 era; keeps older onnxruntime builds happy
    onnx.checker.check_model(model)
    return model
