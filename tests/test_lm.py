"""Text corpora, language models (RNN LM, NPLM, Kneser-Ney n-grams) and their CLI."""

import zipfile

import pytest
import torch

from deepnet.data import text
from deepnet.errors import DataError


def test_vocab_and_encode():
    vocab = text.build_vocab("b a b c b a".split(), min_count=2, specials=(text.UNK,))
    assert vocab == ["<unk>", "b", "a"]
    assert text.encode("a c b".split(), vocab) == [2, 0, 1]


def test_brown_zip_reader(tmp_path):
    path = tmp_path / "brown.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("brown/ca02", "\n\tA/at b/c/nn ./.\n")
        z.writestr("brown/ca01", "\n\tThe/at Jury/nn-tl\n")
        z.writestr("brown/README", "not text")
    assert text.read_brown_zip(path) == ["the", "jury", "a", "b/c", "."]
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="bad.zip: not a readable zip"):
        text.read_brown_zip(tmp_path / "bad.zip")


def test_ptb_reader(tmp_path):
    (tmp_path / "p.txt").write_text(" a b <unk> \n\n c \n")
    assert text.read_ptb(tmp_path / "p.txt") == ["a", "b", "<unk>", "<eos>", "c", "<eos>"]


def test_shakespeare_and_brown_splits(data_dir):
    s = text.tinyshakespeare.load()
    assert len(s.classes) == 65 and len(s.train) + len(s.val) == 1115394 - 1
    torch.testing.assert_close(s.train.x[1:], s.train.y[:-1])  # y is x shifted by one
    b = text.brown.load()
    assert len(b.train) == 800_000 - 1 and len(b.val) == 200_000 and len(b.test) == 1161192 - 1_000_000
    assert b.classes[0] == text.UNK and b.train.y.max() < len(b.classes)
