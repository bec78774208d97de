"""Multi30k (Elliott et al. 2016, 2017): Flickr30k image descriptions in English, German, French, Czech.

Task 1 (translation): each English description has one professional translation. Files under a
data root: `multi30k/data/task1/raw/{part}.{lang}.gz`, one sentence per line, untokenised, for the
parts train (29,000), val (1,014) and test_2016_flickr (1,000); line i of `train.en.gz` and of
`train.fr.gz` are a pair.

Task 2 (description): five independent English descriptions of each image, in
`multi30k/data/task2/raw/{part}.{k}.{lang}.gz` for k = 1..5 (line i of each file describes image i).
They are not translations of each other, so they let us ask whether sentences with similar
meaning get similar encoder representations (the review's Figure 4, right).

Sentences are kept as raw strings: the translation system learns its own subword units on the
training part (systems/seq2seq.py), and BLEU is scored on raw text against the raw references.
"""

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

from deepnet.data import store
from deepnet.errors import DataError

NAME = "multi30k"
DESCRIPTION = "Multi30k task 1 (29,000 English-French/German/Czech training pairs) and task 2 (5 English captions per image)"
LICENCE = "non-commercial research and education (derived from Flickr30K)"
SOURCE = "https://github.com/multi30k/dataset (data/task1/raw, data/task2/raw)"

PARTS = {"train": 29000, "val": 1014, "test_2016_flickr": 1000}  # task 1 parts and their sizes
LANGS = ("en", "de", "fr", "cs")
TASK2_PARTS = {"train": 29000, "val": 1014, "test_2016": 1000}  # images per task 2 part (5 captions each)


def task1_file(part, lang):
    return f"multi30k/data/task1/raw/{part}.{lang}.gz"


def task2_file(part, k, lang="en"):
    return f"multi30k/data/task2/raw/{part}.{k}.{lang}.gz"


# What `find_root` requires: English and French task 1, and the English task 2 test captions.
FILES = tuple(task1_file(p, lang) for p in PARTS for lang in ("en", "fr")) + tuple(
    task2_file("test_2016", k) for k in range(1, 6))


def find_root():
    return store.find(FILES)


def read_lines(path):
    """The lines of one gzipped text file (UTF-8), trailing newline removed; DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (fetch it with 'deepnet data fetch multi30k')")
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable gzipped UTF-8 text file ({store.one_line(e)}); "
                        "re-download it with 'deepnet data fetch multi30k'") from None
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


@dataclass
class Parallel:
    """Sentence pairs of one part: src[i] translates to tgt[i] (raw, untokenised strings)."""

    src: list
    tgt: list

    def __len__(self):
        return len(self.src)


@dataclass
class Bitext:
    """The three task 1 parts of one language pair."""

    train: Parallel
    val: Parallel
    test: Parallel
    src_lang: str
    tgt_lang: str
    test_name: str = "test_2016_flickr"

    def head(self, n_train=0, n_eval=0):
        """The first n_train training pairs and n_eval validation and test pairs (0: all of that part)."""
        cut = lambda p, n: Parallel(p.src[:n], p.tgt[:n]) if n else p
        return Bitext(cut(self.train, n_train), cut(self.val, n_eval), cut(self.test, n_eval), self.src_lang,
                      self.tgt_lang, self.test_name)

    def info(self):
        return {"name": NAME, "src_lang": self.src_lang, "tgt_lang": self.tgt_lang, "test": self.test_name,
                "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)}}


def read_pairs(root, part, src="en", tgt="fr"):
    """Parallel sentences of one task 1 part; DataError when the two sides differ in length or a line is empty."""
    if part not in PARTS:
        raise DataError(f"multi30k: unknown part {part!r}; known: {', '.join(PARTS)}")
    for lang in (src, tgt):
        if lang not in LANGS:
            raise DataError(f"multi30k: unknown language {lang!r}; known: {', '.join(LANGS)}")
    a = read_lines(Path(root) / task1_file(part, src))
    b = read_lines(Path(root) / task1_file(part, tgt))
    if len(a) != len(b):
        raise DataError(f"multi30k {part}: {len(a)} {src} lines but {len(b)} {tgt} lines; a file is truncated "
                        "(re-download with 'deepnet data fetch multi30k')")
    for i, (s, t) in enumerate(zip(a, b), 1):
        if not s.strip() or not t.strip():
            raise DataError(f"{Path(root) / task1_file(part, src if not s.strip() else tgt)}: line {i} is empty")
    return Parallel(a, b)


def load(src="en", tgt="fr", root=None):
    """Task 1 train / val / test_2016_flickr pairs for src -> tgt (raw strings)."""
    root = Path(root) if root is not None else store.locate(NAME, FILES, fetch=True)
    return Bitext(read_pairs(root, "train", src, tgt), read_pairs(root, "val", src, tgt),
                  read_pairs(root, "test_2016_flickr", src, tgt), src, tgt)


def load_captions(part="test_2016", lang="en", root=None):
    """Task 2: five lists of descriptions; captions[k][i] is the (k+1)-th description of image i."""
    if part not in TASK2_PARTS:
        raise DataError(f"multi30k task 2: unknown part {part!r}; known: {', '.join(TASK2_PARTS)}")
    root = Path(root) if root is not None else store.locate(NAME, FILES, fetch=True)
    caps = [read_lines(root / task2_file(part, k, lang)) for k in range(1, 6)]
    if len({len(c) for c in caps}) != 1:
        raise DataError(f"multi30k task 2 {part}: the five caption files differ in length "
                        f"({', '.join(str(len(c)) for c in caps)}); a file is truncated")
    return caps


def verify(root=None):
    """Read every required file; check the sentence counts of the task 1 parts and the task 2 test part."""
    root = Path(root) if root is not None else store.locate(NAME, FILES)
    passed = []
    for part, n in PARTS.items():
        pairs = read_pairs(root, part, "en", "fr")
        if len(pairs) != n:
            raise DataError(f"multi30k {part}: {len(pairs)} pairs, expected {n:,}; re-download it")
        passed.append(f"task1 {part}: {n:,} English-French pairs")
    caps = load_captions("test_2016", root=root)
    if len(caps[0]) != TASK2_PARTS["test_2016"]:
        raise DataError(f"multi30k task 2 test_2016: {len(caps[0])} images, expected 1,000; re-download it")
    passed.append("task2 test_2016: 5 x 1,000 English descriptions")
    return passed
