from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

import pytest

from asr.config import apply_overrides, from_dict, load_yaml
from asr.errors import ConfigError
from asr.train_config import TrainConfig, load_train_config


@dataclass(frozen=True)
class Inner:
    size: int = 1
    rate: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)
    flag: bool = False
    maybe: int | None = None


def test_nested_dataclasses_with_type_checks() -> None:
    outer = from_dict(Outer, {"name": "x", "inner": {"size": 3, "rate": 1}, "tags": ["a"], "maybe": None})
    assert outer == Outer("x", Inner(3, 1.0), ["a"], False, None)
    for bad, message in [
        ({"name": 1}, "name: expected a string"),
        ({"name": "x", "inner": {"size": 1.5}}, "inner.size: expected an integer"),
        ({"name": "x", "flag": "yes"}, "flag: expected true or false"),
        ({"name": "x", "inner": {"sise": 1}}, r"unknown key\(s\) \['sise'\]"),
        ({}, "name"),
    ]:
        with pytest.raises(ConfigError, match=message):
            from_dict(Outer, bad)


def test_overrides_parse_yaml_values() -> None:
    assert from_dict(Inner, {"rate": "1e-4"}).rate == 1e-4  # PyYAML leaves 1e-4 a string
    with pytest.raises(ConfigError, match="rate: expected a number"):
        from_dict(Inner, {"rate": "fast"})
    data = apply_overrides({"a": {"b": 1}}, ["a.b=2", "a.c=[1, 2]", "d=true"])
    assert data == {"a": {"b": 2, "c": [1, 2]}, "d": True}
    with pytest.raises(ConfigError, match=r"key\.sub=value"):
        apply_overrides({}, ["novalue"])


def test_train_config_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("output_dir: exp\ndata:\n  train_manifests: [train.jsonl, /abs/x.jsonl]\n  alphabet: ' ab'\n")
    config = load_train_config(tmp_path / "c.yaml", ["epochs=2"])
    assert config.output_dir == str(tmp_path / "exp")
    assert config.data.train_manifests == [str(tmp_path / "train.jsonl"), "/abs/x.jsonl"]
    assert config.model.vocab_size == 4  # follows the alphabet
    assert config.epochs == 2


def test_every_path_field_of_the_train_config_is_resolved(tmp_path: Path) -> None:
    """Every field marked PATH, in any section, is made absolute against the config's folder."""
    sections = [("", TrainConfig), *((name, hint) for name, hint in typing.get_type_hints(TrainConfig).items() if is_dataclass(hint))]
    marked = {(section, option.name) for section, cls in sections for option in fields(cls) if option.metadata.get("path")}
    assert {("", "output_dir"), ("", "init_from"), ("data", "train_manifests"), ("data", "feature_cache_dir"), ("augment", "noise_dir")} <= marked
    overrides = [f"{section + '.' if section else ''}{name}={'[x]' if name.endswith('manifests') else 'x'}" for section, name in marked]
    (tmp_path / "c.yaml").write_text("output_dir: exp\ndata:\n  train_manifests: [train.jsonl]\n")
    config = load_train_config(tmp_path / "c.yaml", overrides)
    for section, name in marked:
        value = getattr(getattr(config, section) if section else config, name)
        assert value in (str(tmp_path / "x"), [str(tmp_path / "x")]), (section, name, value)


def test_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(tmp_path / "bad.yaml")
