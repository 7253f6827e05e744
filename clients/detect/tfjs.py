"""Rewrites a TensorFlow.js graph model (``model.json`` + weight shards) for OpenCV's DNN module.

OpenCV reads ONNX but not TF.js, so the graph is rewritten, in memory, as a small ONNX model
(NHWC -> NCHW, TF kernels -> ONNX ``Conv`` weights) for
``cv2.dnn.readNetFromONNX``. Only the operations a MobileNet-style convolutional detector
uses are supported (convolutions with fused bias/ReLU, depthwise convolutions, element-wise
arithmetic with scalars, ReLU/ReLU6/sigmoid, global mean, channel concat, bilinear resize);
anything else raises :class:`UnsupportedGraphError` naming the operation, as does a weights
manifest naming anything but plain file names next to ``model.json`` or weights that do not fit
their files. The ONNX graph is built with the ``onnx`` package's helpers (nodes, initializers,
graph and model protos) and serialized for OpenCV. Checking that the files are the intended ones
(sha256) is the caller's job (:mod:`clients.detect.centernet`): :func:`graph_to_onnx` takes
contents already read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from onnx import NodeProto, TensorProto, helper, numpy_helper

#: ONNX operator set the rewritten graph declares (Clip takes min/max as inputs since 11).
ONNX_OPSET = 11
#: ONNX IR version the written model declares (IR 7 = ONNX 1.7, which OpenCV's importer reads).
ONNX_IR_VERSION = 7


class UnsupportedGraphError(ValueError):
    """The TF.js graph uses something this loader does not rewrite."""


# --- TF.js graph -> ONNX ---------------------------------------------------------------------


def weight_files(model: dict[str, Any]) -> list[str]:
    """The weight file names the model's ``weightsManifest`` lists, in order.

    Each must be a plain file name (no ``/``, ``\\``, ``..`` or NUL): the files are read from
    the model's own directory, and a manifest must not point the loader anywhere else."""
    manifest = model.get("weightsManifest")
    if not isinstance(manifest, list):
        raise UnsupportedGraphError("the model has no weightsManifest list")
    names: list[str] = []
    for group in manifest:
        paths = group.get("paths") if isinstance(group, dict) else None
        if not isinstance(paths, list):
            raise UnsupportedGraphError("a weightsManifest group has no paths list")
        for p in paths:
            if not _plain_name(p):
                raise UnsupportedGraphError(f"weightsManifest path {p!r} is not a plain file name")
            names.append(p)
    return names


def _plain_name(p: object) -> bool:
    return (
        isinstance(p, str)
        and p not in ("", ".")
        and ".." not in p
        and not any(c in p for c in "/\\\0")
    )


def read_weights(
    manifest: list[dict[str, Any]], files: Mapping[str, bytes]
) -> dict[str, npt.NDArray[Any]]:
    """The weights of a TF.js weights manifest (float32, float16-quantised float32, int32),
    from the contents of its weight files (``files``: name -> bytes)."""
    out: dict[str, npt.NDArray[Any]] = {}
    for group in manifest:
        blob = b"".join(files[p] for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            if any(d < 0 for d in shape):
                raise UnsupportedGraphError(f"weight {w['name']}: shape {shape}")
            n = int(np.prod(shape)) if shape else 1
            quant = w.get("quantization")
            if quant is not None and quant.get("dtype") == "float16":
                dtype, size = np.dtype(np.float16), 2
            elif quant is None and w["dtype"] in ("float32", "int32"):
                dtype, size = np.dtype(w["dtype"]), 4
            else:
                raise UnsupportedGraphError(f"weight {w['name']}: {w['dtype']} / {quant}")
            if off + size * n > len(blob):
                raise UnsupportedGraphError(
                    f"weight {w['name']} ends past the {len(blob)} bytes of {group['paths']}"
                )
            arr = np.frombuffer(blob, dtype, n, off)
            if size == 2:
                arr = arr.astype(np.float32)
            off += size * n
            out[w["name"]] = arr.reshape(shape)
        if off != len(blob):
            raise UnsupportedGraphError(f"weights use {off} of {len(blob)} bytes: wrong manifest")
    return out


class _Rewriter:
    def __init__(self, model: dict[str, Any], weights: dict[str, npt.NDArray[Any]]) -> None:
        self.nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
        self.w = weights
        self.onnx_nodes: list[NodeProto] = []
        self.inits: dict[str, TensorProto] = {}
        self.hw: dict[str, tuple[int, int]] = {}  # spatial size of each emitted tensor
        self.inputs: list[tuple[str, int, int]] = []  # name, channels, size

    def const(self, name: str, arr: npt.NDArray[Any]) -> str:
        """An initializer (float32, or int64 for integer arrays) named ``name``, added once."""
        if name not in self.inits:
            dtype = np.float32 if arr.dtype.kind == "f" else np.int64
            self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr, dtype), name)
        return name

    def node(self, op: str, inputs: Sequence[str], output: str, **attrs: Any) -> None:
        """An ONNX node named after its one output."""
        self.onnx_nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))

    def emit(self, name: str, size: int) -> None:
        if name in self.hw:
            return
        n = self.nodes[name]
        op: str = n["op"]
        attr: dict[str, Any] = n.get("attr", {})
        ins = [i.split(":")[0] for i in n.get("input", []) if not i.startswith("^")]
        data_ins = [i for i in ins if self.nodes[i]["op"] != "Const"]
        for i in data_ins:
            self.emit(i, size)
        if op == "Placeholder":
            dims = [int(d["size"]) for d in attr["shape"]["shape"]["dim"]]
            self.inputs.append((name, dims[3], size))
            self.hw[name] = (size, size)
        elif op in (
            "_FusedConv2D",
            "FusedDepthwiseConv2dNative",
            "DepthwiseConv2dNative",
            "Conv2D",
        ):
            self.conv(name, op, attr, ins)
        elif op in ("Mul", "Add", "Sub"):
            args = [i if i in data_ins else self.const(i, self.scalar(i)) for i in ins]
            self.node(op, args, name)
            self.hw[name] = max(self.hw[i] for i in data_ins)
        elif op in ("Relu", "Sigmoid", "Identity"):
            self.node(op, data_ins[:1], name)
            self.hw[name] = self.hw[data_ins[0]]
        elif op == "Relu6":
            lo = self.const("const:0", np.array(0.0, np.float32))
            hi = self.const("const:6", np.array(6.0, np.float32))
            self.node("Clip", [data_ins[0], lo, hi], name)
            self.hw[name] = self.hw[data_ins[0]]
        elif op == "Mean":
            if sorted(self.w[ins[1]].tolist()) != [1, 2] or not attr.get("keep_dims", {}).get("b"):
                raise UnsupportedGraphError(f"{name}: only a spatial mean with keep_dims")
            self.node("GlobalAveragePool", data_ins, name)
            self.hw[name] = (1, 1)
        elif op == "ConcatV2":
            if int(self.w[ins[-1]]) not in (3, -1):
                raise UnsupportedGraphError(f"{name}: only a channel concat")
            self.node("Concat", data_ins, name, axis=1)
            self.hw[name] = self.hw[data_ins[0]]
        elif op == "ResizeBilinear":
            if attr.get("align_corners", {}).get("b") or attr.get("half_pixel_centers", {}).get(
                "b"
            ):
                raise UnsupportedGraphError(f"{name}: only TF1-style bilinear resize")
            th, tw = (int(v) for v in self.w[ins[1]])
            h, w = self.hw[data_ins[0]]
            scales = self.const(name + ":scales", np.array([1, 1, th / h, tw / w], np.float32))
            roi = self.const("const:empty", np.zeros(0, np.float32))
            self.node(
                "Resize",
                [data_ins[0], roi, scales],
                name,
                mode="linear",
                coordinate_transformation_mode="asymmetric",
            )
            self.hw[name] = (th, tw)
        else:
            raise UnsupportedGraphError(f"{name}: TF.js operation {op} is not supported")

    def scalar(self, name: str) -> npt.NDArray[Any]:
        arr = self.w[name]
        if arr.size != 1:
            raise UnsupportedGraphError(f"{name}: only scalar constants in arithmetic")
        return np.asarray(arr, np.float32).reshape(())

    def conv(self, name: str, op: str, attr: dict[str, Any], ins: list[str]) -> None:
        x, wname = ins[0], ins[1]
        kernel = self.w[wname]
        if "Depthwise" in op:
            kh, kw, cin, mult = kernel.shape  # TF: H, W, in, multiplier
            onnx_w, group = kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw), cin
        else:
            onnx_w, group = kernel.transpose(3, 2, 0, 1), 1  # TF HWIO -> ONNX OIHW
        strides = [int(s) for s in attr["strides"]["list"]["i"]]
        dilations = [int(s) for s in attr.get("dilations", {}).get("list", {}).get("i", [1] * 4)]
        padding = base64.b64decode(attr["padding"]["s"]).decode()
        fused = [
            base64.b64decode(s).decode()
            for s in attr.get("fused_ops", {}).get("list", {}).get("s", [])
        ]
        if (
            strides[1] != strides[2]
            or dilations != [1, 1, 1, 1]
            or padding not in ("SAME", "VALID")
        ):
            raise UnsupportedGraphError(
                f"{name}: strides {strides} dilations {dilations} {padding}"
            )
        if [f for f in fused if f not in ("BiasAdd", "Relu")] or (fused and fused[0] != "BiasAdd"):
            raise UnsupportedGraphError(f"{name}: fused ops {fused}")
        stride = strides[1]
        kh, kw = int(onnx_w.shape[2]), int(onnx_w.shape[3])
        h, w = self.hw[x]
        if padding == "SAME":  # TF pads the extra pixel at the end, as ONNX SAME_UPPER
            oh, ow = -(-h // stride), -(-w // stride)
            ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - w, 0)
            pads = [ph // 2, pw // 2, ph - ph // 2, pw - pw // 2]
        else:
            oh, ow, pads = (h - kh) // stride + 1, (w - kw) // stride + 1, [0, 0, 0, 0]
        args = [x, self.const(wname + ":oihw", onnx_w)]
        if "BiasAdd" in fused:
            args.append(self.const(ins[2], self.w[ins[2]]))
        out = name + ":conv" if "Relu" in fused else name
        self.node(
            "Conv",
            args,
            out,
            kernel_shape=[kh, kw],
            strides=[stride, stride],
            pads=pads,
            group=group,
        )
        if "Relu" in fused:
            self.node("Relu", [out], name)
        self.hw[name] = (oh, ow)


def to_onnx(model_json: Path, outputs: Sequence[str], size: int) -> bytes:
    """The subgraph of the TF.js model at ``model_json`` that computes ``outputs``, as an ONNX
    model taking one NCHW float input of ``size`` x ``size`` pixels."""
    model = json.loads(model_json.read_text())
    if not isinstance(model, dict):
        raise UnsupportedGraphError(f"{model_json}: not a TF.js graph model")
    files = {p: (model_json.parent / p).read_bytes() for p in weight_files(model)}
    return graph_to_onnx(model, files, outputs, size, model_json.stem)


def graph_to_onnx(
    model: dict[str, Any],
    files: Mapping[str, bytes],
    outputs: Sequence[str],
    size: int,
    name: str,
) -> bytes:
    """:func:`to_onnx` on a parsed ``model.json`` and its weight files' contents (name ->
    bytes, as :func:`weight_files` lists them), for a caller that has read (and checked) them."""
    if model.get("format") != "graph-model":
        raise UnsupportedGraphError(f"{name}: not a TF.js graph model")
    weights = read_weights(model["weightsManifest"], files)
    rw = _Rewriter(model, weights)
    for out in outputs:
        rw.emit(out, size)
    if len(rw.inputs) != 1:
        raise UnsupportedGraphError(f"{name}: expected one input, found {rw.inputs}")
    in_name, channels, _ = rw.inputs[0]
    float_ = TensorProto.FLOAT
    graph = helper.make_graph(
        rw.onnx_nodes,
        name,
        inputs=[helper.make_tensor_value_info(in_name, float_, [1, channels, size, size])],
        # output shapes are left symbolic: OpenCV infers them from the graph
        outputs=[
            helper.make_tensor_value_info(o, float_, ["d0", "d1", "d2", "d3"]) for o in outputs
        ],
        initializer=list(rw.inits.values()),
    )
    onnx_model = helper.make_model(
        graph,
        ir_version=ONNX_IR_VERSION,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
    )
    data: bytes = onnx_model.SerializeToString()
    return data
