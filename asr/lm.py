"""Word n-gram language models for beam search: reading their vocabulary, and building them.

`build_lm` estimates an interpolated modified Kneser-Ney model (the method of KenLM's lmplz)
in pure Python and writes ARPA, so an LM can be built anywhere `asr` installs. When KenLM's
`lmplz` is on PATH it is used instead (much faster on large corpora), and `build_binary`, when
present, turns the ARPA into KenLM's binary format, which loads in a fraction of the time.
Both read text normalized exactly like training transcripts."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from asr.constants import DEFAULT_ALPHABET
from asr.errors import ConfigError
from asr.fileio import atomic_write_bytes
from asr.tokenizer import CharTokenizer

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
ARPA_HEADER = "\\data\\"
NO_PROB = -99.0  # ARPA's log10 "probability" of <s>, which is only ever a context
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # when a corpus is too small to estimate D1, D2, D3+

Gram = tuple[str, ...]


def vocabulary_path(lm_path: str | Path) -> Path:
    """Where the word list of a binary LM lives: beside it, with the suffix .vocab."""
    return Path(lm_path).with_suffix(".vocab")


def is_arpa(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4096).lstrip().startswith(ARPA_HEADER.encode())


def copy_lm_into(directory: Path, source: Path) -> str:
    """Copy an LM (and a binary LM's word list beside it) into a model directory as lm.arpa or
    lm.bin; the name it has there."""
    name = "lm.arpa" if is_arpa(source) else "lm.bin"
    for source_file, target in ((source, directory / name), (vocabulary_path(source), vocabulary_path(directory / name))):
        if source_file.is_file() and source_file.resolve() != target.resolve():
            shutil.copyfile(source_file, target)
    return name


def read_lm_vocabulary(lm_path: str | Path) -> list[str]:
    """The words an LM knows (without <s>, </s>, <unk>): from the ARPA unigram section, or for
    a binary LM from the .vocab file written beside it (one word per line)."""
    path = Path(lm_path)
    if not path.is_file():
        raise ConfigError(f"{path}: language model not found")
    if is_arpa(path):
        return _arpa_unigrams(path)
    vocab = vocabulary_path(path)
    if not vocab.is_file():
        raise ConfigError(f"{path}: a binary LM needs its word list in {vocab.name} (one word per line), as `asr lm build` writes it")
    words = vocab.read_text(encoding="utf-8").split()
    return [w for w in words if w not in (BOS, EOS, UNK)]


def _arpa_unigrams(path: Path) -> list[str]:
    words = []
    section = None
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("\\"):
                section = line
                if section == "\\2-grams:" or section == "\\end\\":
                    break
                continue
            if section == "\\1-grams:" and line:
                fields = line.split()
                if len(fields) >= 2 and fields[1] not in (BOS, EOS, UNK):
                    words.append(fields[1])
    if not words:
        raise ConfigError(f"{path}: no unigrams found; is it an ARPA file?")
    return words


def normalized_sentences(paths: Iterable[str | Path], alphabet: str = DEFAULT_ALPHABET) -> Iterator[list[str]]:
    """Lines of text files as word lists, normalized like training targets (lower case, numbers
    spelled out, characters outside the alphabet dropped). Empty lines are skipped."""
    tokenizer = CharTokenizer(alphabet)
    for path in paths:
        try:
            with Path(path).open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    words = tokenizer.decode(tokenizer.encode(line)).split()
                    if words:
                        yield words
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc


@dataclass(frozen=True)
class NgramModel:
    """Log10 probabilities and backoff weights per n-gram, orders 1..N (ARPA's content)."""

    order: int
    logprob: list[dict[Gram, float]]  # index n-1: n-grams of order n
    backoff: list[dict[Gram, float]]

    def score(self, words: list[str], context: Gram = (BOS,)) -> float:
        """Log10 probability of `words` after `context` (for tests and perplexity)."""
        history = list(context)
        total = 0.0
        for word in words:
            total += self.conditional(tuple(history[-(self.order - 1) :]) if self.order > 1 else (), word)
            history.append(word)
        return total

    def conditional(self, context: Gram, word: str) -> float:
        """Log10 p(word | context) by ARPA backoff."""
        if (word,) not in self.logprob[0]:
            word = UNK
        penalty = 0.0
        for start in range(len(context) + 1):
            gram = (*context[start:], word)
            table = self.logprob[len(gram) - 1]
            if gram in table:
                return penalty + table[gram]
            penalty += self.backoff[len(context) - start - 1].get(context[start:], 0.0) if context[start:] else 0.0
        raise AssertionError("the unigram table always has <unk>")


def count_ngrams(sentences: Iterable[list[str]], order: int) -> list[dict[Gram, int]]:
    """Raw counts of every n-gram, n = 1..order, in sentences padded as <s> w1 .. wk </s>."""
    counts: list[dict[Gram, int]] = [defaultdict(int) for _ in range(order)]
    for words in sentences:
        padded = [BOS, *words, EOS]
        for n in range(1, order + 1):
            table = counts[n - 1]
            for start in range(len(padded) - n + 1):
                table[tuple(padded[start : start + n])] += 1
    return [dict(table) for table in counts]


def _discounts(adjusted: dict[Gram, int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from counts of counts (Chen & Goodman)."""
    t = [0, 0, 0, 0, 0]
    for value in adjusted.values():
        if value <= 4:
            t[value] += 1
    if min(t[1:5]) == 0:
        return FALLBACK_DISCOUNTS
    y = t[1] / (t[1] + 2 * t[2])
    d = (1 - 2 * y * t[2] / t[1], 2 - 3 * y * t[3] / t[2], 3 - 4 * y * t[4] / t[3])
    return d if all(0 < value < k + 1 for k, value in enumerate(d)) else FALLBACK_DISCOUNTS


def estimate_kneser_ney(counts: list[dict[Gram, int]], prune: list[int] | None = None) -> NgramModel:
    """Interpolated modified Kneser-Ney. Lower orders use continuation counts (how many
    different words precede an n-gram), except n-grams starting with <s>, which nothing can
    precede. n-grams of order >= 2 whose raw count is at most prune[n-1] are dropped unless a
    kept longer n-gram needs them; backoff weights are then renormalized so that every
    context's distribution still sums to one."""
    order = len(counts)
    prune = [0] * order if prune is None else [*prune, *[prune[-1]] * (order - len(prune))][:order]
    adjusted: list[dict[Gram, int]] = []
    for n in range(1, order + 1):
        if n == order:
            adjusted.append(dict(counts[n - 1]))
            continue
        continuation: dict[Gram, int] = defaultdict(int)
        for gram in counts[n]:
            continuation[gram[1:]] += 1
        adjusted.append({g: (c if g[0] == BOS else continuation.get(g, c)) for g, c in counts[n - 1].items()})
    vocab = [g[0] for g in counts[0] if g[0] != BOS]
    probs: list[dict[Gram, float]] = []  # interpolated probabilities (not logs), order by order
    for n in range(1, order + 1):
        table = adjusted[n - 1]
        discounts = _discounts(table)
        totals: dict[Gram, float] = defaultdict(float)
        kinds: dict[Gram, list[int]] = defaultdict(lambda: [0, 0, 0])
        for gram, count in table.items():
            if gram[-1] == BOS:
                continue
            totals[gram[:-1]] += count
            kinds[gram[:-1]][min(count, 3) - 1] += 1
        gamma = {h: sum(d * k for d, k in zip(discounts, kinds[h], strict=True)) / total for h, total in totals.items()}
        current: dict[Gram, float] = {}
        for gram, count in table.items():
            if gram[-1] == BOS:
                continue
            context = gram[:-1]
            discounted = (count - discounts[min(count, 3) - 1]) / totals[context]
            lower = probs[n - 2][gram[1:]] if n > 1 else 1.0 / (len(vocab) + 1)  # +1: <unk>
            current[gram] = discounted + gamma[context] * lower
        if n == 1:
            current[(UNK,)] = gamma[()] / (len(vocab) + 1)
        probs.append(current)
    kept = _prune(probs, counts, prune)
    return _with_backoffs(kept, order)


def _prune(probs: list[dict[Gram, float]], counts: list[dict[Gram, int]], prune: list[int]) -> list[dict[Gram, float]]:
    kept = [dict(table) for table in probs]
    needed: set[Gram] = set()
    for n in range(len(probs), 1, -1):
        threshold = prune[n - 1]
        table = kept[n - 1]
        if threshold > 0:
            for gram in [g for g in table if counts[n - 1][g] <= threshold and g not in needed]:
                del table[gram]
        for gram in table:
            # ARPA needs every kept n-gram's context and suffix; pruning goes from the highest
            # order down, so these are protected before their own order is pruned.
            needed.add(gram[:-1])
            needed.add(gram[1:])
    return kept


def _with_backoffs(probs: list[dict[Gram, float]], order: int) -> NgramModel:
    """Backoff weight of each context h: the probability left for words not listed after h,
    divided by what the lower order gives those words, so that p(.|h) sums to one exactly."""
    listed: list[dict[Gram, list[str]]] = [defaultdict(list) for _ in range(order)]
    for n in range(2, order + 1):
        for gram in probs[n - 1]:
            listed[n - 2][gram[:-1]].append(gram[-1])
    backoff: list[dict[Gram, float]] = [{} for _ in range(order)]
    for n in range(1, order):
        for context, words in listed[n - 1].items():
            if context not in probs[n - 1] and context != (BOS,):
                continue
            high = sum(probs[n][(*context, w)] for w in words)
            low = sum(_backed_off(probs, context[1:], w) for w in words)
            left, room = max(1.0 - high, 1e-12), max(1.0 - low, 1e-12)
            backoff[n - 1][context] = math.log10(left / room)
    logprob = [{g: math.log10(p) for g, p in table.items()} for table in probs]
    logprob[0][(BOS,)] = NO_PROB
    return NgramModel(order, logprob, backoff)


def _backed_off(probs: list[dict[Gram, float]], context: Gram, word: str) -> float:
    """p(word | context) from the interpolated tables alone (before backoff weights exist),
    falling back to shorter contexts; used to size the backoff weights."""
    for start in range(len(context) + 1):
        gram = (*context[start:], word)
        if gram in probs[len(gram) - 1]:
            return probs[len(gram) - 1][gram]
    return probs[0].get((word,), probs[0][(UNK,)])


def write_arpa(model: NgramModel, path: str | Path) -> Path:
    lines = [ARPA_HEADER]
    lines += [f"ngram {n}={len(model.logprob[n - 1])}" for n in range(1, model.order + 1)]
    for n in range(1, model.order + 1):
        lines += ["", f"\\{n}-grams:"]
        backoffs = model.backoff[n - 1]
        for gram, logprob in sorted(model.logprob[n - 1].items()):
            text = " ".join(gram)
            weight = backoffs.get(gram)
            lines.append(f"{logprob:.6f}\t{text}" + (f"\t{weight:.6f}" if weight is not None and n < model.order else ""))
    lines += ["", "\\end\\", ""]
    target = Path(path)
    atomic_write_bytes(target, "\n".join(lines).encode("utf-8"))
    return target


@dataclass(frozen=True)
class BuiltLM:
    path: Path  # the LM to decode with (ARPA, or KenLM binary when build_binary was available)
    words: int  # vocabulary size (without <s>, </s>, <unk>)
    ngrams: tuple[int, ...]  # n-gram counts per order
    tool: str  # "asr" (built-in estimator) or "lmplz"
    excluded: int = 0  # text lines left out because they are held-out transcripts


def build_lm(
    texts: list[str | Path],
    output: str | Path,
    order: int = 3,
    prune: list[int] | None = None,
    alphabet: str = DEFAULT_ALPHABET,
    use_kenlm: bool = True,
    exclude: Iterable[str] = (),
) -> BuiltLM:
    """Build an n-gram LM from text files into `output` (.arpa, or .bin for a KenLM binary, which
    needs KenLM's build_binary). A word list goes beside it as .vocab. Lines that read like one
    of the `exclude` transcripts once normalized (dev and test sets) are left out."""
    if not 1 <= order <= 6:
        raise ConfigError("--order must be between 1 and 6")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    binary = output.suffix == ".bin"
    if binary and shutil.which("build_binary") is None:
        raise ConfigError("a .bin LM needs KenLM's build_binary on PATH (bash recipes/lm/install_kenlm.sh); write .arpa instead")
    arpa = output.with_suffix(".arpa")
    tokenizer = CharTokenizer(alphabet)
    held_out = {tuple(tokenizer.decode(tokenizer.encode(text)).split()) for text in exclude}
    sentences = list(normalized_sentences(texts, alphabet))
    excluded = len(sentences)
    sentences = [words for words in sentences if tuple(words) not in held_out]
    excluded -= len(sentences)
    if not sentences:
        raise ConfigError("the text files hold no usable sentences")
    if use_kenlm and shutil.which("lmplz") is not None:
        _run_lmplz(sentences, arpa, order, prune)
        tool = "lmplz"
    else:
        write_arpa(estimate_kneser_ney(count_ngrams(sentences, order), prune), arpa)
        tool = "asr"
    if binary:
        subprocess.run(["build_binary", "-s", str(arpa), str(output)], check=True, capture_output=True)
    words = read_lm_vocabulary(arpa)
    atomic_write_bytes(vocabulary_path(output), ("\n".join(words) + "\n").encode("utf-8"))
    if binary:
        arpa.unlink()
    return BuiltLM(output, len(words), _arpa_counts(arpa) if not binary else (), tool, excluded)


def _run_lmplz(sentences: list[list[str]], arpa: Path, order: int, prune: list[int] | None) -> None:
    command = ["lmplz", "-o", str(order), "--arpa", str(arpa), "--discount_fallback", "-S", "20%"]
    if prune:
        command += ["--prune", *[str(p) for p in prune]]
    text = "".join(" ".join(words) + "\n" for words in sentences)
    result = subprocess.run(command, input=text.encode("utf-8"), capture_output=True, check=False)
    if result.returncode != 0:
        raise ConfigError(f"lmplz failed: {result.stderr.decode(errors='replace').strip().splitlines()[-1:]}")


def _arpa_counts(path: Path) -> tuple[int, ...]:
    counts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("ngram "):
                counts.append(int(line.split("=")[1]))
            elif line.startswith("\\1-grams"):
                break
    return tuple(counts)
