"""Encoder-decoder translation: attention, masking, decoding, learning, the translate command, Multi30k files."""

import gzip

import pytest
import torch

from deepnet.cli import main
from deepnet.core.attention import AdditiveAttention, DotAttention
from deepnet.core.train import TrainConfig
from deepnet.data import multi30k
from deepnet.errors import ConfigError, DataError
from deepnet.experiments._translation import train_model
from deepnet.systems import load_run, seq2seq
from deepnet.systems.seq2seq import EOS, PAD

# A toy bitext written here (tests must not need the data folder): sentences and their French.
PAIRS = [
    ("A dog runs.", "Un chien court."),
    ("A man is riding a bicycle.", "Un homme fait du vélo."),
    ("Two children play in the park.", "Deux enfants jouent dans le parc."),
    ("A woman reads a book.", "Une femme lit un livre."),
    ("The cat sleeps on the bed.", "Le chat dort sur le lit."),
    ("A girl is singing.", "Une fille chante."),
    ("Three men are walking on the beach.", "Trois hommes marchent sur la plage."),
    ("A boy jumps into the water.", "Un garçon saute dans l'eau."),
]


def toy_bitext(n_copies=1):
    src = [s for s, _ in PAIRS] * n_copies
    tgt = [t for _, t in PAIRS] * n_copies
    part = multi30k.Parallel(src, tgt)
    return multi30k.Bitext(part, multi30k.Parallel(src[:8], tgt[:8]), multi30k.Parallel(src[:8], tgt[:8]), "en", "fr")


@pytest.fixture(scope="module")
def toks():
    bt = toy_bitext()
    return seq2seq.make_tokenizers(bt, 60, 60)


def small(attention="additive", **kw):
    return seq2seq.Config(attention=attention, embed=16, hidden=32, layers=2, dropout=0.0, attn_size=16,
                          label_smoothing=0.0, **kw)


# -- attention -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [AdditiveAttention, DotAttention])
def test_attention_weights_sum_to_one_and_padding_gets_none(cls):
    torch.manual_seed(0)
    att = cls(6, 5, 4) if cls is AdditiveAttention else cls(6, 5)
    q, k = torch.randn(2, 3, 6), torch.randn(2, 4, 5)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    ctx, a = att(q, k, mask)
    assert ctx.shape == (2, 3, 5) and a.shape == (2, 3, 4)
    assert torch.allclose(a.sum(-1), torch.ones(2, 3))
    assert (a[1, :, 2:] == 0).all()
    # the context of the padded sentence ignores what the padded keys hold
    k2 = k.clone()
    k2[1, 2:] = 100.0
    assert torch.allclose(att(q, k2, mask)[0][1], ctx[1], atol=1e-6)


def test_additive_attention_matches_the_equation():
    torch.manual_seed(1)
    att = AdditiveAttention(3, 2, 4)
    q, k = torch.randn(1, 1, 3), torch.randn(1, 5, 2)
    _, a = att(q, k)
    e = torch.stack([att.v(torch.tanh(att.W(q[0, 0]) + att.U(k[0, j]))).squeeze() for j in range(5)])
    assert torch.allclose(a[0, 0], torch.softmax(e, 0), atol=1e-6)


def test_a_fully_masked_sentence_is_a_clear_error():
    att = DotAttention(2, 2)
    with pytest.raises(ValueError, match="at least one unmasked"):
        att(torch.randn(1, 1, 2), torch.randn(1, 3, 2), torch.zeros(1, 3, dtype=torch.bool))


# -- masking and decoding ---------------------------------------------------------------------


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
@pytest.mark.parametrize("reverse", [False, True])
def test_padding_never_changes_a_result(attention, reverse, toks):
    src_tok, tgt_tok = toks
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(small(attention, reverse_source=reverse), len(src_tok), len(tgt_tok)).eval()
    short, long = PAIRS[0], PAIRS[6]
    x_alone = seq2seq.pad_batch([src_tok.encode(short[0])])
    y_alone = seq2seq.pad_batch([tgt_tok.encode(short[1])])
    x_batch = seq2seq.pad_batch([src_tok.encode(short[0]), src_tok.encode(long[0])])
    y_batch = seq2seq.pad_batch([tgt_tok.encode(short[1]), tgt_tok.encode(long[1])])
    assert x_batch.shape[1] > x_alone.shape[1] and y_batch.shape[1] > y_alone.shape[1]
    with torch.no_grad():
        la, loss_alone = model(x_alone, y_alone)
        lb, _ = model(x_batch, y_batch)
        _, loss_first = model(x_batch[:1], y_batch[:1])  # the short sentence, with extra padding columns
    T = la.shape[1]
    assert torch.allclose(la[0], lb[0, :T], atol=1e-5)
    assert torch.allclose(loss_alone, loss_first, atol=1e-6)
    assert model.greedy(x_alone)[0][0] == model.greedy(x_batch)[0][0]
    assert model.beam_search(x_alone, 3)[0][0] == model.beam_search(x_batch, 3)[0][0]


def test_reverse_source_reads_each_sentence_backwards_within_its_length():
    model = seq2seq.Seq2Seq(small("none", reverse_source=True), 20, 20)
    seen = {}

    def hook(module, inputs, output):
        seen["ids"] = inputs[0].clone()

    model.src_embed.register_forward_hook(hook)
    src = torch.tensor([[5, 6, 7, EOS], [8, EOS, PAD, PAD]])
    model.encode(src)
    assert seen["ids"].tolist() == [[EOS, 7, 6, 5], [EOS, 8, PAD, PAD]]


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_beam_of_one_equals_greedy(attention, toks):
    src_tok, tgt_tok = toks
    torch.manual_seed(3)
    model = seq2seq.Seq2Seq(small(attention), len(src_tok), len(tgt_tok)).eval()
    x = seq2seq.pad_batch([src_tok.encode(s) for s, _ in PAIRS])
    g_ids, g_att = model.greedy(x, max_len=12)
    b_ids, b_att = model.beam_search(x, beam=1, max_len=12)
    assert g_ids == b_ids
    if attention != "none":
        for a, b in zip(g_att, b_att):
            assert torch.allclose(a, b, atol=1e-6)


def test_a_wider_beam_never_finds_a_less_likely_translation_than_greedy(toks):
    src_tok, tgt_tok = toks
    torch.manual_seed(4)
    model = seq2seq.Seq2Seq(small(), len(src_tok), len(tgt_tok)).eval()
    x = seq2seq.pad_batch([src_tok.encode(s) for s, _ in PAIRS])

    def logp(ids):  # log P(ids + <eos> | x) of each sentence
        y = seq2seq.pad_batch([i + [EOS] for i in ids])
        with torch.no_grad():
            logits, _ = model(x, y)
        lp = torch.log_softmax(logits.float(), -1).gather(-1, y[:, :logits.shape[1], None]).squeeze(-1)
        return (lp * (y[:, :logits.shape[1]] != PAD)).sum(1)

    g, _ = model.greedy(x, max_len=10)
    b, _ = model.beam_search(x, beam=4, alpha=0.0, max_len=10)  # alpha 0: raw log-probability, as greedy
    finished = [len(i) < 10 for i in g]
    assert all((logp(b) >= logp(g) - 1e-4)[finished])


# -- learning, run folders, CLI ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, toks):
    """An attention model trained on the toy pairs until it has learned them (a run folder)."""
    src_tok, tgt_tok = toks
    torch.manual_seed(0)
    run_dir = tmp_path_factory.mktemp("s2s") / "run"
    tcfg = TrainConfig(epochs=60, batch_size=8, optimizer="adamw", lr=1e-2, schedule="constant", device="cpu",
                       progress=False, log_every=1000)
    r = train_model(small(), toy_bitext(4), src_tok, tgt_tok, tcfg, run_dir)
    return run_dir, r


def test_the_model_overfits_a_few_sentence_pairs(trained):
    run_dir, r = trained
    assert r["history"][-1]["val_loss"] < 0.1 * r["history"][0]["val_loss"]
    model = load_run(run_dir)
    out = seq2seq.translate(model, [s for s, _ in PAIRS], beam=3)
    assert [o["text"] for o in out] == [t for _, t in PAIRS]
    assert seq2seq.bleu([o["text"] for o in out], [t for _, t in PAIRS]) == pytest.approx(100.0)
    att = out[1]["attention"]  # (T+1, S) rows sum to one over the source subwords
    assert att.shape == (len(out[1]["tgt_pieces"]), len(out[1]["src_pieces"]))
    assert torch.allclose(att.sum(1), torch.ones(att.shape[0]), atol=1e-5)


def test_translate_command_prints_translations_and_alignments(trained, capsys, tmp_path, monkeypatch):
    run_dir, _ = trained
    assert main(["translate", "--run", str(run_dir), "--beam", "2", "--show-attention",
                 "--attention-png", str(tmp_path / "a.png"), "A dog runs."]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Un chien court."
    assert any("<-" in line for line in out[1:])
    assert (tmp_path / "a.png").stat().st_size > 0
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("A girl is singing.\n\nThe cat sleeps on the bed.\n"))
    assert main(["translate", "--run", str(run_dir), "--beam", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["Une fille chante.", "Le chat dort sur le lit."]
    assert main(["translate", "--run", str(run_dir), "A zebra eats."]) == 0  # 'z' was never seen in training
    assert "never seen in training" in capsys.readouterr().err


def test_translate_command_refuses_bad_input(trained, capsys, tmp_path, monkeypatch):
    run_dir, _ = trained
    assert main(["translate", "--run", str(run_dir), "--beam", "0", "x"]) == 2
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["translate", "--run", str(run_dir)]) == 2
    assert "nothing to translate" in capsys.readouterr().err
    assert main(["translate", "--run", str(tmp_path), "x"]) != 0  # not a run folder


def test_a_damaged_tokenizer_in_a_run_config_is_a_clear_error():
    with pytest.raises(ConfigError, match="damaged tokenizer"):
        seq2seq.Tokenizer.from_b64("not base64!")
    with pytest.raises(ConfigError, match="damaged tokenizer"):
        seq2seq.Tokenizer(b"\x00\x01garbage")


def test_subword_units_round_trip_and_long_sentences_are_cut(toks):
    src_tok, _ = toks
    for s, _ in PAIRS:
        ids = src_tok.encode(s)
        assert ids[-1] == EOS and src_tok.decode(ids) == s
    x = seq2seq.pad_batch([[5] * 10, [6] * 3], max_len=4)
    assert x.tolist() == [[5, 5, 5, EOS], [6, 6, 6, PAD]]


# -- Multi30k files -----------------------------------------------------------------------------


def _write(root, rel, lines):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def test_multi30k_reader_pairs_lines_and_names_bad_files(tmp_path):
    _write(tmp_path, multi30k.task1_file("val", "en"), ["A dog.", "A cat."])
    _write(tmp_path, multi30k.task1_file("val", "fr"), ["Un chien.", "Un chat."])
    pairs = multi30k.read_pairs(tmp_path, "val")
    assert pairs.src == ["A dog.", "A cat."] and pairs.tgt == ["Un chien.", "Un chat."]
    _write(tmp_path, multi30k.task1_file("val", "fr"), ["Un chien."])
    with pytest.raises(DataError, match="2 en lines but 1 fr lines"):
        multi30k.read_pairs(tmp_path, "val")
    (tmp_path / multi30k.task1_file("val", "fr")).write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match=r"val\.fr\.gz: not a readable gzipped"):
        multi30k.read_pairs(tmp_path, "val")
    with pytest.raises(DataError, match="unknown part"):
        multi30k.read_pairs(tmp_path, "dev")


def test_multi30k_real_files(data_dir):
    bt = multi30k.load("en", "fr")
    assert (len(bt.train), len(bt.val), len(bt.test)) == (29000, 1014, 1000)
    caps = multi30k.load_captions("test_2016")
    assert len(caps) == 5 and all(len(c) == 1000 for c in caps)
    assert bt.test.src[0].startswith("A man in an orange hat")


def test_an_experiment_reuses_only_the_model_its_settings_would_train(data_dir, tmp_path, capsys):
    import json

    from deepnet.report.formatting import config_drift

    assert main(["reproduce", "attention_alignment", "--smoke", "--out", str(tmp_path / "a")]) == 0
    model = tmp_path / "a" / "attention_alignment" / "model"
    assert main(["reproduce", "attention_alignment", "--smoke", "--out", str(tmp_path / "b"),
                 "--model-run", str(model)]) == 0
    a, b = (json.loads((tmp_path / p / "attention_alignment" / "result.json").read_text()) for p in "ab")
    assert a["metrics"] == b["metrics"]  # the same model, whether trained here or loaded
    assert config_drift(b, a["config"]) == []  # so a reused run reproduces the profile's row
    capsys.readouterr()
    for flag, value, differs in (("--dropout", "0.3", "model.dropout"), ("--lr", "0.01", "train.lr"),
                                 ("--src-vocab", "290", "data.tokenizers")):
        assert main(["reproduce", "attention_alignment", "--smoke", "--out", str(tmp_path / "c"), flag, value,
                     "--model-run", str(model)]) != 0
        assert differs in capsys.readouterr().err
    # an attentive model is not the plain encoder-decoder fig4_phrase_vectors maps
    assert main(["reproduce", "fig4_phrase_vectors", "--smoke", "--out", str(tmp_path / "d"),
                 "--model-run", str(model)]) != 0
    assert "model.attention" in capsys.readouterr().err


def test_decoding_settings_are_chosen_by_validation_bleu(monkeypatch):
    from deepnet.experiments import translation_multi30k as T

    def fake_translate(model, src, beam=1, alpha=1.0):  # the "translation" names its settings
        return [{"text": f"b{beam} a{alpha}"} for _ in src]

    best = "b5 a1.4"
    monkeypatch.setattr(T.seq2seq, "translate", fake_translate)
    monkeypatch.setattr(T.seq2seq, "bleu_tokenised", lambda hyps, refs: 50.0 if hyps[0] == best else 10.0)
    out = T.choose_decoding(None, ["x", "y"], ["r", "r"], beams=(10, 1, 5), alphas=(1.4, 0.6))
    assert out["best"][:2] == (5, 1.4) and out["best"][2] == [best, best]
    # greedy ignores alpha: decoded once (kept for the greedy score); every other pair once each, in order
    assert [r[:2] for r in out["rows"]] == [[1, 0.6], [5, 0.6], [5, 1.4], [10, 0.6], [10, 1.4]]
    assert out["greedy"] == ["b1 a0.6"] * 2
    # a tie goes to the smaller beam
    monkeypatch.setattr(T.seq2seq, "bleu_tokenised", lambda hyps, refs: 10.0 if hyps[0].startswith("b1 ") else 50.0)
    assert T.choose_decoding(None, ["x"], ["r"], beams=(10, 5), alphas=(1.0,))["best"][:2] == (5, 1.0)
