"""Text corpora, language models (RNN LM, NPLM, Kneser-Ney n-grams) and their CLI."""

import math
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


# ------------------------------------------------------------------------- recurrent LM


def _tiny_lm_run(tmp_path, data, steps=60, **kw):
    from deepnet.core.train import TrainConfig
    from deepnet.systems import rnn_lm

    mcfg = rnn_lm.Config(embed=16, hidden=48, bptt=16, max_steps=steps, **kw)
    tcfg = TrainConfig(epochs=100, batch_size=8, optimizer="adamw", lr=1e-2, clip_grad=1.0, device="cpu",
                       progress=False, log_every=10)
    run_config = {"system": "rnn_lm", "model": __import__("dataclasses").asdict(mcfg),
                  "data": {**data.info(), "seed": 0}}
    torch.manual_seed(0)
    model = rnn_lm.RNNLM(len(data.classes), mcfg)
    return model, rnn_lm.fit(model, data, tcfg, tmp_path / "run", run_config)


def _small_shakespeare(n=30_000):
    from deepnet.data.common import ArrayDataset, Splits

    s = text.tinyshakespeare.load()
    return Splits("tinyshakespeare", ArrayDataset(s.train.x[:n], s.train.y[:n]),
                  ArrayDataset(s.val.x[:5000], s.val.y[:5000]), ArrayDataset(s.val.x[5000:8000], s.val.y[5000:8000]),
                  classes=s.classes)


def test_char_lstm_learns_shakespeare_and_samples(data_dir, tmp_path):
    from deepnet import load_run
    from deepnet.systems import rnn_lm

    data = _small_shakespeare()
    model, r = _tiny_lm_run(tmp_path, data, steps=150)
    # uniform over 65 characters is ln 65 = 4.17 nats; character frequencies alone give about 3.3
    assert r["best"]["val_loss"] < 2.7, r["best"]
    assert r["test"]["loss"] < 2.8
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "checkpoint.pt", "best.pt", "metrics.jsonl"} <= files
    best = load_run(tmp_path / "run")
    out, notes = rnn_lm.sample(best, "ROMEO:", 40, temperature=0.8, top_k=5, seed=1)
    assert out.startswith("ROMEO:") and len(out) == 46 and not notes
    again, _ = rnn_lm.sample(best, "ROMEO:", 40, temperature=0.8, top_k=5, seed=1)
    assert again == out  # seeded
    with pytest.raises(ValueError, match="never saw: '€'"):
        rnn_lm.sample(best, "ROMEO€", 5)


def test_top_k_one_is_greedy():
    from deepnet.systems import rnn_lm

    torch.manual_seed(0)
    m = rnn_lm.RNNLM(7, rnn_lm.Config(embed=4, hidden=8))
    ids = m.generate([1, 2], 5, top_k=1)
    x, greedy = [1, 2], []
    for _ in range(5):
        nxt = int(m(torch.tensor([x + greedy]))[0][0, -1].argmax())
        greedy.append(nxt)
    assert ids == greedy


def test_written_out_and_fused_lm_agree_and_tie():
    from deepnet.core.recurrent import copy_weights
    from deepnet.systems import rnn_lm

    torch.manual_seed(0)
    a = rnn_lm.RNNLM(11, rnn_lm.Config(embed=8, hidden=8, layers=2, tie=True, fused=True))
    b = rnn_lm.RNNLM(11, rnn_lm.Config(embed=8, hidden=8, layers=2, tie=True, fused=False))
    b.load_state_dict({k: v for k, v in a.state_dict().items() if not k.startswith("rnn.")}, strict=False)
    copy_weights(a.rnn, b.rnn)
    assert b.head.weight is b.embedding.weight
    x = torch.randint(0, 11, (2, 5))
    torch.testing.assert_close(a(x, x)[1], b(x, x)[1])


def test_adaptive_softmax_is_a_distribution_and_learns_brown(data_dir, tmp_path):
    from deepnet.data.common import ArrayDataset, Splits
    from deepnet.errors import ConfigError
    from deepnet.systems import rnn_lm

    torch.manual_seed(0)
    cfg = rnn_lm.Config(level="word", embed=16, hidden=16, softmax="adaptive", cutoffs=(5, 20), cpu_bf16=True)
    m = rnn_lm.RNNLM(50, cfg).eval()
    x, y = torch.randint(0, 50, (3, 7)), torch.randint(0, 50, (3, 7))
    with torch.autocast("cpu", torch.bfloat16):  # the head runs in fp32 under autocast too
        logp, loss, _ = m.step(x, y)
        none, loss2, _ = m.step(x, y, logits=False)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(3, 7))  # normalised over all 50 words
    torch.testing.assert_close(loss, -logp.gather(2, y[..., None]).mean())  # the loss is -log P(y)
    assert none is None and float(loss2.detach()) == float(loss.detach())
    assert len(m.generate([1, 2], 4)) == 4
    for bad, msg in [(dict(tie=True), "--tie"), (dict(cutoffs=(20, 5)), "--cutoffs must increase"),
                     (dict(cutoffs=(5, 49)), "--cutoffs must increase")]:
        with pytest.raises(ConfigError, match=msg):
            rnn_lm.RNNLM(50, rnn_lm.Config(level="word", embed=16, hidden=16, softmax="adaptive", **bad))

    b = text.brown.load()  # learns real words: the first 60,000 training words, ids sorted by frequency
    data = Splits("brown", ArrayDataset(b.train.x[:60_000], b.train.y[:60_000]),
                  ArrayDataset(b.val.x[:5000], b.val.y[:5000]), ArrayDataset(b.val.x[5000:10000], b.val.y[5000:10000]),
                  classes=b.classes)
    model, r = _tiny_lm_run(tmp_path, data, steps=600, level="word", softmax="adaptive")
    # uniform over 13,189 words is 9.49 nats; a unigram model of the same 60,000 words (add-0.5) scores
    # 6.41 on these validation words: the net must use the context to go below it (measured 6.07)
    assert r["best"]["val_loss"] < 6.25, r["best"]


def test_sample_command_messages(data_dir, tmp_path, capsys):
    from deepnet.cli import main

    data = _small_shakespeare(4000)
    _tiny_lm_run(tmp_path, data, steps=5)
    assert main(["sample", "--run", str(tmp_path / "run"), "--prime", "ROMEO:", "--length", "20"]) == 0
    assert capsys.readouterr().out.startswith("ROMEO:")
    assert main(["sample", "--run", str(tmp_path / "run"), "--prime", "Ω"]) != 0
    assert "never saw: 'Ω'" in capsys.readouterr().err


def test_resume_mid_run_carries_the_state_and_ends_equal(data_dir, tmp_path):
    """Killed after a mid-epoch checkpoint (a model that raises stands in for the kill), resumed: the
    carried hidden state and every RNG come back, so the weights end equal to an uninterrupted run's."""
    import json

    import pytest

    from deepnet.core.run import RunFinished
    from deepnet.core.train import TrainConfig
    from deepnet.errors import CheckpointError
    from deepnet.systems import rnn_lm

    data = _small_shakespeare(4000)
    kw = dict(dropout=0.2, reset_prob=0.3)  # dropout and random state resets draw from the RNGs
    ref, _ = _tiny_lm_run(tmp_path / "ref", data, steps=40, **kw)

    class Stop(Exception):
        pass

    mcfg = rnn_lm.Config(embed=16, hidden=48, bptt=16, max_steps=40, **kw)
    tcfg = TrainConfig(epochs=100, batch_size=8, optimizer="adamw", lr=1e-2, clip_grad=1.0, device="cpu",
                       progress=False, log_every=10, checkpoint_every=7)
    run_config = {"system": "rnn_lm", "model": __import__("dataclasses").asdict(mcfg), "data": {**data.info(), "seed": 0}}
    torch.manual_seed(0)
    model = rnn_lm.RNNLM(len(data.classes), mcfg)
    step = model.step
    calls = {"n": 0}

    def stop_at_step_25(*a, **k):
        if model.training:
            calls["n"] += 1
            if calls["n"] == 25:
                raise Stop
        return step(*a, **k)

    model.step = stop_at_step_25
    with pytest.raises(Stop):
        rnn_lm.fit(model, data, tcfg, tmp_path / "run", run_config)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 21 and saved["carry"] is not None and not saved["finished"]
    resumed = rnn_lm.RNNLM(len(data.classes), mcfg)
    r = rnn_lm.fit(resumed, data, tcfg, tmp_path / "run", run_config, resume=True)
    assert r["steps"] == 40
    for a, b in zip(ref.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(RunFinished, match="finished at step 40"):
        rnn_lm.fit(resumed, data, tcfg, tmp_path / "run", run_config, resume=True)
    with pytest.raises(CheckpointError, match="already holds a run"):
        rnn_lm.fit(resumed, data, tcfg, tmp_path / "run", run_config)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["max_steps"] == 40


# ------------------------------------------------------------------------- n-grams and the NPLM


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_sums_to_one_over_the_vocabulary(order):
    import numpy as np

    from deepnet.systems.ngram import KneserNey

    rng = np.random.default_rng(0)
    V = 30
    ids = rng.zipf(1.5, 5000) % V  # a skewed stream, so counts of every size occur
    m = KneserNey(V, order).fit_counts(ids)
    for hist in ([ids[10:10 + order - 1]], [[29] * (order - 1)], [rng.integers(0, V, order - 1)]):
        h = np.repeat(np.asarray(hist, dtype=np.int64).reshape(1, order - 1), V, axis=0)  # (V, n-1)
        p = m.probs(h, np.arange(V))
        assert (p > 0).all()
        assert abs(p.sum() - 1) < 1e-9


def test_kneser_ney_prefers_seen_continuations_and_higher_orders_help():
    import numpy as np

    from deepnet.systems.ngram import KneserNey, perplexity

    ids = np.array([0, 1, 2, 3] * 200 + [4, 5])
    m3 = KneserNey(6, 3).fit_counts(ids)
    p = m3.probs(np.array([[0, 1], [0, 1]]), np.array([2, 3]))
    assert p[0] > 0.9 and p[1] < 0.05
    test = np.array([0, 1, 2, 3] * 10)
    assert perplexity(m3, test) < perplexity(KneserNey(6, 1).fit_counts(ids), test)


def test_nplm_windows_and_learning():
    from deepnet.systems.nplm import NPLM, Config, windows

    ids = torch.arange(10)
    ctx, y = windows(ids[:-1], ids[1:], 3)
    assert ctx.tolist()[0] == [0, 1, 2] and y.tolist()[0] == 3 and len(y) == 7
    torch.manual_seed(0)
    stream = torch.tensor([0, 1, 2, 3, 4, 0, 2, 4, 1, 3] * 50)
    x, y = windows(stream[:-1], stream[1:], 2)
    for direct, hidden in ((False, 16), (True, 16), (False, 0)):
        m = NPLM(5, Config(context=2, embed=4, hidden=hidden, direct=direct))
        opt = torch.optim.Adam(m.parameters(), 0.05)
        for _ in range(150):
            _, loss = m(x, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.item() < 0.05, (direct, hidden, loss.item())  # two previous words fix the next one here


def test_word_vector_scores_and_ppmi():
    import numpy as np

    from deepnet.experiments import fig4_word_vectors as f4

    index = {w: i for i, w in enumerate(w for ws in f4.CATEGORIES.values() for w in ws)}
    V = len(index)
    cat_of = np.array([k for k, ws in enumerate(f4.CATEGORIES.values()) for _ in ws])
    rng = np.random.default_rng(0)
    clustered = np.eye(len(f4.CATEGORIES))[cat_of] * 5 + rng.standard_normal((V, len(f4.CATEGORIES))) * 0.1
    purity, gap, *_ = f4.category_scores(clustered, index, k=3)
    assert purity == 1.0 and gap > 0.5
    purity_r, gap_r, *_ = f4.category_scores(rng.standard_normal((V, 8)), index, k=3)
    assert purity_r < 0.5 and abs(gap_r) < 0.2
    ids = rng.integers(0, 20, 2000)
    vecs = f4.ppmi_svd(ids, 20, 4, window=2)
    assert vecs.shape == (20, 4) and np.isfinite(vecs).all()


def test_partial_validation_never_chooses_the_checkpoint(data_dir, tmp_path):
    data = _small_shakespeare(4000)
    _, r = _tiny_lm_run(tmp_path, data, steps=8, eval_every=2, eval_tokens=500, reset_prob=0.5)
    partial = [h for h in r["history"] if "val_loss_partial" in h]
    assert len(partial) == 3 and r["best"]["step"] == 8 and "val_loss" in r["best"]



# ------------------------------------------------------------------------- the command line: train and eval


def test_train_and_eval_rnn_lm_through_the_cli(data_dir, tmp_path, capsys):
    import json

    from deepnet.cli import main

    run = tmp_path / "lm"
    args = ["train", "rnn_lm", "--data", "tinyshakespeare", "--embed", "8", "--hidden", "16", "--bptt", "16",
            "--max-steps", "4", "--epochs", "1", "--batch-size", "8", "--optimizer", "adamw", "--lr", "0.01",
            "--no-progress", "--device", "cpu", "--out", str(run)]
    assert main(args[:-2] + ["--level", "word", "--out", str(tmp_path / "bad")]) == 2
    assert "add --level char" in capsys.readouterr().err
    assert main(args) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--split", "val"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["tokens"] == 111_540 and 0 < m["loss"] < 4.5 and m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    assert main(["eval", "--run", str(run)]) == 2  # Tiny Shakespeare has no test part: one line, not a crash
    assert "no test part" in capsys.readouterr().err


def test_train_and_eval_nplm_through_the_cli(data_dir, tmp_path, capsys, monkeypatch):
    import dataclasses
    import json

    from deepnet.cli import main

    # the real Brown corpus and vocabulary, its parts cut short so that an epoch takes a second
    brown = text.brown.load()
    cut = lambda part, n: type(part)(part.x[:n], part.y[:n])  # noqa: E731
    small = dataclasses.replace(brown, train=cut(brown.train, 20_000), val=cut(brown.val, 5_000),
                                test=cut(brown.test, 5_000))
    monkeypatch.setattr(text.brown, "load", lambda *a, **k: small)
    run = tmp_path / "nplm"
    assert main(["train", "nplm", "--data", "brown", "--context", "2", "--embed", "8", "--hidden", "8",
                 "--epochs", "1", "--batch-size", "4096", "--optimizer", "adamw", "--lr", "0.01",
                 "--no-progress", "--device", "cpu", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "test (best weights)" in out
    config = json.loads((run / "config.json").read_text())
    # windows of 2 words before each target: a part of N (x, y) pairs gives N - 1 of them
    assert config["data"]["input_shape"] == [2] and config["data"]["sizes"]["train"] == 20_000 - 1
    assert main(["eval", "--run", str(run), "--split", "test"]) == 0
    m = json.loads(capsys.readouterr().out)
    # a few steps of a tiny model: better than uniform over |V| = 13,189 words
    assert m["words"] == 5_000 - 1 and m["perplexity"] < 13_189 and 0 <= m["accuracy"] < 1


def test_fig4_word_vectors_reuses_a_trained_nplm(data_dir, tmp_path, capsys):
    import json

    from deepnet.cli import main

    assert main(["reproduce", "fig4_word_vectors", "--smoke", "--out", str(tmp_path / "a")]) == 0
    model = tmp_path / "a" / "fig4_word_vectors" / "model"
    assert main(["reproduce", "fig4_word_vectors", "--smoke", "--out", str(tmp_path / "b"),
                 "--model-run", str(model)]) == 0
    a, b = (json.loads((tmp_path / p / "fig4_word_vectors" / "result.json").read_text())["metrics"] for p in "ab")
    for key in ("category_knn_purity", "within_minus_between_cosine", "ppmi_category_knn_purity"):
        assert a[key] == pytest.approx(b[key], abs=1e-6), key  # the same vectors, whether trained or loaded
    assert "nplm_seconds" in a and "nplm_seconds" not in b
    assert main(["reproduce", "fig4_word_vectors", "--smoke", "--out", str(tmp_path / "c"), "--min-count", "30",
                 "--model-run", str(model)]) != 0  # another vocabulary than the model's
    assert main(["reproduce", "fig4_word_vectors", "--smoke", "--out", str(tmp_path / "d"), "--hidden", "8",
                 "--model-run", str(model)]) != 0  # a model these settings would not train
    assert "model.hidden" in capsys.readouterr().err
