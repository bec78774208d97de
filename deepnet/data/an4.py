"""CMU AN4 (census) speech as Sphinx MFCC features: 948 train + 130 test utterances.

Under a data root: `an4/` (feat/, etc/, LICENSE, README), the Sphinx layout:
- `an4/feat/an4_clstk/<speaker>/<utterance>.mfc` (test: `an4test_clstk/`): a big-endian int32
  count of floats, then that many big-endian float32 values, 13 cepstra per 10 ms frame (16 kHz
  audio, 40 mel filters);
- `an4/etc/an4_{train,test}.fileids` (one `an4_clstk/<speaker>/<utterance>` a line) and
  `an4/etc/an4_{train,test}.transcription` (`ERASE C Q Q F SEVEN (an407-fcaw-b)`, sometimes
  wrapped in `<s> ... </s>`), in the same order;
- `an4/etc/an4.ug.lm`: CMU's unigram word language model of the task, ARPA format.

`load` returns the utterances as the project's padded-utterance tensors (data/audio.py's
pad_utterances): x (N, T_max, 1 + 39), channel 0 the valid-frame mask, then 13 MFCCs, their
deltas and delta-deltas, normalised per utterance (mean 0, variance 1 per coefficient: CMVN);
y (N, L_max) int64 character ids, padded with -1, over ALPHABET (id = position + 1: id 0 is
left for the CTC blank).
"""

from pathlib import Path

import numpy as np
import torch

from deepnet.data import fetching, store
from deepnet.data.common import ArrayDataset, Splits
from deepnet.errors import DataError

NAME = "an4"

# Where the files come from and how a download is checked (the format: fetching.py).
# CMU publishes the audio (an4_sphere.tar.gz, 64 MB); deepnet reads the Sphinx MFCC features, for
#   which we know no canonical download: mirror only. Checked by a tree_sha256 computed by us over
#   the copy from a public repository (1,090 files: feat/, etc/, LICENSE, README).
DOWNLOAD = {
    "description": "CMU AN4 (census) speech as Sphinx MFCC features: 948 train + 130 test utterances",
    "licence": "CMU BSD-style, free for any purpose (an4/LICENSE)",
    "homepage": "http://www.speech.cs.cmu.edu/databases/an4/",
    "checksums": "no published checksum; the whole tree checked by a tree SHA-256 computed by us over a copy "
                 "from a public repository",
    "options": [
        {"label": "Sphinx feature tree (mirror only)", "items": [
            {"tree": "an4", "checks": [
                {"dir": ".", "files": 1090,
                 "sha256": "4e3e5e8c0d1410b25fb74355b3156c1c57434d7438b3527aef415ef2ccb94b2f"}]},
        ]},
    ],
}

DESCRIPTION = "CMU AN4 census speech as Sphinx MFCCs: 948 train / 130 test utterances, letters, digits and words"
LICENCE = "CMU BSD-style, free for any purpose (an4/LICENSE)"
SOURCE = "http://www.speech.cs.cmu.edu/databases/an4/ (Sphinx MFCC feature tree: a mirror)"
FILES = (
    "an4/etc/an4_train.fileids",
    "an4/etc/an4_train.transcription",
    "an4/etc/an4_test.fileids",
    "an4/etc/an4_test.transcription",
    "an4/etc/an4.ug.lm",
    "an4/feat/an4_clstk",
    "an4/feat/an4test_clstk",
)
UNIGRAM_LM = "an4/etc/an4.ug.lm"  # CMU's unigram word LM of the task (ARPA), relative to the data root
ALPHABET = " abcdefghijklmnopqrstuvwxyz'"  # character id = index + 1 (0: the CTC blank)
CEPSTRA = 13  # coefficients per frame in AN4's .mfc files
SIZES = {"train": 948, "test": 130}

_FIX = "re-fetch it with 'deepnet data fetch an4' or replace it with a good copy"


def read_mfc(path, byteorder=">", ncep=CEPSTRA):
    """Sphinx MFC file -> float32 (T, ncep): an int32 count of floats, then the floats.

    AN4's files are big-endian (">"); newer sphinxbase writes little-endian ("<"). A count that
    disagrees with the file's size (a truncated file), or one not a whole number of frames, is a
    one-line DataError naming the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {_FIX}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes, too short for a Sphinx .mfc file; {_FIX}")
    n = int(np.frombuffer(raw[:4], dtype=byteorder + "i4")[0])
    if n < 0 or 4 + 4 * n != len(raw):
        raise DataError(f"{path}: header declares {n} floats ({4 + 4 * n} bytes with it) but the file has "
                        f"{len(raw)} bytes (truncated, or not a {'big' if byteorder == '>' else 'little'}-endian "
                        f".mfc); {_FIX}")
    if n % ncep:
        raise DataError(f"{path}: {n} floats is not a whole number of {ncep}-coefficient frames; {_FIX}")
    x = np.frombuffer(raw, dtype=byteorder + "f4", offset=4).reshape(-1, ncep)  # (T, 13)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: holds non-finite values; {_FIX}")
    return x.astype(np.float32)


def normalise_text(line):
    """Transcript line -> lowercase text: `<s> ERASE C Q Q F SEVEN </s> (an407-fcaw-b)` -> 'erase c q q f seven'."""
    line = line.strip()
    if line.endswith(")") and "(" in line:
        line = line[:line.rindex("(")]
    words = [w for w in line.split() if w not in ("<s>", "</s>", "<sil>")]
    return " ".join(words).lower()


def encode_text(text):
    """Text -> character ids (1..len(ALPHABET)); characters outside ALPHABET are dropped."""
    return [ALPHABET.index(c) + 1 for c in text if c in ALPHABET]


def decode_ids(ids):
    """Character ids -> text (ids outside 1..len(ALPHABET), such as blank 0 or padding -1, are skipped)."""
    return "".join(ALPHABET[i - 1] for i in ids if 1 <= i <= len(ALPHABET))


def features(cepstra):
    """13 MFCCs per frame (T, 13) -> (T, 39): with deltas and delta-deltas, normalised per utterance (CMVN)."""
    from deepnet.data import audio

    c = torch.as_tensor(np.asarray(cepstra, dtype=np.float32))  # (T, 13)
    d1 = audio.deltas(c)  # (T, 13)
    d2 = audio.deltas(d1)
    return audio.cmvn(torch.cat([c, d1, d2], dim=1)).float().numpy()  # (T, 39)


def pad_texts(texts):
    """List of texts -> (N, L_max) int64 character ids, padded with -1."""
    ids = [encode_text(t) for t in texts]
    y = torch.full((len(ids), max(1, max(len(i) for i in ids))), -1, dtype=torch.long)
    for n, i in enumerate(ids):
        y[n, :len(i)] = torch.tensor(i, dtype=torch.long)
    return y


def read_part(root, part):
    """(list of (utterance path, speaker), list of texts) of one official part, in the listing order."""
    root = Path(root)
    ids_path, tr_path = root / f"an4/etc/an4_{part}.fileids", root / f"an4/etc/an4_{part}.transcription"
    try:
        fileids = [s.strip() for s in ids_path.read_text().splitlines() if s.strip()]
        lines = [s for s in tr_path.read_text().splitlines() if s.strip()]
    except FileNotFoundError as e:
        raise DataError(f"{e.filename}: file not found; {_FIX}") from None
    except UnicodeDecodeError:
        raise DataError(f"{ids_path} or {tr_path}: not text; {_FIX}") from None
    if len(fileids) != len(lines):
        raise DataError(f"{tr_path}: {len(lines)} transcripts for the {len(fileids)} utterances of {ids_path}; {_FIX}")
    utts = []
    for fid, line in zip(fileids, lines):
        name = fid.rsplit("/", 1)[-1]
        if line.strip().endswith(")") and f"({name})" not in line:
            raise DataError(f"{tr_path}: transcript {line.strip()!r} is not that of {fid} (the listings disagree); "
                            f"{_FIX}")
        parts = fid.split("/")
        utts.append((root / "an4/feat" / f"{fid}.mfc", parts[-2] if len(parts) > 1 else name))
    return utts, [normalise_text(s) for s in lines]


def _dataset(utts, texts):
    from deepnet.data import audio

    feats = [torch.from_numpy(features(read_mfc(path))) for path, _ in utts]
    return ArrayDataset(audio.pad_utterances(feats).float(), pad_texts(texts))


def speaker_validation(speakers, n_val, seed):
    """(train indices, val indices): whole speakers, drawn in an order fixed by seed, held out until at
    least n_val utterances are (no speaker in both parts, as AN4's own train/test split)."""
    names = sorted(set(speakers))
    g = torch.Generator().manual_seed(seed)
    held, count = set(), 0
    for i in torch.randperm(len(names), generator=g).tolist():
        if count >= n_val:
            break
        held.add(names[i])
        count += sum(s == names[i] for s in speakers)
    val = [i for i, s in enumerate(speakers) if s in held]
    train = [i for i, s in enumerate(speakers) if s not in held]
    return train, val


def load(seed=0, n_val=100, limit=0):
    """AN4 as Splits: train (948 minus the held-out speakers) / val (at least n_val utterances, whole
    speakers chosen by seed) / test (the official 130). x (N, T_max, 40) float32, y (N, L_max) int64.

    limit: read only the first `limit` utterances of each part (0: all), for smoke runs and tests.
    """
    root = fetching.locate(NAME, FILES, DOWNLOAD)
    train_utts, train_texts = read_part(root, "train")
    test_utts, test_texts = read_part(root, "test")
    tr, va = speaker_validation([s for _, s in train_utts], n_val, seed)
    n_spk = len({train_utts[i][1] for i in va})
    te = list(range(len(test_utts)))
    if limit:
        tr, va, te = tr[:limit], va[:limit], te[:limit]
    parts = {"train": ([train_utts[i] for i in tr], [train_texts[i] for i in tr]),
             "val": ([train_utts[i] for i in va], [train_texts[i] for i in va]),
             "test": ([test_utts[i] for i in te], [test_texts[i] for i in te])}

    def build():  # features of every utterance (the slow part: deltas, CMVN), kept decoded in the cache
        arrays = {}
        for part, (utts, texts) in parts.items():
            d = _dataset(utts, texts)
            arrays[f"{part}_x"], arrays[f"{part}_y"] = d.x.numpy(), d.y.numpy()
        return arrays

    sources = [root / f for f in FILES[:4]] + [path for p in parts.values() for path, _ in p[0]]
    arrays = store.cached(f"an4-seed{seed}-val{n_val}-limit{limit}", sources, build)
    part = {k: ArrayDataset(torch.from_numpy(arrays[f"{k}_x"]), torch.from_numpy(arrays[f"{k}_y"])) for k in parts}
    return Splits(
        name=NAME,
        train=part["train"],
        val=part["val"],
        test=part["test"],
        classes=["<blank>"] + list(ALPHABET),
        input_shape=(1 + 3 * CEPSTRA,),
        licence=LICENCE,
        notes=f"validation: {len(va)} utterances of {n_spk} training speakers held out whole, seed {seed}; "
              "features 13 MFCC + deltas + delta-deltas, per-utterance CMVN",
        extra={"features": "mfcc13+d+dd, cmvn per utterance", "alphabet": ALPHABET},
    )


def unigram_lm_path(root=None):
    """Path of CMU's AN4 unigram word LM (ARPA)."""
    root = Path(root) if root is not None else fetching.locate(NAME, FILES, DOWNLOAD)
    return root / UNIGRAM_LM


def train_texts(root=None):
    """Transcripts of the 948 training utterances (lowercase, markers stripped), for estimating a word LM."""
    root = Path(root) if root is not None else fetching.locate(NAME, FILES, DOWNLOAD)
    return read_part(root, "train")[1]


def find_root():
    """The data root holding AN4, or None."""
    return store.find(FILES)


def fetch(root=None, **kwargs):
    """Download the Sphinx feature tree (checked by its tree SHA-256: see DOWNLOAD); returns the data root."""
    return fetching.fetch(NAME, DOWNLOAD, root=root, **kwargs)


def verify(root=None):
    """Check the files on disk: listings agree, every .mfc parses; returns the checks passed."""
    root = Path(root) if root is not None else store.locate(NAME, FILES)
    missing = [f for f in FILES if not (root / f).exists()]
    if missing:
        raise DataError(f"an4: missing under {root}: {', '.join(missing)}; {_FIX}")
    passed = [f"files: listings, transcripts, unigram LM and feature folder present under {root / 'an4'}"]
    for part, n in SIZES.items():
        utts, texts = read_part(root, part)
        if len(utts) != n:
            raise DataError(f"{root}/an4/etc/an4_{part}.fileids: {len(utts)} utterances, expected {n}; {_FIX}")
        frames = sum(len(read_mfc(path)) for path, _ in utts)
        if not all(texts):
            raise DataError(f"{root}/an4/etc/an4_{part}.transcription: an empty transcript; {_FIX}")
        passed.append(f"parse: {part} {n} utterances, {frames} frames of {CEPSTRA} MFCCs, {len({s for _, s in utts})} "
                      "speakers")
    return passed
