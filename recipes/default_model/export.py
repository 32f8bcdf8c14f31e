"""Copy a trained model directory elsewhere with fp16 weights (half the size), together with the
files beside its weights (a language model and its word list, as `asr lm tune` puts them there).

python recipes/default_model/export.py exp_v4/chosen_lm asr/default_model"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from asr.constants import CONFIG_FILENAME, WEIGHTS_FILENAME
from asr.model_dir import load_model_dir, save_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="trained model directory (e.g. exp/best)")
    parser.add_argument("target", type=Path, help="where to write it (e.g. asr/default_model)")
    args = parser.parse_args()
    loaded = load_model_dir(args.source)
    save_model_dir(args.target, loaded.model, loaded.config, half=True)
    for extra in sorted(args.source.iterdir()):
        if extra.is_file() and extra.name not in (CONFIG_FILENAME, WEIGHTS_FILENAME):
            shutil.copy2(extra, args.target / extra.name)
            print(f"{args.target / extra.name}: {extra.stat().st_size / 1e6:.1f} MB")
    size = (args.target / "model.safetensors").stat().st_size / 1e6
    print(f"{args.target}: {sum(p.numel() for p in loaded.model.parameters()):,} parameters, {size:.1f} MB (fp16)")


if __name__ == "__main__":
    main()
