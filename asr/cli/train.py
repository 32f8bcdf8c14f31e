"""`asr train` (a model from a YAML config) and `asr average` (the weights of several)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from asr.cli.common import VERBOSE, add_command, reports
from asr.errors import AsrError

if TYPE_CHECKING:
    from asr.cli.common import Subcommands


@reports(AsrError, ValueError)
def cmd_train(args: argparse.Namespace) -> int:
    from asr.train import train
    from asr.train_config import load_train_config

    threads = [f"threads={args.threads}"] if args.threads else []
    config = load_train_config(args.config, [*args.overrides, *threads])
    best = train(config)
    print(f"best model: {best}")
    return 0


@reports(AsrError, ValueError)
def cmd_average(args: argparse.Namespace) -> int:
    from asr.averaging import average_models

    target = average_models(args.models, args.output)
    print(f"{target}: average of {len(args.models)} models")
    return 0


def add_parser(sub: Subcommands) -> None:
    av = add_command(
        sub,
        "average",
        cmd_average,
        "average the weights of several model directories",
        "Average the weights of models of one shape (e.g. exp/epochs/*).",
        [VERBOSE],
    )
    av.add_argument("models", nargs="+", metavar="MODEL_DIR", help="model directories of the same shape")
    av.add_argument("--output", "-o", required=True, help="model directory to write")

    tn = add_command(
        sub,
        "train",
        cmd_train,
        "train a model from a YAML config",
        "Train a model. Resumes from OUTPUT_DIR/checkpoint.pt when it exists. Several GPUs: torchrun --nproc_per_node N -m asr train CONFIG.",
        [VERBOSE],
    )
    tn.add_argument("config", help="YAML config (see recipes/*/config.yaml); relative paths in it are relative to its folder")
    tn.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config fields, e.g. epochs=5 optim.lr=0.0005")
    tn.add_argument(
        "--threads", type=int, default=0, help="CPU threads per training process (the config's threads; default: the cores less one per loader worker)"
    )
