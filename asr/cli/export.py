"""`asr export`: a model directory as one TorchScript or ONNX file (waveforms -> log-probs)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from asr.cli.common import MODEL, VERBOSE, add_command, reports
from asr.errors import AsrError
from asr.export import EXPORT_FORMATS

if TYPE_CHECKING:
    from asr.cli.common import Subcommands


@reports(AsrError, ValueError, OSError)
def cmd_export(args: argparse.Namespace) -> int:
    from asr.export import export_model
    from asr.transcribe import DEFAULT_MODEL_DIR

    target = export_model(args.model or DEFAULT_MODEL_DIR, args.output, args.format)
    print(f"{target}: {args.format} model (waveforms -> log-probs; see README, Speed and deployment)")
    return 0


def add_parser(sub: Subcommands) -> None:
    ex = add_command(
        sub,
        "export",
        cmd_export,
        "export a model as TorchScript or ONNX",
        "Write one file that maps waveforms to CTC log-probs and runs without this package (torch.jit.load or onnxruntime).",
        [MODEL, VERBOSE],
    )
    ex.add_argument("--format", choices=EXPORT_FORMATS, required=True, help="torchscript: a .pt file for torch.jit.load; onnx: an .onnx file")
    ex.add_argument("--output", "-o", required=True, help="file to write")
