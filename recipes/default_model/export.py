"""Copy a trained model directory into the package as the bundled default model (fp16 weights).

python recipes/default_model/export.py exp/best asr/default_model"""

from __future__ import annotations

import argparse
from pathlib import Path

from asr.model_dir import load_model_dir, save_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="trained model directory (e.g. exp/best)")
    parser.add_argument("target", type=Path, help="where to write it (e.g. asr/default_model)")
    args = parser.parse_args()
    loaded = load_model_dir(args.source)
    save_model_dir(args.target, loaded.model, loaded.config, half=True)
    size = (args.target / "model.safetensors").stat().st_size / 1e6
    print(f"{args.target}: {sum(p.numel() for p in loaded.model.parameters()):,} parameters, {size:.1f} MB (fp16)")


if __name__ == "__main__":
    main()
