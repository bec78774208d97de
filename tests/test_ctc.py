"""The AN4 reader, CTC decoding (best path, prefix beam search with a word LM), error rates, the
BLSTM-CTC model, and `deepnet train ctc` / `eval` / `transcribe`."""

import itertools
import json
import math
import wave

import numpy as np
import pytest
import torch

from deepnet.errors import DataError
from deepnet.systems import ctc

# ---------------------------------------------------------------------------------------------
# AN4 reader


def _write_mfc(path, frames, byteorder=">", count=None):
    frames = np.asarray(frames, dtype=np.float32)
    n = frames.size if count is None else count
    path.write_bytes(np.array([n], dtype=byteorder + "i4").tobytes() + frames.astype(byteorder + "f4").tobytes())


def test_mfc_reader_reads_big_endian_frames_and_names_a_truncated_file(tmp_path):
    from deepnet.data import an4

    x = np.arange(3 * 13, dtype=np.float32).reshape(3, 13) / 7
    good = tmp_path / "good.mfc"
    _write_mfc(good, x)
    np.testing.assert_array_equal(an4.read_mfc(good), x)
    bad = tmp_path / "cut.mfc"
    _write_mfc(bad, x)
    bad.write_bytes(bad.read_bytes()[:-10])  # truncated: the count says more than the file holds
    with pytest.raises(DataError) as e:
        an4.read_mfc(bad)
    assert str(bad) in str(e.value) and "\n" not in str(e.value) and "truncated" in str(e.value)
    odd = tmp_path / "odd.mfc"
    _write_mfc(odd, np.zeros(14))  # not a whole number of 13-coefficient frames
    with pytest.raises(DataError, match="whole number"):
        an4.read_mfc(odd)
    with pytest.raises(DataError, match="not found"):
        an4.read_mfc(tmp_path / "absent.mfc")


def test_transcripts_lose_markers_and_ids_and_map_to_character_ids():
    from deepnet.data import an4

    assert an4.normalise_text("<s> ERASE C Q Q F SEVEN </s> (an407-fcaw-b)") == "erase c q q f seven"
    assert an4.normalise_text("YES (an251-fash-b)") == "yes"
    ids = an4.encode_text("c q")
    assert ids == [4, 1, 18] and min(ids) >= 1  # id 0 is the CTC blank
    assert an4.decode_ids([0, *ids, -1]) == "c q"
    y = an4.pad_texts(["ab", "a"])
    assert y.tolist() == [[2, 3], [2, -1]] and y.dtype == torch.int64


def test_an4_utterances_become_masked_padded_features(data_dir):
    from deepnet.data import an4

    utts, texts = an4.read_part(data_dir, "test")
    assert len(utts) == 130 and texts[1] == "erase c q q f seven"
    part = an4._dataset(utts[:3], texts[:3])
    n_frames = [len(an4.read_mfc(p)) for p, _ in utts[:3]]
    assert part.x.shape == (3, max(n_frames), 40) and part.y.shape[0] == 3
    assert part.x[..., 0].sum(1).tolist() == n_frames  # channel 0: the valid frames
    real = part.x[0, :n_frames[0], 1:]
    assert torch.allclose(real.mean(0), torch.zeros(39), atol=1e-4)  # CMVN per utterance
    assert an4.decode_ids(part.y[1].tolist()) == texts[1]
    train, val = an4.speaker_validation(["a", "a", "b", "c", "c", "c"], 2, seed=0)
    assert sorted(train + val) == list(range(6)) and len(val) >= 2
    assert not {["a", "a", "b", "c", "c", "c"][i] for i in train} & {["a", "a", "b", "c", "c", "c"][i] for i in val}


# ---------------------------------------------------------------------------------------------
# Error rates and decoding


def test_edit_distance_and_error_rates_on_hand_computed_cases():
    assert ctc.edit_distance("kitten", "sitting") == 3
    assert ctc.edit_distance("", "abc") == 3 and ctc.edit_distance("abc", "") == 3
    assert ctc.edit_distance("abc", "abc") == 0
    assert ctc.edit_distance("the cat sat".split(), "the bat sat down".split()) == 2
    # 1 substitution in 'seven' (5 characters) + 'two' deleted with its space (4) = 5 of 9 reference characters
    assert ctc.cer(["seven two"], ["sevan"]) == pytest.approx(5 / 9)
    # words: 'seven'->'sevan' substituted, 'two' deleted: 2 of 2; corpus level over two sentences: (2 + 0) / (2 + 1)
    assert ctc.wer(["seven two", "yes"], ["sevan", "yes"]) == pytest.approx(2 / 3)
    assert ctc.wer(["a b"], ["a b c d"]) == pytest.approx(1.0)  # two insertions over two words


def _onehot(path, K=4, p=0.97):
    lp = torch.full((len(path), K), math.log((1 - p) / (K - 1)))
    lp[torch.arange(len(path)), torch.tensor(path)] = math.log(p)
    return lp


def test_greedy_decoding_collapses_repeats_then_drops_blanks():
    assert ctc.greedy_decode(_onehot([0, 1, 1, 0, 1, 2, 2, 0])) == [1, 1, 2]
    assert ctc.greedy_decode(_onehot([0, 0, 0])) == []
    assert ctc.greedy_decode(_onehot([3, 3, 3, 3])) == [3]
    assert ctc.greedy_decode(_onehot([1, 2, 1, 2]), length=2) == [1, 2]


def _collapse(path):
    out, prev = [], 0
    for k in path:
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return tuple(out)


def _brute_force(logp):
    """ln p(z | x) of every labelling z, summed over all T^(K+1) paths."""
    sums = {}
    T, K1 = logp.shape
    for path in itertools.product(range(K1), repeat=T):
        z = _collapse(path)
        sums[z] = sums.get(z, 0.0) + math.exp(sum(float(logp[t, k]) for t, k in enumerate(path)))
    return {z: math.log(p) for z, p in sums.items()}


def test_prefix_beam_search_equals_the_sum_over_alignments_when_the_beam_holds_everything():
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        logp = torch.log_softmax(torch.randn(5, 3, generator=g) * 1.5, -1).double()
        exact = _brute_force(logp)
        found = ctc.prefix_beam_search(logp, beam=1000, prune=-math.inf)
        best = max(exact, key=exact.get)
        assert tuple(found[0][0]) == best and found[0][1] == pytest.approx(exact[best], abs=1e-9)
        for ids, lp, score in found:
            assert lp == pytest.approx(exact[tuple(ids)], abs=1e-9) and score == lp


def test_a_word_language_model_changes_the_choice_when_the_acoustics_are_ambiguous(tmp_path):
    alphabet = " ab"  # ids: space 1, a 2, b 3
    # frames: 'a' sure, a blank, then 'b' slightly more likely than 'a' (the acoustics say "ab" by a little)
    p = torch.tensor([[0.02, 0.01, 0.96, 0.01],
                      [0.96, 0.02, 0.01, 0.01],
                      [0.02, 0.01, 0.47, 0.50]]).log()
    plain = ctc.prefix_beam_search(p, beam=8, space=1)
    assert ctc.ids_to_text(plain[0][0], alphabet) == "ab"
    lm_path = tmp_path / "lm.arpa"
    lm_path.write_text("\\data\\\nngram 1=4\n\n\\1-grams:\n-0.1 AA\n-3.0 AB\n-0.5 </s>\n-99 <s>\n\n\\end\\\n")
    lm = ctc.ArpaLM(lm_path)
    scorer = ctc.WordScorer(lm, alphabet, alpha=1.0, bonus=0.0)
    with_lm = ctc.prefix_beam_search(p, beam=8, space=1, scorer=scorer)
    assert ctc.ids_to_text(with_lm[0][0], alphabet) == "aa"
    weak = ctc.WordScorer(lm, alphabet, alpha=0.01)  # a weight near 0 leaves the acoustics in charge
    assert ctc.ids_to_text(ctc.prefix_beam_search(p, beam=8, space=1, scorer=weak)[0][0], alphabet) == "ab"


def test_arpa_reader_backs_off_and_refuses_a_truncated_file(tmp_path):
    path = tmp_path / "bigram.arpa"
    path.write_text("\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1.0 <s> -0.5\n-0.5 A -0.3\n-0.7 B -0.2\n"
                    "-0.9 </s>\n\n\\2-grams:\n-0.1 <s> A\n-0.2 A B\n\n\\end\\\n")
    lm = ctc.ArpaLM(path)
    ln10 = math.log(10)
    assert lm.order == 2 and lm.vocab == {"<s>", "a", "b", "</s>"}
    assert lm.logprob((), "a") == pytest.approx(-0.1 * ln10)  # P(a | <s>) listed
    assert lm.logprob(("a",), "b") == pytest.approx(-0.2 * ln10)
    assert lm.logprob(("b",), "a") == pytest.approx((-0.2 - 0.5) * ln10)  # bow(b) P(a)
    assert lm.logprob(("a",), "zebra") == pytest.approx(-10 * ln10)  # out of vocabulary, no <unk>
    cut = tmp_path / "cut.arpa"
    cut.write_text(path.read_text().split("\\2-grams:")[0])
    with pytest.raises(DataError, match="header says 2 2-grams"):
        ctc.ArpaLM(cut)
    with pytest.raises(DataError, match="not found"):
        ctc.ArpaLM(tmp_path / "absent.arpa")


def test_kneser_ney_word_lm_prefers_what_followed_in_training():
    lm = ctc.KneserNeyWordLM(["enter one two", "enter one three", "erase one"], order=2)
    assert lm.logprob(("enter",), "one") > lm.logprob(("enter",), "two")
    assert lm.logprob(("one",), "zebra") < lm.logprob(("one",), "two")  # never seen: the uniform floor only
    total = sum(math.exp(lm.logprob(("one",), w)) for w in lm.vocab)
    assert total == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Model


def _model(hidden=16, layers=2, stack=3, F=39, K=29):
    torch.manual_seed(0)
    return ctc.CTCModel(ctc.Config(layers=layers, hidden=hidden, dropout=0.0, stack=stack), F, K).eval()


def test_model_shapes_and_padding_never_changes_an_utterance():
    from deepnet.data import audio

    m = _model()
    feats = [torch.randn(20, 39), torch.randn(31, 39)]
    x = audio.pad_utterances(feats)
    y = torch.tensor([[1, 2, 3], [4, 5, -1]])
    logp, loss = m(x, y)
    assert logp.shape == (2, 11, 29) and loss.ndim == 0 and torch.isfinite(loss)
    assert m.output_lengths(x).tolist() == [7, 11]
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 11), atol=1e-5)
    alone, _ = m(audio.pad_utterances(feats[:1]))
    assert torch.allclose(alone[0], logp[0, :7], atol=1e-5)
    more = torch.cat([x, torch.zeros(2, 9, 40)], 1)  # extra padding frames
    assert torch.allclose(m(more)[0][:, :11], logp, atol=1e-5)


def test_the_model_learns_on_a_small_real_an4_sample(data_dir):
    from deepnet.data import an4

    utts, texts = an4.read_part(data_dir, "train")
    part = an4._dataset(utts[:12], texts[:12])
    m = _model(hidden=48, layers=1, stack=3).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        _, loss = m(part.x, part.y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses[::5]


# ---------------------------------------------------------------------------------------------
# Commands


def _write_wav(path, samples, rate=8000, channels=1):
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    if channels == 2:
        pcm = np.stack([pcm, pcm], 1).reshape(-1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def test_train_eval_and_transcribe_commands(data_dir, tmp_path, capsys):
    from deepnet.cli import main

    run = tmp_path / "run"
    assert main(["--threads", "1", "train", "ctc", "--data", "an4", "--subset", "24", "--layers", "1",
                 "--hidden", "16", "--epochs", "1", "--batch-size", "8", "--out", str(run), "--no-progress",
                 "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"loss", "cer_greedy", "wer_greedy"} <= set(out) and 0 <= out["cer_greedy"] and math.isfinite(out["loss"])

    t = np.arange(8000) / 8000
    wav = tmp_path / "tone.wav"
    _write_wav(wav, 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t), rate=8000, channels=2)
    raw = data_dir / "sphinx_frontend" / "numbers.raw"
    mfc = data_dir / "an4" / "feat" / "an4_clstk" / "fash" / "an251-fash-b.mfc"
    assert main(["transcribe", "--run", str(run), str(wav), str(raw), str(mfc), "--beam", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(wav), str(raw), str(mfc)]

    junk = tmp_path / "notes.wav"
    junk.write_text("not audio at all")
    assert main(["transcribe", "--run", str(run), str(junk), str(wav)]) != 0
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.strip()]
    assert len(err) == 1 and str(junk) in err[0]
    assert captured.out.startswith(str(wav))  # the good file is still transcribed


def test_beam_search_writes_single_spaces_between_words():
    # ids: space 1, a 2, b 3; frames: a, space, blank, space again, b: "a b", never "a  b"
    p = _onehot([2, 1, 0, 1, 3], K=4, p=0.9)
    found = ctc.prefix_beam_search(p, beam=16, space=1)
    assert all("  " not in "".join(" ab"[i - 1] for i in ids) for ids, _, _ in found)
    assert ctc.ids_to_text(found[0][0], " ab") == "a b"
    assert ctc.ids_to_text([1, 2, 1, 1, 3, 1], " ab") == "a b"  # best path's doubled and outer spaces dropped
