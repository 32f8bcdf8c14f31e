"""Recipe configs parse, and the LibriSpeech recipe's prepare and train stages run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asr.train import train
from asr.train_config import load_train_config
from tests.conftest import ROOT, SHARED_DATA, requires_shared

CONFIGS = sorted((ROOT / "recipes").glob("*/config*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{c.parent.name}/{c.name}" for c in CONFIGS])
def test_recipe_configs_load(config: Path) -> None:
    loaded = load_train_config(config)
    assert loaded.model.vocab_size == len(loaded.data.alphabet) + 1
    assert loaded.model.n_mels == loaded.features.n_mels
    assert all(Path(m).is_relative_to(config.parent) for m in loaded.data.train_manifests)


@requires_shared
def test_librispeech_recipe_prepare_and_train_smoke(tmp_path: Path) -> None:
    subset = SHARED_DATA / "librispeech-mini" / "LibriSpeech" / "train-clean-100"
    manifest = tmp_path / "train-clean-100.jsonl"
    prepared = subprocess.run([sys.executable, "-m", "asr", "prepare", "librispeech", str(subset), "-o", str(manifest)], capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.stdout.startswith(f"{manifest}: 201 utterances")
    overrides = [
        f"data.train_manifests=[{manifest}]",
        f"data.valid_manifests=[{manifest}]",
        f"output_dir={tmp_path / 'exp'}",
        "device=cpu",
        "data.num_workers=0",
        "data.stats_utterances=20",
        "model.lstm_layers=1",
        "model.hidden_size=32",
        "max_steps=2",
    ]
    config = load_train_config(ROOT / "recipes" / "librispeech" / "config_100h.yaml", overrides)
    train(config)
    checkpoint = torch.load(tmp_path / "exp" / "checkpoint.pt", weights_only=True)
    assert checkpoint["state"]["step"] == 2


def load_generator():  # type: ignore[no-untyped-def]
    """recipes/synth/generate.py as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("synth_generate", ROOT / "recipes" / "synth" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_synth_generator_never_speaks_held_out_text_and_keeps_clip_ids(tmp_path: Path) -> None:
    generate = load_generator()
    text = tmp_path / "text.txt"
    text.write_text("ONE TWO THREE FOUR FIVE SIX\nTHE DEV SENTENCE IS HERE\nSEVEN EIGHT\nNINE TEN ELEVEN\n")
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        '{"audio_filepath": "a.flac", "duration": 1.0, "text": "So, the dev sentence is here!"}\n'
        '{"audio_filepath": "b.flac", "duration": 1.0, "text": "Nine 10 eleven."}\n'
    )
    pieces = generate.load_pieces(text, 3, seed=0)
    inventory = generate.Inventory(("en-us",), ("m1",), ("slt",), ("hibari", "piper"))
    args = generate.parse_args(["--out", str(tmp_path / "out"), "--hours", "1", "--text", str(text), "--max-words", "3"])
    engines = ("espeak-ng", "flite", "hibari", "piper")
    args.engines = engines
    everything = list(generate.pending_plans(pieces, {}, args, inventory, tmp_path))
    kept = list(generate.pending_plans(pieces, {}, args, inventory, tmp_path, generate.held_out_texts([str(dev)])))
    held = {p.text for p in everything} - {p.text for p in kept}
    assert held == {"THE DEV SENTENCE", "IS HERE", "NINE TEN ELEVEN"}  # the dev lines' pieces, nothing else
    assert [p for p in everything if p.text not in held] == kept  # same ids and choices for the rest
    # A corpus started without --exclude loses its held-out clips when given it later.
    manifest = tmp_path / "manifest.jsonl"
    rows = [generate.manifest_row(plan, 1.0, tmp_path) for plan in everything]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    done = {plan.index: 1.0 for plan in everything}
    assert generate.drop_held_out(manifest, pieces, done, generate.held_out_texts([str(dev)])) == 3
    assert sorted(done) == [plan.index for plan in kept]
    assert [json.loads(line)["text"] for line in manifest.read_text().splitlines()] == [plan.text for plan in kept]
    neural = [generate.plan_clip(i, "A B", 0, engines, inventory, tmp_path, "flac") for i in range(200)]
    shifts = [p.pitch_cents for p in neural if p.engine in ("hibari", "piper")]
    assert shifts and all(-400 <= c <= 400 for c in shifts) and len(set(shifts)) > 20
    assert all(p.pitch_cents == 0 for p in neural if p.engine in ("espeak-ng", "flite"))
    assert {p.voice.rstrip("+-0123456789c") for p in neural if p.engine in ("hibari", "piper")} == {"heart", "joe"}
    assert generate.sox_effects(next(p for p in neural if p.pitch_cents))[:1] == ["pitch"]


def test_synth_generator_plans_the_debian_voices_with_their_own_controls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate = load_generator()
    import synth_classic  # on sys.path once the generator is loaded

    inventory = generate.Inventory((), (), (), (), ("kal_diphone", "rab_diphone"), ("en-US", "en-GB"), ("us1", "en1"))
    engines = ("festival", "pico", "mbrola")
    plans = [generate.plan_clip(i, "A B", 0, engines, inventory, tmp_path, "flac") for i in range(300)]
    assert {p.engine for p in plans} == set(engines)
    festival = [p for p in plans if p.engine == "festival"]
    assert {p.voice.replace(f"{p.pitch_cents:+d}c", "") for p in festival} == {"kal_diphone", "rab_diphone"}
    assert len({p.pitch_cents for p in festival}) > 10 and all(-400 <= p.pitch_cents <= 400 for p in plans)
    assert {p.voice for p in plans if p.engine == "mbrola"} == {"us1", "en1"}
    assert all(p.pitch_cents == 0 for p in plans if p.engine == "mbrola")
    text, wav = tmp_path / "text.txt", tmp_path / "raw.wav"
    text.write_text("a b\n")
    command = synth_classic.classic_command("festival", "kal_diphone", 0, 0, 1.1, text, wav)
    assert command == ["text2wave", "-o", str(wav), "-eval", "(voice_kal_diphone)", "-eval", "(Parameter.set 'Duration_Stretch 1.1)", str(text)]
    assert synth_classic.classic_command("mbrola", "us2", 150, 40, 1.0, text, wav)[:3] == ["espeak-ng", "-v", "mb-us2"]
    assert synth_classic.classic_command("pico", "en-GB", 0, 0, 1.0, text, wav) == ["pico2wave", "-l", "en-GB", "-w", str(wav), "a b"]
    pico = next(p for p in plans if p.engine == "pico")
    effects = generate.sox_effects(pico)
    assert effects[effects.index("tempo") :][:3] == ["tempo", "-s", f"{1 / pico.stretch:.3f}"]
    # The engine is given the voice without the label of the sox shift.
    recorded: list[list[str]] = []
    monkeypatch.setattr(generate.subprocess, "run", lambda command, **kwargs: recorded.append(command))
    shifted = next(p for p in festival if p.pitch_cents)
    generate.synthesize(shifted, text, wav)
    assert recorded[0][4] == f"(voice_{shifted.voice.replace(f'{shifted.pitch_cents:+d}c', '')})"


def test_pack_caps_engine_hours_and_zips_the_folder(tmp_path: Path) -> None:
    import zipfile

    import numpy as np
    import soundfile as sf

    from asr.manifests import read_manifest

    source = tmp_path / "corpus"
    (source / "audio").mkdir(parents=True)
    rows = []
    for n, engine in enumerate(["hibari", "piper", "hibari", "flite", "hibari"]):
        tone = 0.3 * np.sin(2 * np.pi * (200 + 50 * n) * np.arange(16000) / 16000)
        sf.write(source / "audio" / f"{n}.flac", tone, 16000)
        rows.append({"audio_filepath": f"audio/{n}.flac", "duration": 1.0, "text": f"clip {n}", "engine": engine})
    (source / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "packed"
    command = [sys.executable, str(ROOT / "recipes" / "default_model" / "pack.py"), str(source / "manifest.jsonl"), "--out", str(out)]
    assert subprocess.run(command, capture_output=True).returncode == 0  # all five: files the zip must leave out later
    # hibari capped at 1.5 s: its first two clips are kept (the second crosses the cap), not the third.
    result = subprocess.run([*command, "--zip", "--engine-hours", f"hibari={1.5 / 3600}", "flite=0"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    packed = read_manifest(out / "corpus.jsonl")
    assert [entry.text for entry in packed] == ["clip 0", "clip 1", "clip 2"]
    assert all(entry.audio_filepath.suffix == ".opus" and abs(entry.duration - 1.0) < 0.01 for entry in packed)
    with zipfile.ZipFile(out.with_suffix(".zip")) as archive:
        names = set(archive.namelist())
    assert names == {"corpus.jsonl", *(entry.audio_filepath.relative_to(out).as_posix() for entry in packed)}


def test_synth_generator_still_plans_the_clips_of_an_existing_corpus(tmp_path: Path) -> None:
    """Clips 0-9 of the default model's synth_v1 corpus (--seed 1, four engines, every voice
    installed) as its manifest lists them: new engines must not change the plans of old corpora,
    or resuming and regenerating them would give other audio."""
    generate = load_generator()
    import synth_classic

    inventory = generate.Inventory(synth_classic.ESPEAK_VOICES, synth_classic.ESPEAK_VARIANTS, synth_classic.FLITE_VOICES, ("hibari", "piper"))
    engines = ("espeak-ng", "flite", "hibari", "piper")
    plans = [generate.plan_clip(i, "X", 1, engines, inventory, tmp_path, "flac") for i in (0, 2, 3, 5, 7, 9)]
    assert [(p.engine, p.voice, p.effect) for p in plans] == [
        ("hibari", "heart+29c", "brown-noise"),
        ("espeak-ng", "en-us-nyc+f2", "none"),
        ("espeak-ng", "en-gb-scotland+steph", "brown-noise"),
        ("piper", "joe-161c", "reverb"),
        ("piper", "joe+147c", "none"),
        ("flite", "rms", "none"),
    ]


def test_synth_generator_plans_kokoro_voices_and_blends_their_styles(tmp_path: Path) -> None:
    generate = load_generator()
    import numpy as np
    import synth_neural

    voices_dir = tmp_path / "voices"
    voices_dir.mkdir()
    for n, name in enumerate(["af_bella", "af_sky", "bm_george", "bm_lewis", "am_adam"]):
        np.full((510, 256), n, dtype=np.float32).tofile(voices_dir / f"{name}.bin")
    (voices_dir / "jf_alpha.bin").write_bytes(b"")  # a Japanese voice: not listed
    voices = synth_neural.kokoro_voices(voices_dir)
    assert voices == ("af_bella", "af_sky", "am_adam", "bm_george", "bm_lewis")
    inventory = generate.Inventory((), (), (), ("kokoro",), kokoro_voices=voices)
    plans = [generate.plan_clip(i, "A B", 0, ("kokoro",), inventory, tmp_path, "flac") for i in range(300)]
    blends = [p.voice for p in plans if "+" in p.voice]
    assert 100 < len(blends) < 200 and all(p.pitch_cents == 0 for p in plans)
    for label in blends:  # two voices of one accent and sex, the second's share 0.2-0.5
        first, rest = label.split("+")
        second, share = rest.split("@")
        assert first != second and first[:2] == second[:2] and 0.2 <= float(share) <= 0.5
    assert {p.voice for p in plans if "+" not in p.voice} == set(voices)
    # A style row is the mix of the two voices' rows (af_bella is all 0, af_sky all 1).
    style = synth_neural.kokoro_style("af_bella+af_sky@0.30", 12, voices_dir)
    assert style.shape == (1, 256) and np.allclose(style, 0.3)
    assert np.allclose(synth_neural.kokoro_style("bm_lewis", 900, voices_dir), 3.0)


@pytest.mark.parametrize("engine", ["espeak-ng", "flite", "festival", "pico", "mbrola", "hibari", "piper", "kokoro"])
def test_synth_engine_renders_a_clip_when_installed(engine: str, tmp_path: Path) -> None:
    """Each engine, with a voice from what is installed, through sox to a 16 kHz FLAC clip of
    about the expected length (skipped where the engine is not installed)."""
    import shutil

    import soundfile as sf

    generate = load_generator()
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    try:
        inventory = generate.load_inventory((engine,))
    except (SystemExit, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"{engine} is not installed ({exc})")
    plan = generate.plan_clip(3, "THE LIBRARY WILL CLOSE EARLY ON FRIDAY", 0, (engine,), inventory, tmp_path, "flac")
    plan, duration, error = generate.render_clip(plan)
    assert error == "" and duration is not None, error
    info = sf.info(plan.path)
    assert info.samplerate == 16000 and info.channels == 1
    assert 1.0 < duration < 6.0  # seven words



def run_recipe(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "recipes" / name / "run.sh"), *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("recipe", "option", "message"),
    [
        ("digits", "--fsdd", "all.jsonl: not found; pass --fsdd with the FSDD folder"),
        ("ljspeech", "--ljspeech", "not an LJSpeech folder (expected metadata.csv and wavs/ in it"),
        ("librispeech", "--corpus", "none of the LibriSpeech subsets"),
    ],
)
def test_recipes_take_their_corpus_path_and_stop_when_nothing_is_there(recipe: str, option: str, message: str, tmp_path: Path) -> None:
    before = sorted((ROOT / "recipes" / recipe).rglob("*"))
    result = run_recipe(recipe, option, tmp_path, "--stop-stage", "1")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
    assert sorted((ROOT / "recipes" / recipe).rglob("*")) == before  # nothing written


def fake_fsdd(folder: Path, speakers: list[str]) -> Path:
    """An FSDD-like folder: all.jsonl over the fixture clips, two per speaker."""
    (folder / "recordings").mkdir(parents=True)
    rows = []
    for speaker in speakers:
        for n, clip in enumerate(sorted((ROOT / "tests" / "fixtures" / "speech").glob("*.flac"))[:2]):
            target = folder / "recordings" / f"{n}_{speaker}.flac"
            target.write_bytes(clip.read_bytes())
            rows.append({"audio_filepath": f"recordings/{target.name}", "duration": 1.0, "text": "zero", "speaker": speaker})
    (folder / "all.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_digits_prepare_splits_a_given_corpus_by_speaker(tmp_path: Path) -> None:
    script = ROOT / "recipes" / "digits" / "prepare.py"
    corpus = fake_fsdd(tmp_path / "fsdd", ["theo", "jackson", "nicolas", "george", "lucas", "yweweler"])
    result = subprocess.run([sys.executable, str(script), "--fsdd", str(corpus), "--out", str(tmp_path / "data")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    counts = {split: len((tmp_path / "data" / f"{split}.jsonl").read_text().splitlines()) for split in ("train", "dev", "test")}
    assert counts == {"train": 9, "dev": 1, "test": 2}  # dev: every 10th row (the first is a test speaker's)
    no_test_speaker = fake_fsdd(tmp_path / "other", ["jackson", "nicolas"])
    result = subprocess.run([sys.executable, str(script), "--fsdd", str(no_test_speaker), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert result.returncode == 1 and "no utterances for test" in result.stderr and not (tmp_path / "o").exists()
    (no_test_speaker / "recordings" / "0_jackson.flac").unlink()
    result = subprocess.run([sys.executable, str(script), "--fsdd", str(no_test_speaker), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert result.returncode == 1 and "1 of its audio files are missing" in result.stderr


def test_ljspeech_prepare_refuses_a_folder_without_usable_rows(tmp_path: Path) -> None:
    corpus = tmp_path / "LJSpeech-1.1"
    (corpus / "wavs").mkdir(parents=True)
    (corpus / "metadata.csv").write_text("LJ001-0001|Printing, in the only sense|Printing, in the only sense\n")  # its wav is missing
    out = tmp_path / "data"
    script = ROOT / "recipes" / "ljspeech" / "prepare.py"
    result = subprocess.run([sys.executable, str(script), "--ljspeech", str(corpus), "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 1 and "no usable utterance" in result.stderr
    assert list(out.iterdir()) == []
