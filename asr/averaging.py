"""Averaging the weights of several models of one shape (e.g. the last epochs of a run),
which usually scores a little better than any one of them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from asr.errors import ModelError
from asr.model_dir import load_model_dir, save_model_dir


def average_models(sources: list[str | Path], target: str | Path) -> Path:
    """Write the element-wise mean of the sources' weights, with the first source's config and
    the provenance of the latest one (most training steps)."""
    if not sources:
        raise ValueError("no models to average")
    loaded = [load_model_dir(source) for source in sources]
    first = loaded[0]
    for other in loaded[1:]:
        if other.config.model != first.config.model or other.config.features != first.config.features or other.config.alphabet != first.config.alphabet:
            raise ModelError(other.path or "?", f"has a different shape, front-end or alphabet than {first.path}")
    states = [m.model.state_dict() for m in loaded]
    averaged = {name: torch.stack([s[name].double() for s in states]).mean(dim=0).to(tensor.dtype) for name, tensor in states[0].items()}
    first.model.load_state_dict(averaged)
    # The provenance is the latest source's (most steps): the training the average reflects.
    # Its validation scores are that model's, not the average's, so they are left out.
    latest = max(loaded, key=lambda m: int(m.config.provenance.get("steps", 0) or 0))
    provenance = {k: v for k, v in latest.config.provenance.items() if k not in ("valid_wer", "valid_cer")}
    provenance["averaged_from"] = [str(s) for s in sources]
    return save_model_dir(target, first.model, replace(first.config, provenance=provenance))
