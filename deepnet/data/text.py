"""Text corpora for language models: Tiny Shakespeare (characters), Brown (words), PTB-format files.

Each corpus is a running text turned into one stream of token ids; a part (train, validation,
test) is the ArrayDataset x = ids[:-1], y = ids[1:] (next-token targets, both (N,) int64), and
Splits.classes is the vocabulary (index = id). Language models cut these streams into batches
themselves (truncated backprop through time), so nothing here knows a model.

    tinyshakespeare  tinyshakespeare/input.txt (char-rnn); characters; first 90% train, last 10%
                     validation, as nanoGPT's shakespeare_char prepare.py splits it; no test part.
    brown            nltk_data/corpora/brown.zip (files brown/ca01 ... brown/cr09, "word/tag" tokens);
                     words in file order; first 800,000 train, next 200,000 validation, the rest
                     test (Bengio et al. 2003, section 4.1); words seen <= 3 times in training -> <unk>.
    ptb              ptb/ptb.{train,valid,test}.txt (Mikolov's preprocessing: one sentence per line,
                     <unk> already in place); each line ends with <eos>.

Validation and test parts start one token early, so that each of their tokens is a target.
"""

import re
import zipfile
from collections import Counter
from pathlib import Path

import torch

from deepnet.data import store
from deepnet.data.common import ArrayDataset, Splits
from deepnet.errors import DataError

UNK = "<unk>"
EOS = "<eos>"


def _read_text(path):
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); re-download it") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def _part(ids):
    ids = torch.as_tensor(ids, dtype=torch.int64)
    return ArrayDataset(ids[:-1], ids[1:]) if len(ids) > 1 else ArrayDataset(ids[:0], ids[:0])


def build_vocab(tokens, min_count=1, specials=()):
    """Tokens seen at least `min_count` times, most frequent first (ties by first appearance), after `specials`."""
    counts = Counter(tokens)
    order = {}
    for t in tokens:
        order.setdefault(t, len(order))
    kept = sorted((t for t, n in counts.items() if n >= min_count and t not in specials),
                  key=lambda t: (-counts[t], order[t]))
    return list(specials) + kept


def encode(tokens, vocab, unk=UNK):
    """Ids of tokens in vocab (a list); unknown tokens map to `unk` (which must be in vocab)."""
    index = {t: i for i, t in enumerate(vocab)}
    u = index.get(unk)
    if u is None and any(t not in index for t in tokens):
        missing = next(t for t in tokens if t not in index)
        raise KeyError(missing)
    return [index.get(t, u) for t in tokens]


class Corpus:
    """One text corpus with the dataset-module interface (NAME, DESCRIPTION, ..., load, verify)."""

    def __init__(self, name, description, licence, source, files):
        self.NAME, self.DESCRIPTION, self.LICENCE, self.SOURCE, self.FILES = name, description, licence, source, files

    def find_root(self):
        return store.find(self.FILES)

    def locate(self):
        return store.locate(self.NAME if self.NAME != "brown" else "nltk_data", self.FILES, fetch=True)


# ---------------------------------------------------------------------------------------------
# Tiny Shakespeare


class _Shakespeare(Corpus):
    def text(self):
        return _read_text(self.locate() / "tinyshakespeare/input.txt")

    def load(self, seed=0, train_fraction=0.9):
        """Character Splits: first 90% train, last 10% validation (nanoGPT's split), empty test.

        The vocabulary is every character of the whole file (65), as nanoGPT builds it.
        """
        text = self.text()
        vocab = sorted(set(text))
        ids = encode(list(text), vocab)
        n = int(len(ids) * train_fraction)
        return Splits(name=self.NAME, train=_part(ids[:n]), val=_part(ids[n - 1:]), test=_part([]), classes=vocab,
                      input_shape=(), licence=self.LICENCE,
                      notes="first 90% train / last 10% validation (nanoGPT shakespeare_char); no test part")

    def verify(self, root=None):
        root = Path(root) if root else self.locate()
        text = _read_text(root / "tinyshakespeare/input.txt")
        if len(text) != 1115394 or len(set(text)) != 65:
            raise DataError(f"{root}/tinyshakespeare/input.txt: {len(text)} characters, {len(set(text))} distinct; "
                            "expected 1,115,394 and 65: re-download it")
        return [f"tinyshakespeare/input.txt: {len(text):,} characters, 65 distinct"]


tinyshakespeare = _Shakespeare(
    "tinyshakespeare", "Tiny Shakespeare: 1,115,394 characters of plays, 65 distinct characters (char-rnn)",
    "public domain text", "https://github.com/karpathy/char-rnn (data/tinyshakespeare/input.txt)",
    ("tinyshakespeare/input.txt",))


# ---------------------------------------------------------------------------------------------
# Brown


_BROWN_FILE = re.compile(r"brown/c[a-r]\d\d$")


def read_brown_zip(path, lowercase=True):
    """Word tokens of the Brown corpus in file order (ca01 ... cr09), tags stripped.

    Each token is "word/tag"; the word is everything before the last "/" (words may hold "/").
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = sorted(n for n in z.namelist() if _BROWN_FILE.match(n))
            if not names:
                raise DataError(f"{path}: no Brown text files (brown/ca01 ...) inside; re-download brown.zip")
            tokens = []
            for n in names:
                for tok in z.read(n).decode("utf-8", errors="replace").split():
                    word = tok.rsplit("/", 1)[0]
                    tokens.append(word.lower() if lowercase else word)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable zip ({store.one_line(e)}); re-download it with "
                        "'deepnet data fetch nltk_data'") from None
    return tokens


class _Brown(Corpus):
    def tokens(self, lowercase=True):
        return read_brown_zip(self.locate() / "nltk_data/corpora/brown.zip", lowercase)

    def load(self, seed=0, n_train=800_000, n_val=200_000, min_count=4, lowercase=True):
        """Word Splits as Bengio et al. 2003 cut Brown: 800,000 / 200,000 / the rest.

        Words occurring fewer than `min_count` times in the training part become <unk> (the paper:
        "rare words with frequency <= 3 were merged into a single symbol"). The paper kept case;
        lowercase=True (our default) folds it, which shrinks the vocabulary.
        """
        tokens = self.tokens(lowercase)
        vocab = build_vocab(tokens[:n_train], min_count=min_count, specials=(UNK,))
        ids = encode(tokens, vocab)
        return Splits(name=self.NAME, train=_part(ids[:n_train]), val=_part(ids[n_train - 1:n_train + n_val]),
                      test=_part(ids[n_train + n_val - 1:]), classes=vocab, input_shape=(), licence=self.LICENCE,
                      notes=f"{len(tokens):,} tokens; train {n_train:,}, validation {n_val:,}, test "
                            f"{len(tokens) - n_train - n_val:,}; |V| = {len(vocab):,} (count >= {min_count} in train, "
                            f"lowercase={lowercase})")

    def verify(self, root=None):
        root = Path(root) if root else self.locate()
        tokens = read_brown_zip(root / "nltk_data/corpora/brown.zip")
        if len(tokens) != 1161192:
            raise DataError(f"brown.zip holds {len(tokens):,} tokens, expected 1,161,192: re-download it")
        return [f"nltk_data/corpora/brown.zip: {len(tokens):,} tokens in 500 texts"]


brown = _Brown(
    "brown", "Brown corpus: 1,161,192 words of American English in 500 texts (NLTK's copy, tags dropped)",
    "non-commercial research (see the corpus README)",
    "https://www.nltk.org/nltk_data/ (corpora/brown.zip)", ("nltk_data/corpora/brown.zip",))


# ---------------------------------------------------------------------------------------------
# PTB format


def read_ptb(path):
    """Word tokens of a PTB-format file: whitespace-separated words, <eos> closing every line."""
    tokens = []
    for line in _read_text(path).splitlines():
        words = line.split()
        if words:
            tokens.extend(words)
            tokens.append(EOS)
    return tokens


class _PTB(Corpus):
    def load(self, seed=0):
        """Word Splits of Mikolov's PTB files; the vocabulary is the training file's (10,000 words with <unk>)."""
        root = self.locate()
        train, val, test = (read_ptb(root / f"ptb/ptb.{p}.txt") for p in ("train", "valid", "test"))
        vocab = build_vocab(train, specials=(EOS, UNK))
        return Splits(name=self.NAME, train=_part(encode(train, vocab)), val=_part(encode(val, vocab)),
                      test=_part(encode(test, vocab)), classes=vocab, input_shape=(), licence=self.LICENCE,
                      notes="Mikolov's train/valid/test files")

    def verify(self, root=None):
        root = Path(root) if root else store.locate(self.NAME, ("ptb/ptb.valid.txt", "ptb/ptb.test.txt"))
        out = []
        for p, n in (("valid", 73760), ("test", 82430)):
            got = len(read_ptb(root / f"ptb/ptb.{p}.txt"))
            if got != n:
                raise DataError(f"{root}/ptb/ptb.{p}.txt: {got:,} tokens with <eos>, expected {n:,}: re-download it")
            out.append(f"ptb/ptb.{p}.txt: {got:,} tokens with <eos>")
        return out


ptb = _PTB("ptb", "Penn Treebank, Mikolov's preprocessing: 10,000-word vocabulary, one sentence per line",
           "derived from LDC Penn Treebank (research use)",
           "http://www.fit.vutbr.cz/~imikolov/rnnlm/ (simple-examples)",
           ("ptb/ptb.train.txt", "ptb/ptb.valid.txt", "ptb/ptb.test.txt"))
