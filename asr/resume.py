"""Resuming training: the checkpoint's weights must fit the model the config builds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from asr.errors import ConfigError

_SHAPE = r"torch\.Size\(\[([^\]]*)\]\)"
_SIZE_MISMATCH = re.compile(rf"size mismatch for ([^:]+): copying a param with shape {_SHAPE} .*? current model is {_SHAPE}")


def load_resumed_weights(model: nn.Module, weights: Mapping[str, torch.Tensor], checkpoint: Path) -> None:
    """model.load_state_dict(weights), or one ConfigError line when the checkpoint holds a model
    of another shape than the config asks for (torch itself lists every tensor that differs)."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise ConfigError(
            f"{checkpoint} holds a model of another shape than the config asks for ({mismatch_summary(str(exc))}): "
            "train into a new output_dir, or add resume=false to start afresh in this one"
        ) from None


def mismatch_summary(message: str) -> str:
    """'3 tensors of other sizes, e.g. x: [4, 2] in the checkpoint, [8, 2] in the config; 2
    missing' from the message of a failed load_state_dict."""
    sizes = _SIZE_MISMATCH.findall(message)
    parts = []
    if sizes:
        name, saved, wanted = sizes[0]
        parts.append(f"{len(sizes)} tensor(s) of other sizes, e.g. {name}: [{saved}] in the checkpoint, [{wanted}] in the config")
    for what in ("Missing", "Unexpected"):
        keys = re.search(rf"{what} key\(s\) in state_dict: (.*?)\.(?:\s|$)", message, re.DOTALL)
        if keys:
            parts.append(f"{keys[1].count(',') + 1} {what.lower()}")
    return "; ".join(parts) or " ".join(message.split())[:200]
