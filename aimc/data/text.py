"""An offline text corpus for character-level language models: the Debian ``fortunes`` files.

The Debian package ``fortunes`` installs plain-text fortune files in
``/usr/share/games/fortunes``: each file holds entries (quotations, jokes, poems) separated by
lines holding a single ``%`` (the ``strfile(1)`` format). The ``.dat`` files beside them are
``strfile`` indices and the ``.u8`` names are links to the same files; both are skipped. About
17,000 entries, 2.3 MB of ASCII/UTF-8 text; it loads in well under a second, so nothing is
cached.

The split is by entry, never inside an entry: exact duplicates (the same text in two files) are
dropped first (the first kept), so no entry is in two splits; the entries are then shuffled with
``numpy.random.default_rng(seed)`` and cut into train / validation / test. A language model
reads a split as one text with the entries joined by the fortune separator (``"\\n%\\n"``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

FORTUNES_DIR = Path("/usr/share/games/fortunes")
SEPARATOR = "\n%\n"  # between entries, as in the fortune files themselves
UNKNOWN = "\ufffd"  # the replacement character stands for every character left out of a vocabulary


def _fortune_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8"))


def fortune_entries(path: str | Path = FORTUNES_DIR, files: Sequence[str] | None = None) -> list[str]:
    """Every entry of the fortune files in ``path`` (or only the named ``files``), in file order,
    without the ``%`` lines and without exact duplicates; trailing white space stripped.

    Raises:
        FileNotFoundError: no fortune files there (names the Debian package ``fortunes``).
    """
    folder = Path(path)
    hint = "install the Debian package 'fortunes' (apt-get install fortunes) or pass path="
    if not folder.is_dir():
        raise FileNotFoundError(f"fortune files not found: {folder} is not a folder; {hint}")
    found = _fortune_files(folder)
    if files is not None:
        by_name = {p.name: p for p in found}
        missing = [name for name in files if name not in by_name]
        if missing:
            raise FileNotFoundError(f"no fortune file {', '.join(missing)} in {folder} "
                                    f"(there are: {', '.join(sorted(by_name)) or 'none'})")
        found = [by_name[name] for name in files]
    if not found:
        raise FileNotFoundError(f"no fortune files in {folder}; {hint}")
    entries: dict[str, None] = {}  # ordered set
    for file in found:
        text = file.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        block: list[str] = []
        for line in [*text.split("\n"), "%"]:
            if line.strip() == "%":
                entry = "\n".join(block).rstrip()
                if entry.strip():
                    entries.setdefault(entry)
                block = []
            else:
                block.append(line)
    return list(entries)


@dataclass(frozen=True)
class TextSplit:
    """Entries of a corpus split three ways (disjoint by entry)."""

    train: list[str]
    validation: list[str]
    test: list[str]

    def text(self, split: str) -> str:
        """One split as a single text, entries joined by the fortune separator."""
        if split not in ("train", "validation", "test"):
            raise ValueError(f"split must be 'train', 'validation' or 'test', got {split!r}")
        return SEPARATOR.join(getattr(self, split)) + SEPARATOR


def split_entries(entries: Sequence[str], validation: float = 0.05, test: float = 0.05,
                  seed: int = 0) -> TextSplit:
    """Shuffle ``entries`` with ``seed`` and cut them into train / validation / test by the
    given fractions (each split gets at least one entry when there are three or more)."""
    if not (0 <= validation < 1 and 0 <= test < 1 and validation + test < 1):
        raise ValueError(f"validation and test must be fractions in [0, 1) summing below 1, got "
                         f"{validation} and {test}")
    n = len(entries)
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(int(round(validation * n)), 1 if validation > 0 and n >= 3 else 0)
    n_test = max(int(round(test * n)), 1 if test > 0 and n >= 3 else 0)
    pick = [entries[i] for i in order]
    return TextSplit(train=pick[n_val + n_test:], validation=pick[:n_val],
                     test=pick[n_val:n_val + n_test])


def fortunes_text(path: str | Path = FORTUNES_DIR, *, validation: float = 0.05, test: float = 0.05,
                  seed: int = 0, files: Sequence[str] | None = None) -> TextSplit:
    """The fortunes corpus split by entry (deterministic for a ``seed``).

    Example:
        >>> corpus = fortunes_text()                       # doctest: +SKIP
        >>> len(corpus.train), len(corpus.text("validation"))  # doctest: +SKIP
        (15362, 117935)
    """
    return split_entries(fortune_entries(path, files), validation, test, seed)


class CharVocab:
    """Characters ↔ integer ids. Id 0 is :data:`UNKNOWN`, which stands for every character
    outside the vocabulary (e.g. one seen only in the validation split).

    Example:
        >>> vocab = CharVocab.build(["hello world"])
        >>> vocab.decode(vocab.encode("hold"))
        'hold'
    """

    def __init__(self, chars: Iterable[str]) -> None:
        chars = [c for c in dict.fromkeys(chars) if c != UNKNOWN]
        if any(len(c) != 1 for c in chars):
            raise ValueError("a CharVocab holds single characters")
        self.chars = [UNKNOWN, *chars]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> CharVocab:
        """The characters of ``texts`` seen at least ``min_count`` times, in code-point order."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(text)
        return cls(sorted(c for c, k in counts.items() if k >= min_count))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Ids ``[len(text)]`` (int64); characters outside the vocabulary become 0."""
        get = self.index.get
        return torch.tensor([get(c, 0) for c in text], dtype=torch.int64)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        """The text of ``ids`` (a 1-D tensor or sequence)."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if any(not 0 <= i < len(self.chars) for i in values):
            raise ValueError(f"ids must lie in [0, {len(self.chars)}), got {min(values)}..{max(values)}")
        return "".join(self.chars[i] for i in values)
