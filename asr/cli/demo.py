"""`asr demo`: the Gradio web demo (microphone and upload)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from asr.cli.common import MODEL, THREADS, VERBOSE, add_command, reports, use_threads
from asr.constants import DEMO_MAX_SECONDS
from asr.errors import AsrError

if TYPE_CHECKING:
    from asr.cli.common import Subcommands


@reports(AsrError)
def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from asr.demo.app import launch_demo
    except ImportError as exc:
        print(f"error: the demo needs Gradio ({exc}); install it with: pip install 'asr[demo]'", file=sys.stderr)
        return 2
    use_threads(args)
    launch_demo(args.model, args.port, args.share, args.max_seconds, args.host)
    return 0


def add_parser(sub: Subcommands) -> None:
    de = add_command(
        sub,
        "demo",
        cmd_demo,
        "web demo: microphone and upload",
        "Serve the Gradio web demo (needs: pip install 'asr[demo]'). The model is loaded once.",
        [MODEL, THREADS, VERBOSE],
    )
    de.add_argument("--port", type=int, default=None, help="port to listen on (default: 7860, or the next free one)")
    de.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    de.add_argument("--share", action="store_true", help="also serve through a public Gradio share link")
    de.add_argument("--max-seconds", type=float, default=DEMO_MAX_SECONDS, help=f"longest recording or upload accepted (default {DEMO_MAX_SECONDS:g})")
