"""Neural Turing Machine: addressing, reading and writing, the task generators, learning and resuming."""

import dataclasses
import math

import pytest
import torch

from deepnet.data import algorithmic
from deepnet.systems import load_run, ntm


def _dist(B, H, N, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(B, H, N, generator=g), -1)


def test_every_addressing_stage_gives_weightings_that_sum_to_one():
    g = torch.Generator().manual_seed(0)
    B, H, N, M = 3, 2, 16, 5
    memory = torch.randn(B, N, M, generator=g)
    k = torch.randn(B, H, M, generator=g)
    w_c = ntm.content_weighting(k, torch.rand(B, H, generator=g) * 20, memory)
    w_g = ntm.interpolate(w_c, _dist(B, H, N), torch.rand(B, H, generator=g))
    w_s = ntm.shift(w_g, torch.softmax(torch.randn(B, H, 3, generator=g), -1))
    w = ntm.sharpen(w_s, 1 + torch.rand(B, H, generator=g) * 10)
    for x in (w_c, w_g, w_s, w):
        assert (x >= 0).all()
        torch.testing.assert_close(x.sum(-1), torch.ones(B, H))


def test_content_addressing_finds_the_row_most_like_the_key():
    memory = torch.eye(6)[None] * 3.0  # (1, 6, 6): row i points along axis i
    k = torch.eye(6)[4][None, None]  # the key points along axis 4 (scale does not matter to the cosine)
    w = ntm.content_weighting(k * 0.1, torch.tensor([[50.0]]), memory)
    assert w.argmax().item() == 4 and w[0, 0, 4] > 0.99


def test_a_shift_by_one_moves_the_focus_by_one_and_wraps_around():
    N = 8
    w = torch.zeros(1, 1, N)
    w[0, 0, 3] = 1.0
    plus_one = torch.tensor([[[0.0, 0.0, 1.0]]])  # s over shifts (-1, 0, +1)
    minus_one = torch.tensor([[[1.0, 0.0, 0.0]]])
    assert ntm.shift(w, plus_one).argmax().item() == 4
    assert ntm.shift(w, minus_one).argmax().item() == 2
    w_end = torch.zeros(1, 1, N)
    w_end[0, 0, N - 1] = 1.0
    assert ntm.shift(w_end, plus_one).argmax().item() == 0  # circular
    # a shift is a permutation: the spread of a soft weighting moves with it
    soft = _dist(1, 1, N)
    torch.testing.assert_close(ntm.shift(soft, plus_one), soft.roll(1, -1))


def test_shift_matches_the_convolution_sum_written_out():
    w, s = _dist(2, 1, 7), torch.softmax(torch.randn(2, 1, 3), -1)
    N = 7
    ref = torch.zeros_like(w)
    for i in range(N):
        for j in range(N):
            o = (i - j) % N  # s(i - j), indices modulo N; only -1, 0, 1 have weight
            if o in (0, 1, N - 1):
                ref[..., i] += w[..., j] * s[..., {0: 1, 1: 2, N - 1: 0}[o]]
    torch.testing.assert_close(ntm.shift(w, s), ref)


def test_sharpening_with_a_large_gamma_approaches_one_hot_and_gamma_one_changes_nothing():
    w = torch.tensor([[[0.1, 0.35, 0.3, 0.25]]])
    sharp = ntm.sharpen(w, torch.tensor([[100.0]]))
    assert sharp[0, 0, 1] > 0.999
    torch.testing.assert_close(ntm.sharpen(w, torch.tensor([[1.0]])), w, atol=1e-6, rtol=1e-5)
    # zeros in w̃ give finite gradients in γ (the 0^γ log 0 trap)
    w0 = torch.tensor([[[0.0, 1.0, 0.0]]], requires_grad=True)
    gamma = torch.tensor([[3.0]], requires_grad=True)
    ntm.sharpen(w0, gamma)[0, 0, 1].backward()
    assert torch.isfinite(gamma.grad).all() and torch.isfinite(w0.grad).all()


def test_erase_then_add_on_the_focused_row_only():
    memory = torch.ones(1, 4, 3)
    w = torch.tensor([[[0.0, 1.0, 0.0, 0.0]]])  # one write head on row 1
    e = torch.tensor([[[1.0, 0.0, 1.0]]])  # erase columns 0 and 2
    a = torch.tensor([[[5.0, 6.0, 7.0]]])
    new = ntm.write(memory, w, e, a)
    torch.testing.assert_close(new[0, 1], torch.tensor([5.0, 7.0, 7.0]))  # [1 - e] then + a
    torch.testing.assert_close(new[0, [0, 2, 3]], torch.ones(3, 3))  # other rows untouched
    # a soft weighting erases in proportion: M(i)[1 - w(i) e]
    half = ntm.write(memory, w * 0.5, e, torch.zeros(1, 1, 3))
    torch.testing.assert_close(half[0, 1], torch.tensor([0.5, 1.0, 0.5]))
    # two heads: erase factors multiply, adds sum
    w2 = torch.tensor([[[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]])
    e2 = torch.full((1, 2, 3), 0.5)
    a2 = torch.ones(1, 2, 3)
    torch.testing.assert_close(ntm.write(memory, w2, e2, a2)[0, 1], torch.full((3,), 0.25 + 2.0))



def test_shift_by_up_to_two_matches_rolls_and_one_write_head_matches_the_product_formula():
    # the shift is one unfold and matmul: check it against Σ_o s(o) roll(w, o) for R = 2
    w, s = _dist(2, 3, 9), torch.softmax(torch.randn(2, 3, 5), -1)
    ref = sum(s[..., 2 + o, None] * w.roll(o, dims=-1) for o in range(-2, 3))
    torch.testing.assert_close(ntm.shift(w, s), ref)
    # one write head takes a fused path: same as M(i)[1 - w(i) e] + w(i) a written out
    memory, w1 = torch.randn(2, 6, 4), _dist(2, 1, 6)
    e, a = torch.rand(2, 1, 4), torch.randn(2, 1, 4)
    ref = memory * (1 - w1[:, 0, :, None] * e[:, 0, None, :]) + w1[:, 0, :, None] * a[:, 0, None, :]
    torch.testing.assert_close(ntm.write(memory, w1, e, a), ref)


def test_length_curriculum_grows_the_longest_length_then_holds_it():
    tc = ntm.TrainConfig(min_len=1, max_len=20, curriculum=100, curriculum_start=2)
    longest = [ntm.longest_length(tc, s) for s in range(0, 200, 10)]
    assert longest[0] == 2 and longest[-1] == 20 and longest == sorted(longest)
    assert ntm.longest_length(ntm.TrainConfig(max_len=20), 0) == 20  # off: the full range from the start
    draw = algorithmic.sampler("copy", 0, 4, 1, 20)
    assert all(draw(s, 3).mask.sum(1)[0] <= 3 for s in range(20))  # lengths drawn in [1, 3]

def test_read_is_the_weighted_sum_of_rows():
    memory = torch.arange(12.0).view(1, 4, 3)
    w = torch.tensor([[[0.5, 0.0, 0.5, 0.0]]])
    torch.testing.assert_close(ntm.read(w, memory)[0, 0], (memory[0, 0] + memory[0, 2]) / 2)


def test_task_generators_have_the_papers_layout():
    g = algorithmic.generator(0)
    b = algorithmic.copy(2, 5, 8, g)
    assert b.x.shape == (2, 11, 9) and b.y.shape == (2, 11, 8) and b.mask.sum(1).tolist() == [5, 5]
    torch.testing.assert_close(b.y[:, 6:], b.x[:, :5, :8])  # the copy is the input
    assert (b.x[:, 5, 8] == 1).all() and b.x[:, 6:].abs().sum() == 0  # delimiter, then silence
    s = algorithmic.priority_sort(3, 20, 16, 8, g)
    assert s.x.shape == (3, 37, 10) and s.mask.sum(1).tolist() == [16] * 3
    for i in range(3):  # targets: the 16 highest-priority inputs, highest first
        prio = s.x[i, :20, 8]
        top = prio.argsort(descending=True)[:16]
        torch.testing.assert_close(s.y[i, 21:], s.x[i, top, :8])
        assert (prio[top][:-1] >= prio[top][1:]).all()
    r = algorithmic.associative_recall(4, 3, 6, 3, g)
    assert r.x.shape == (4, 3 * 4 + 1 + 3 + 1 + 3, 8) and r.mask.sum(1).tolist() == [3] * 4
    rc = algorithmic.repeat_copy(2, 3, 2, 8, 10, g)
    assert rc.y[:, -1, 8].tolist() == [1.0, 1.0] and rc.mask.sum(1).tolist() == [2 * 3 + 1] * 2
    # fixed seeds: the same batch every time
    torch.testing.assert_close(algorithmic.sampler("copy", 3, 4, 1, 20)(7).x, algorithmic.sampler("copy", 3, 4, 1, 20)(7).x)


def test_ntm_forward_shapes_gradients_and_recorded_weightings():
    torch.manual_seed(0)
    model = ntm.NTM(ntm.Config(controller="lstm", controller_size=32, memory_n=16, memory_m=6, read_heads=2,
                               write_heads=2), 9, 8)
    b = algorithmic.copy(3, 4, 8, algorithmic.generator(0))
    z, loss, ws = model(b.x, b.y, b.mask, record=True)
    assert z.shape == (3, 9, 8) and ws.shape == (3, 9, 4, 16) and loss.ndim == 0
    torch.testing.assert_close(ws.sum(-1), torch.ones(3, 9, 4))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    ff = ntm.NTM(ntm.Config(controller="feedforward", controller_size=32, memory_n=16, memory_m=6), 9, 8)
    assert ff(b.x, b.y, b.mask)[0].shape == (3, 9, 8)


def test_ntm_learns_to_copy_short_sequences_and_the_run_folder_loads(tmp_path):
    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and the machine is shared
    cfg = ntm.Config(controller_size=32, memory_n=16, memory_m=8)
    tc = ntm.TrainConfig(min_len=1, max_len=3, bits=4, steps=1200, batch_size=16, lr=5e-3, val_every=600,
                         val_size=64, val_lengths=(2, 3), checkpoint_every=600, seed=0)
    model, summary = ntm.train(cfg, tc, tmp_path / "run", log=lambda *_: None)
    test = algorithmic.fixed_set("copy", (3,), 200, seed=77, bits=4)[3]
    s = ntm.score(model, test)
    # chance is 6 of 12 bits wrong per sequence; a learned copy is near 0
    assert s["bits_wrong"] < 0.5, s
    loaded = load_run(tmp_path / "run")
    assert ntm.score(loaded, test)["bits_wrong"] <= summary["best"]["val_bits_wrong"] + 1.0


def test_a_killed_run_resumes_on_the_same_batches(tmp_path):
    torch.set_num_threads(1)
    cfg = ntm.Config(controller_size=16, memory_n=8, memory_m=4)
    tc = ntm.TrainConfig(max_len=3, bits=4, steps=6, batch_size=4, val_every=2, val_size=4, val_lengths=(2,),
                         checkpoint_every=3, seed=1)
    straight, done = ntm.train(cfg, tc, tmp_path / "a", log=lambda *_: None)

    def kill_at_step_4(line):  # killed mid-training: after the checkpoint of step 3, at the validation of step 4
        if line.startswith("step 4:"):
            raise KeyboardInterrupt

    with pytest.raises(Exception, match="interrupted; the last checkpoint is kept"):
        ntm.train(cfg, tc, tmp_path / "b", log=kill_at_step_4)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["step"] == 3
    resumed, summary = ntm.train(cfg, tc, tmp_path / "b", resume=True, log=lambda *_: None)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    # the validation records (and the training cost they carry across the kill) are those of the straight run
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in done["history"]]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in summary["history"]] == strip
    with pytest.raises(Exception, match="already holds a run"):
        ntm.train(cfg, tc, tmp_path / "b", log=lambda *_: None)
    with pytest.raises(Exception, match="finished at step 6"):  # a spent budget is not resumed ...
        ntm.train(cfg, tc, tmp_path / "b", resume=True, log=lambda *_: None)
    _, longer = ntm.train(cfg, dataclasses.replace(tc, steps=8), tmp_path / "b", resume=True, log=lambda *_: None)
    assert longer["steps"] == 8 and longer["history"][-1]["step"] == 8
    with pytest.raises(Exception, match="other settings \\(train.lr\\)"):  # ... and other settings are named
        ntm.train(cfg, dataclasses.replace(tc, steps=10, lr=0.1), tmp_path / "b", resume=True, log=lambda *_: None)


def test_lstm_baseline_has_the_papers_size():
    model = ntm.make_model(ntm.Config(kind="lstm"), 9, 8)
    n = sum(p.numel() for p in model.parameters())
    # 3 layers of 256 LSTM units and a sigmoid output layer; torch's LSTM has two bias vectors per layer
    expected = 4 * 256 * (9 + 256 + 2) + 2 * 4 * 256 * (256 + 256 + 2) + 256 * 8 + 8
    assert n == expected and math.isclose(n, 1_352_969, rel_tol=0.03)  # the paper's count (Table 3)


def test_a_piloted_rate_grid_continues_the_chosen_run_as_if_it_had_run_straight(tmp_path):
    from deepnet.experiments._ntm_common import train_models

    torch.set_num_threads(1)
    cfg = ntm.Config(controller_size=16, memory_n=8, memory_m=4)
    tc = ntm.TrainConfig(max_len=3, bits=4, steps=8, batch_size=4, val_every=2, val_size=4, val_lengths=(2,),
                         checkpoint_every=2, seed=1, progress=False)
    lines = []
    runs, grids = train_models({"ntm": (cfg, (1e-3, 3e-2))}, tc, [1], tmp_path / "piloted", log=lines.append,
                               pilot_steps=4)
    (model, summary), = runs["ntm"]
    assert [lr for lr, _ in grids["ntm"]] == [1e-3, 3e-2] and summary["steps"] == 8
    assert any("after 4 steps" in line for line in lines)
    chosen = min(grids["ntm"], key=lambda g: g[1])[0]
    assert summary["lr"] == chosen
    straight, _ = ntm.train(cfg, dataclasses.replace(tc, lr=chosen), tmp_path / "straight", log=lambda *_: None)
    best = ntm.load_best(tmp_path / "straight")
    for p, q in zip(best.parameters(), model.parameters()):  # the same batches, the same best weights
        assert torch.equal(p, q)
