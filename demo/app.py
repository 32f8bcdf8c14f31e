"""Start the web demo: `python demo/app.py [--model DIR] [--port N] [--share] [--max-seconds S]`,
the same as `asr demo`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from asr.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
