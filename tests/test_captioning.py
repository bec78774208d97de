"""Captioning: the scenes grammar, the Karpathy JSON loader, masking, beam = greedy, overfitting, `deepnet caption`."""

import json
import re

import numpy as np
import pytest
import torch

from deepnet.cli import main
from deepnet.core.train import TrainConfig
from deepnet.data import scenes
from deepnet.data.common import ArrayDataset, Splits
from deepnet.errors import DataError
from deepnet.systems import captioning


def _fake_part(n=60, seed=0):
    """Scenes of random 'photos' (no CIFAR-10 needed): 20 per class."""
    rng = np.random.default_rng(seed)
    photos = rng.integers(0, 256, size=(200, 3, 32, 32), dtype=np.uint8)
    return scenes.make_part(photos, np.repeat(np.arange(10), 20), n, seed)


def test_every_caption_names_only_objects_present_in_the_right_places():
    part = _fake_part(300)
    assert set(part.grids.tolist()) == {2, 3}
    for i in range(len(part)):
        grid, cells = int(part.grids[i]), part.cells[i].tolist()
        assert len(part.refs[i]) >= 1 and len(part.refs[i]) == len(part.grounding[i])
        present = {scenes.NOUNS[k] for k in cells if k >= 0}
        for ref, ground in zip(part.refs[i], part.grounding[i]):
            words = ref.split()
            assert len(words) == len(ground)
            for t, w in enumerate(words):
                if w in scenes.NOUNS or w in scenes.PLURALS.values():
                    noun = w[:-1] if w not in scenes.NOUNS else w
                    assert noun in present, (ref, cells)
                    assert ground[t] and all(cells[c] == scenes.NOUNS.index(noun) for c in ground[t]), (ref, cells)
                    if w != noun:  # a plural names every cell of its class, and it occurs more than once
                        assert len(ground[t]) >= 2
            # absolute places: "a NOUN in/at/on PLACE" names the cell of that noun
            for phrase, cell in ((p, c) for c, p in enumerate(scenes.PLACES[grid])):
                for m in re.finditer(rf"a (\w+) {phrase}(?= and|$)", ref):
                    assert cells[cell] == scenes.NOUNS.index(m.group(1)), (ref, cells)
            # "a X REL a Y" of the two-object phrasing: the relation of X's cell to Y's cell
            m = re.fullmatch(r"a (\w+) (.+) a (\w+)", ref)
            if m and " in " not in ref and " it" not in ref:
                objs = [(c, k) for c, k in enumerate(cells) if k >= 0]
                (c0, _), (c1, _) = objs
                assert m.group(2) == scenes.relation(c0, c1, grid)


def test_relations_and_region_cells():
    assert scenes.relation(0, 3, 2) == "above and left of"
    assert scenes.relation(5, 4, 3) == "right of"
    assert scenes.relation(7, 1, 3) == "below"
    assert scenes.region_cells(2, 8).view(8, 8)[3, 4] == 1 and scenes.region_cells(2, 8).view(8, 8)[4, 3] == 2
    assert scenes.region_cells(3, 8).view(8, 8)[7, 7] == 8


def test_the_generator_is_seeded():
    a, b = _fake_part(20, seed=3), _fake_part(20, seed=3)
    assert torch.equal(a.images, b.images) and a.refs == b.refs


def test_karpathy_json_loader(tmp_path):
    from PIL import Image

    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    images = []
    for k, split in enumerate(["train", "restval", "val", "test"]):
        Image.new("RGB", (40 + k, 30), (10 * k, 0, 0)).save(tmp_path / "imgs" / "sub" / f"{k}.jpg")
        images.append({"filename": f"{k}.jpg", "filepath": "sub", "split": split,
                       "sentences": [{"tokens": ["a", "dog", str(k)], "raw": "A dog."}, {"raw": "Another One"}]})
    path = tmp_path / "dataset_flickr8k.json"
    path.write_text(json.dumps({"images": images, "dataset": "flickr8k"}))
    data = scenes.read_karpathy(path, tmp_path / "imgs")
    assert (len(data.train), len(data.val), len(data.test)) == (2, 1, 1)
    assert data.train.images.shape == (2, 3, 64, 64) and data.train.images.dtype == torch.uint8
    assert data.train.refs[1] == ["a dog 1", "another one"]
    assert data.test.refs == [["a dog 3", "another one"]]
    (tmp_path / "imgs" / "sub" / "3.jpg").unlink()
    with pytest.raises(DataError, match="3.jpg"):
        scenes.read_karpathy(path, tmp_path / "imgs")
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        scenes.read_karpathy(path, tmp_path / "imgs")


def _tiny(attention="soft", **kw):
    cfg = captioning.Config(attention=attention, channels=(4, 8, 8), embed=12, hidden=24, attn_size=10,
                            dropout=0.0, **kw)
    return captioning.Captioner(cfg, 20)


def test_padding_never_changes_a_caption():
    torch.manual_seed(0)
    model = _tiny().eval()
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    short = torch.tensor([[5, 6, 3]])
    long = torch.tensor([[5, 6, 3, 0, 0], [7, 8, 9, 10, 3]])
    with torch.no_grad():
        la, _ = model(x[:1], short)
        lb, _ = model(x, long)
    assert torch.allclose(la[0], lb[0, :3], atol=1e-5)
    # masked regions get no weight and change nothing
    dec = model.decoder
    feats = torch.randn(1, 6, 8)
    padded = torch.cat([feats, torch.randn(1, 3, 8)], 1)
    mask = torch.tensor([[True] * 6 + [False] * 3])
    inp = torch.tensor([[2, 5, 6]])
    a1, w1 = dec(feats, None, inp)
    a2, w2 = dec(padded, mask, inp)
    assert torch.allclose(a1, a2, atol=1e-5) and float(w2[..., 6:].detach().abs().max()) == 0.0


def test_beam_of_one_equals_greedy_and_a_wider_beam_is_no_less_likely():
    torch.manual_seed(1)
    model = _tiny().eval()
    x = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    g, ga = model.greedy(x, max_len=8)
    b, ba = model.beam_search(x, beam=1, max_len=8)
    assert g == b
    for u, v in zip(ga, ba):
        assert torch.allclose(u, v, atol=1e-6)
    wide, _ = model.beam_search(x, beam=4, max_len=8)

    def logp(ids, i):
        y = torch.tensor([ids + [captioning.EOS]])
        logits, _ = model(x[i:i + 1], y)
        return float(torch.log_softmax(logits, -1).gather(2, y[:, :, None]).sum())

    for i in range(4):
        if len(g[i]) < 8 and len(wide[i]) < 8:  # both ended before the limit
            assert logp(wide[i], i) >= logp(g[i], i) - 1e-4


def test_no_attention_decoder_has_no_attention():
    model = _tiny("none").eval()
    ids, att = model.greedy(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8), max_len=5)
    assert att == [None, None] and model.decoder.attn is None


def _splits(part, vocab, features=None):
    index = {w: i for i, w in enumerate(vocab)}
    y = captioning.pad_batch([captioning.encode(r[0], index) for r in part.refs])
    x = part.images if features is None else features
    ds = ArrayDataset(x, y)
    s = Splits(name="scenes", train=ds, val=ds, test=ds, input_shape=(3, 64, 64), extra={"vocab": vocab})
    s.scenes = scenes.Scenes("scenes", part, part, part)
    return s


def test_overfits_a_few_scenes_exactly():
    torch.manual_seed(0)
    part = _fake_part(6, seed=5)
    part.refs = [[r[0]] for r in part.refs]
    vocab = captioning.make_vocab([r[0] for r in part.refs])
    feats = torch.randn(6, 16, 8)  # distinct region features stand in for the encoder's
    data = _splits(part, vocab, feats)
    cfg = captioning.Config(channels=(8,), embed=16, hidden=48, attn_size=16, dropout=0.0, alpha_c=0.0)
    model = captioning.build({"model": captioning.asdict(cfg), "data": {"vocab": vocab}})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(150):  # full-batch steps on the six scenes
        _, loss = model(data.train.x, data.train.y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    ids, _ = model.greedy(feats, max_len=30)
    assert [captioning.decode(i, vocab) for i in ids] == [r[0] for r in part.refs]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.manual_seed(0)
    part = _fake_part(16, seed=2)
    vocab = captioning.make_vocab([r for refs in part.refs for r in refs])
    data = _splits(part, vocab)
    cfg = captioning.Config(channels=(4, 8, 8), embed=8, hidden=16, attn_size=8)
    model = captioning.build({"model": captioning.asdict(cfg), "data": {"vocab": vocab}})
    out = tmp_path_factory.mktemp("cap") / "run"
    captioning.fit(model, data, TrainConfig(epochs=1, batch_size=8, device="cpu", progress=False), out,
                   captioning.run_config_for(cfg, data), test=False)
    return out


def test_caption_command(run_dir, tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (123, 77), (200, 10, 10)).save(tmp_path / "photo.png")
    assert main(["--threads", "1", "caption", "--run", str(run_dir), str(tmp_path / "photo.png"),
                 "--attention-png", str(tmp_path / "att.png"), "--beam", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(str(tmp_path / "photo.png") + ": ") and (tmp_path / "att.png").stat().st_size > 0


def test_caption_command_bad_input_is_one_line(run_dir, tmp_path, capsys):
    (tmp_path / "junk.png").write_bytes(b"not an image")
    assert main(["caption", "--run", str(run_dir), str(tmp_path / "junk.png"), str(tmp_path / "absent.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("deepnet: error: ") for line in err)
    assert main(["caption", "--run", str(tmp_path / "nowhere"), str(tmp_path / "junk.png")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder" in err[0]
    assert main(["caption", "--run", str(run_dir), "x.png", "--beam", "0"]) == 2
