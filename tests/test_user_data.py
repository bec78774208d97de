"""The user's own data (`--data PATH`, deepnet/data/user.py): small real datasets written by the test
(pictures drawn with PIL, a text, idx files, a .npz) are recognised, split, trained on, evaluated and
used through the CLI; bad input gets one line and leaves no run folder."""

import gzip
import json
import struct

import numpy as np
import pytest
import torch

from deepnet.cli import main
from deepnet.data import user
from deepnet.errors import DataError

CLASSES = ("circle", "square", "triangle")


def draw(cls, rng, size=None, mode="RGB"):
    from PIL import Image, ImageDraw

    s = size or int(rng.integers(20, 28))
    im = Image.new(mode, (s, s), 0 if mode == "L" else tuple(int(v) for v in rng.integers(0, 80, 3)))
    d = ImageDraw.Draw(im)
    a, b = (int(v) for v in rng.integers(2, 6, 2))
    c = s - int(rng.integers(2, 6))
    fill = 255 if mode == "L" else tuple(int(v) for v in rng.integers(150, 255, 3))
    if cls == "circle":
        d.ellipse([a, b, c, c], fill=fill)
    elif cls == "square":
        d.rectangle([a, b, c, c], fill=fill)
    else:
        d.polygon([(a, c), (c, c), ((a + c) // 2, b)], fill=fill)
    return im


def shapes(folder, n=30, seed=0, mode="RGB", size=None, classes=CLASSES):
    rng = np.random.default_rng(seed)
    for cls in classes:
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            draw(cls, rng, size, mode).save(folder / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    return folder


def one_line_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("deepnet: error:")]
    assert len(errors) == 1, err
    return errors[0]


def test_a_path_is_told_from_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not user.is_path("mnist") and user.is_path("./mnist") and user.is_path("a/b")
    (tmp_path / "mine").mkdir()
    assert user.is_path("mine")


def test_folder_of_classes_is_split_per_class_and_converted_to_one_size(tmp_path, capsys):
    root = shapes(tmp_path / "shapes", n=20)
    from PIL import Image

    Image.new("RGB", (50, 40)).save(root / "circle" / "big.bmp")  # another size: resized
    (root / "square" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n...")  # truncated: skipped, named
    data = user.load(root, "images", seed=3)
    assert "broken.png" in capsys.readouterr().err
    assert data.classes == list(CLASSES) and data.input_shape[0] == 3 and len(data.input_shape) == 3
    sizes = [len(getattr(data, p)) for p in ("train", "val", "test")]
    assert sum(sizes) == 61 and sizes[1] == sizes[2] == 6  # 10% of each class's 20 (21) pictures, at least 1
    for p in ("train", "val", "test"):
        assert getattr(data, p).x.dtype == torch.uint8 and set(getattr(data, p).y.tolist()) == {0, 1, 2}
    again = user.load(root, "images", seed=3)
    assert torch.equal(again.test.x, data.test.x)  # the split is fixed by the seed
    grey = user.load(shapes(tmp_path / "grey", n=5, mode="L", size=16), "images")
    assert grey.input_shape == (1, 16, 16)


def test_presplit_folders_idx_files_and_npz_are_recognised(tmp_path):
    for part, n in (("train", 12), ("val", 3), ("test", 3)):
        shapes(tmp_path / "pre" / part, n=n, size=20, seed=len(part))
    data = user.load(tmp_path / "pre", "images")
    assert [len(data.train), len(data.val), len(data.test)] == [36, 9, 9] and data.input_shape == (3, 20, 20)

    idx = tmp_path / "idx"
    idx.mkdir()
    rng = np.random.default_rng(0)

    def write_idx(name, array, code):
        header = struct.pack(">BBBB", 0, 0, code, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
        (idx / name).write_bytes(gzip.compress(header + array.tobytes()))

    for part, n in (("train", 50), ("t10k", 20)):
        write_idx(f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 12, 10), dtype=np.uint8), 0x08)
        write_idx(f"{part}-labels-idx1-ubyte.gz", (np.arange(n) % 4).astype(np.uint8), 0x08)
    data = user.load(idx, "images")
    assert data.input_shape == (1, 12, 10) and data.classes == ["0", "1", "2", "3"]
    assert [len(data.train), len(data.val), len(data.test)] == [45, 5, 20]

    x = rng.random((40, 9, 9, 3)).astype(np.float32)
    np.savez(tmp_path / "arrays.npz", x=x, y=np.arange(40) % 2, classes=np.array(["no", "yes"]))
    data = user.load(tmp_path / "arrays.npz", "images")
    assert data.input_shape == (3, 9, 9) and data.classes == ["no", "yes"] and data.train.x.dtype == torch.uint8
    np.savez(tmp_path / "bad.npz", x=x, y=np.arange(39))
    with pytest.raises(DataError, match="y must be"):
        user.load(tmp_path / "bad.npz", "images")


@pytest.mark.parametrize("make,message", [
    (lambda r: (r / "a").mkdir(parents=True), "no class subfolders|empty class folder"),
    (lambda r: (shapes(r, n=4), (r / "empty").mkdir()), "empty class folder"),
    (lambda r: shapes(r, n=2), "at least 3 are needed"),
    (lambda r: (r.mkdir(), (r / "x.txt").write_text("hi")), "no class subfolders"),
])
def test_bad_image_folders_get_one_line(make, message, tmp_path):
    make(tmp_path / "data")
    with pytest.raises(DataError, match=message):
        user.load(tmp_path / "data", "images")


def test_a_convnet_trains_on_a_new_dataset_and_classify_names_its_classes(tmp_path, capsys):
    root = shapes(tmp_path / "shapes", n=40)
    run = tmp_path / "run"
    assert main(["--threads", "1", "train", "convnet", "--data", str(root), "--epochs", "25", "--batch-size", "16",
                 "--lr", "0.01", "--no-progress", "--device", "cpu", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "3 classes" in out and "pictures converted to 3 channel(s)" in out
    info = json.loads((run / "config.json").read_text())["data"]
    assert info["classes"] == list(CLASSES) and info["path"] == str(root.resolve()) and info["format"] == "folder"
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] >= 0.8  # 1.0 when written (12 test pictures)
    rng = np.random.default_rng(99)
    for cls in CLASSES:  # pictures it has never seen, of another size
        draw(cls, rng, size=40).save(tmp_path / f"new_{cls}.png")
    assert main(["classify", "--run", str(run), "--top", "1", *(str(tmp_path / f"new_{c}.png") for c in CLASSES)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(": ")[1].split()[0] for line in lines] == list(CLASSES)
    # evaluated on another folder of the same classes, given at eval time
    assert main(["eval", "--run", str(run), "--device", "cpu", "--data", str(shapes(tmp_path / "more", n=10, seed=5)),
                 "--split", "train"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] >= 0.8
    other = shapes(tmp_path / "other", n=5, classes=("cat", "dog"))
    assert main(["eval", "--run", str(run), "--data", str(other)]) != 0
    assert "are not the ones" in one_line_error(capsys)


def test_text_of_ones_own_trains_a_language_model_and_samples_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to the park while birds sang".split()
    (tmp_path / "story.txt").write_text("\n".join(" ".join(rng.choice(words, 10)) for _ in range(300)))
    run = tmp_path / "lm"
    assert main(["--threads", "1", "train", "rnn_lm", "--data", str(tmp_path / "story.txt"), "--hidden", "64",
                 "--embed", "32", "--max-steps", "60", "--no-progress", "--device", "cpu", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["bits_per_token"] < 3.0  # 16 letters and a space: log2(17) = 4.1
    assert main(["sample", "--run", str(run), "--prime", "the ", "--length", "30"]) == 0
    assert capsys.readouterr().out.strip()
    run2 = tmp_path / "nplm"
    assert main(["--threads", "1", "train", "nplm", "--data", str(tmp_path / "story.txt"), "--epochs", "2",
                 "--no-progress", "--device", "cpu", "--out", str(run2)]) == 0
    assert json.loads((run2 / "config.json").read_text())["data"]["classes"][0] == "<unk>"


def test_bad_text_and_mismatched_data_get_one_line_and_no_run_folder(tmp_path, capsys):
    (tmp_path / "latin1.txt").write_bytes("café au lait ".encode("latin-1") * 50)
    cases = [(["rnn_lm", "--data", str(tmp_path / "latin1.txt")], "not UTF-8 text"),
             (["rnn_lm", "--data", str(tmp_path / "nothing.txt")], "no such file or folder"),
             (["convnet", "--data", str(tmp_path / "latin1.txt")], "must be a .npz"),
             (["memory_network", "--data", str(tmp_path / "latin1.txt")], "not UTF-8 text")]
    for args, message in cases:
        assert main(["--threads", "1", "train", *args, "--out", str(tmp_path / "run"), "--no-progress"]) != 0
        assert message in one_line_error(capsys), args
        assert not (tmp_path / "run").exists()


def write_pairs(folder, seed=0):
    """An English -> French toy corpus laid out as OpenNMT/JoeyNMT lay theirs: train/valid/test .en/.fr."""
    rng = np.random.default_rng(seed)
    lex = {"the": "le", "a": "un", "red": "rouge", "blue": "bleu", "big": "grand", "small": "petit", "cat": "chat",
           "dog": "chien", "man": "homme", "woman": "femme", "sees": "voit", "runs": "court", "eats": "mange"}
    folder.mkdir(parents=True)
    for part, n in (("train", 600), ("valid", 30), ("test", 30)):
        en = [" ".join([rng.choice(["the", "a"]), rng.choice(["red", "blue", "big", "small"]),
                        rng.choice(["cat", "dog", "man", "woman"]), rng.choice(["sees", "runs", "eats"])]) for _ in range(n)]
        (folder / f"{part}.en").write_text("\n".join(en) + "\n")
        (folder / f"{part}.fr").write_text("\n".join(" ".join(lex[w] for w in s.split()) for s in en) + "\n")
    return folder


def test_parallel_files_of_ones_own_train_a_translator(tmp_path, capsys):
    data = user.load(write_pairs(tmp_path / "en-fr"), "parallel")
    assert (data.src_lang, data.tgt_lang) == ("en", "fr") and [len(data.train), len(data.val), len(data.test)] == [600, 30, 30]
    assert data.train.tgt[0].split()[2] in ("chat", "chien", "homme", "femme")
    run = tmp_path / "mt"
    assert main(["--threads", "1", "train", "seq2seq", "--data", str(tmp_path / "en-fr"), "--src-vocab", "128",
                 "--tgt-vocab", "128", "--embed", "32", "--hidden", "64", "--attn-size", "32", "--layers", "1",
                 "--epochs", "25", "--optimizer", "adamw", "--lr", "1e-2", "--no-progress", "--device", "cpu",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["translate", "--run", str(run), "the red cat runs", "a small woman eats"]) == 0
    assert capsys.readouterr().out.split("\n")[:2] == ["le rouge chat court", "un petit femme mange"]
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["loss"] < 1.0 and out["bleu_greedy"] > 80 and out["sentences"] == 30  # 100.0 when written


def test_tsv_pairs_and_bad_parallel_data(tmp_path):
    lines = [f"src {i}\ttgt {i}" for i in range(40)]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n")
    data = user.load(tmp_path / "pairs.tsv", "parallel", seed=1)
    assert [len(data.train), len(data.val), len(data.test)] == [36, 2, 2]
    assert sorted(data.train.src + data.val.src + data.test.src) == sorted(line.split("\t")[0] for line in lines)
    (tmp_path / "bad.tsv").write_text("\n".join(lines[:30] + ["no tab here"]) + "\n")
    with pytest.raises(DataError, match="line 31 is not"):
        user.load(tmp_path / "bad.tsv", "parallel")
    folder = write_pairs(tmp_path / "short")
    (folder / "valid.fr").write_text("le chat\n")
    with pytest.raises(DataError, match="has 30 lines but .* has 1"):
        user.load(folder, "parallel")


def write_stories(path, n_stories, seed=0):
    """bAbI task 1 style: people move between places; 'Where is X?' answered by the last place X went to."""
    rng = np.random.default_rng(seed)
    people, places = ["mary", "john", "sandra", "daniel"], ["kitchen", "garden", "office", "hallway", "bathroom"]
    lines = []
    for _ in range(n_stories):
        where, i = {}, 0
        for _ in range(3):
            for _ in range(2):
                p, q = rng.choice(people), rng.choice(places)
                i += 1
                where[p] = (q, i)
                lines.append(f"{i} {p.capitalize()} went to the {q}.")
            p = rng.choice(sorted(where))
            i += 1
            lines.append(f"{i} Where is {p.capitalize()}?\t{where[p][0]}\t{where[p][1]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_stories_of_ones_own_train_a_memory_network_that_answers(tmp_path, capsys):
    folder = tmp_path / "moves"
    folder.mkdir()
    write_stories(folder / "moves_train.txt", 300)
    write_stories(folder / "moves_test.txt", 40, seed=1)
    data = user.load(folder, "stories")
    assert len(data.train) + len(data.val) == 900 and len(data.test) == 120 and "kitchen" in data.classes
    assert data.name == "moves"  # the folder's name (the built-in set keeps "babi": the SIGKILL resume reads it)
    run = tmp_path / "run"
    assert main(["--threads", "1", "train", "memory_network", "--data", str(folder), "--epochs", "30",
                 "--no-progress", "--device", "cpu", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] > 0.9 and out["error_rate"] == pytest.approx(1 - out["accuracy"])
    (tmp_path / "story.txt").write_text("Mary went to the garden.\nJohn went to the office.\n")
    assert main(["answer", "--run", str(run), "--story", str(tmp_path / "story.txt"), "--question",
                 "Where is Mary?"]) == 0
    assert "garden" in capsys.readouterr().out
    bad = tmp_path / "bad.txt"
    bad.write_text("1 Where is Mary?\tkitchen\t\n")
    with pytest.raises(DataError, match="question before any sentence"):
        user.load(bad, "stories")


def test_a_folder_too_large_to_hold_is_read_batch_by_batch_and_trains_the_same(tmp_path, monkeypatch, capsys):
    from deepnet.core.checkpoint import load_checkpoint

    root = shapes(tmp_path / "shapes", n=20)
    eager = user.load(root, "images")
    monkeypatch.setenv("DEEPNET_LAZY_BYTES", "1000")  # any folder is "too large": decoded per batch
    lazy = user.load(root, "images")
    assert isinstance(lazy.train.x, user.LazyPictures) and "read lazily" in lazy.notes
    idx = torch.tensor([5, 0, 3])
    assert torch.equal(lazy.train.x[idx], eager.train.x[idx]) and torch.equal(lazy.test.x[0:4], eager.test.x[0:4])
    assert torch.equal(lazy.train.y, eager.train.y)
    runs = {}
    for name, env in (("eager", str(10 ** 12)), ("lazy", "1000")):
        monkeypatch.setenv("DEEPNET_LAZY_BYTES", env)
        runs[name] = tmp_path / name
        assert main(["--threads", "1", "train", "convnet", "--data", str(root), "--epochs", "3", "--batch-size", "16",
                     "--lr", "0.01", "--no-progress", "--device", "cpu", "--out", str(runs[name])]) == 0
    a, b = (load_checkpoint(runs[n] / "checkpoint.pt")["model"] for n in ("eager", "lazy"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same batches, decoded when asked for


def write_tones(folder, n=12, seed=0):
    """Class folders of 0.4 s wav recordings at 16 kHz: a low hum, a high whistle, a chirp rising between them."""
    import wave

    rng = np.random.default_rng(seed)
    t = np.arange(int(0.4 * 16000)) / 16000
    kinds = {"low": lambda: np.sin(2 * np.pi * rng.uniform(250, 350) * t),
             "high": lambda: np.sin(2 * np.pi * rng.uniform(1800, 2200) * t),
             "chirp": lambda: np.sin(2 * np.pi * (300 + 2000 * t) * t)}
    for cls, make in kinds.items():
        (folder / cls).mkdir(parents=True)
        for i in range(n):
            x = 0.5 * make() + 0.05 * rng.standard_normal(len(t))
            with wave.open(str(folder / cls / f"{i}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes((x * 32767).astype("<i2").tobytes())
    return folder


def test_sounds_of_ones_own_train_the_frame_dnn_and_transcribe_names_the_classes(tmp_path, capsys):
    root = write_tones(tmp_path / "tones")
    (root / "low" / "junk.wav").write_bytes(b"RIFF....WAVEfmt ")  # truncated: skipped, named
    data = user.load(root, "sounds")
    assert "junk.wav" in capsys.readouterr().err
    assert data.classes == ["chirp", "high", "low"] and sum(len(getattr(data, p)) for p in ("train", "val", "test")) == 36
    run = tmp_path / "run"
    assert main(["--threads", "1", "train", "acoustic_dnn", "--data", str(root), "--epochs", "10", "--batch-size", "4",
                 "--no-progress",
                 "--device", "cpu", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == 1.0
    assert main(["transcribe", "--run", str(run), str(root / "high" / "3.wav")]) == 0
    assert "high" in capsys.readouterr().out.split(":", 1)[1].split()[0]


def test_a_karpathy_caption_json_of_ones_own_trains_the_captioner(tmp_path, capsys, data_dir):
    """Flickr8k/COCO's layout: dataset_x.json with an images/ folder beside it (here: coloured squares)."""
    from PIL import Image

    (tmp_path / "mine" / "images").mkdir(parents=True)
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}
    entries, rng = [], np.random.default_rng(0)
    for k in range(60):
        name = list(colours)[k % 3]
        im = Image.new("RGB", (48, 48), tuple(int(v) for v in rng.integers(0, 60, 3)))
        Image.Image.paste(im, colours[name], (8, 8, 40, 40))
        im.save(tmp_path / "mine" / "images" / f"{k}.png")
        entries.append({"filename": f"{k}.png", "split": "train" if k < 48 else "val" if k < 54 else "test",
                        "sentences": [{"raw": f"a {name} square"}, {"raw": f"one {name} box"}]})
    (tmp_path / "mine" / "dataset_squares.json").write_text(json.dumps({"images": entries}))
    run = tmp_path / "run"
    assert main(["--threads", "1", "train", "captioning", "--data", str(tmp_path / "mine"), "--pretrain-images", "500",
                 "--pretrain-epochs", "1", "--channels", "4", "8", "8", "--embed", "8", "--hidden", "16",
                 "--attn-size", "8", "--epochs", "2", "--batch-size", "16", "--no-progress", "--device", "cpu",
                 "--out", str(run)]) == 0
    info = json.loads((run / "config.json").read_text())["data"]
    assert info["path"].endswith("dataset_squares.json") and info["sizes"]["train"] == 48
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0  # the same JSON read again
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "loss" in out and out["split"] == "test"
