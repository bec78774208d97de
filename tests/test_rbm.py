"""Restricted Boltzmann machines and deep belief nets (systems/rbm.py): the equations against brute
force on tiny models, CD and PCD updates, learning on real MNIST, AIS against the exact log Z,
unrolling into a classifier, and the `deepnet sample` / `deepnet eval` commands."""

import itertools
import json
import math

import pytest
import torch

from deepnet.cli import main
from deepnet.core.checkpoint import load_checkpoint
from deepnet.data import digits
from deepnet.core import boltzmann as B
from deepnet.systems import rbm as R


def states(n):
    """Every binary vector of length n: (2^n, n) float64."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def tiny(V=5, H=4, visible="bernoulli", scale=0.7, seed=0):
    torch.manual_seed(seed)
    m = B.RBM(V, H, visible).double()
    with torch.no_grad():
        m.weight.normal_(0, scale)
        m.visible_bias.normal_(0, scale)
        m.hidden_bias.normal_(0, scale)
    return m


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_and_p_h_given_v_are_the_brute_force_sums_over_h(visible):
    m = tiny(visible=visible)
    v = states(5) if visible == "bernoulli" else torch.randn(7, 5, dtype=torch.float64)
    hs = states(4)  # (16, 4)
    # −E(v, h) for every v and every h: (N, 16)
    neg_e = torch.stack([-m.energy(v, h.expand(len(v), -1)) for h in hs], 1)
    assert torch.allclose(m.free_energy(v), -torch.logsumexp(neg_e, 1), atol=1e-10)
    post = torch.softmax(neg_e, 1)  # p(h | v): (N, 16)
    assert torch.allclose(post @ hs, m.hidden_probs(v), atol=1e-10)  # p(h_j = 1 | v) = Σ_h p(h|v) h_j


def test_exact_log_z_and_log_prob_equal_the_sums_over_every_state():
    m = tiny(V=6, H=4)
    vs, hs = states(6), states(4)
    neg_e = torch.stack([-m.energy(vs, h.expand(len(vs), -1)) for h in hs], 1)  # (64, 16)
    log_z = torch.logsumexp(neg_e.flatten(), 0).item()
    assert R.exact_log_z(m) == pytest.approx(log_z, abs=1e-10)
    log_p = torch.logsumexp(neg_e, 1) - log_z  # log p(v) = log Σ_h exp(−E) − log Z
    assert torch.allclose(R.log_prob(m, vs, R.exact_log_z(m)), log_p, atol=1e-10)
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-10)  # a distribution
    with pytest.raises(ValueError, match="at most 20 hidden units"):
        R.exact_log_z(B.RBM(4, 21))


def test_gaussian_exact_log_z_is_the_integral_over_v():
    m = tiny(V=2, H=3, visible="gaussian", scale=0.5)
    grid = torch.linspace(-12, 12, 1201, dtype=torch.float64)
    step = (grid[1] - grid[0]).item()
    v = torch.cartesian_prod(grid, grid)  # (1201², 2)
    integral = torch.logsumexp(-m.free_energy(v), 0).item() + 2 * math.log(step)  # ∫ exp(−F(v)) dv on the grid
    assert R.exact_log_z(m) == pytest.approx(integral, abs=1e-6)


def test_gibbs_sampling_reaches_the_model_distribution():
    m = tiny(V=4, H=3, scale=1.0)
    vs = states(4)
    exact = torch.exp(R.log_prob(m, vs, R.exact_log_z(m)))  # (16,)
    g = torch.Generator().manual_seed(0)
    v = m.gibbs(torch.zeros(20000, 4, dtype=torch.float64), steps=30, generator=g)
    codes = (v @ torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=torch.float64)).long()  # state -> its index in states(4)
    freq = torch.bincount(codes, minlength=16).double() / len(v)
    assert (freq - exact).abs().max() < 0.015


def test_cd1_update_shapes_signs_and_momentum():
    torch.manual_seed(0)
    m = B.RBM(6, 3)  # weights ~0, biases 0: the model puts p = 1/2 on every unit
    vel = B.zero_velocity(m)
    assert {k: tuple(t.shape) for k, t in vel.items()} == {"weight": (3, 6), "visible_bias": (6,), "hidden_bias": (3,)}
    data = torch.zeros(2000, 6)
    data[:, 0] = 1  # unit 0 always on, the others always off
    before = {k: p.clone() for k, p in m.named_parameters()}
    err = B.cd_update(m, data, vel, lr=0.1, momentum=0.0, weight_decay=0.0)
    assert err.ndim == 0 and 0 < err.item() / len(data) < 6
    db = m.visible_bias - before["visible_bias"]
    # <v>_data − <v>_model: unit 0: 1 − 1/2, the others 0 − 1/2 (times the rate)
    assert db[0].item() == pytest.approx(0.05, abs=0.01) and (db[1:] - -0.05).abs().max() < 0.01
    dw = m.weight - before["weight"]
    assert (dw[:, 0] > 0).all() and (dw[:, 1:] < 0).all()  # h_j v_0 more often in the data, h_j v_i less
    # momentum: with rate 0, a step only adds mu times the last velocity to the parameters
    last, w = {k: t.clone() for k, t in vel.items()}, m.weight.clone()
    B.cd_update(m, data, vel, lr=0.0, momentum=0.9, weight_decay=0.5)
    assert torch.allclose(vel["weight"], 0.9 * last["weight"]) and torch.allclose(m.weight, w + vel["weight"])
    # weight decay: −ε λ W on the weights, nothing on the biases (same draws with and without it)
    twins = [B.RBM(6, 3), B.RBM(6, 3)]
    for t, wd in zip(twins, (0.0, 0.5)):
        t.load_state_dict(m.state_dict())
        B.cd_update(t, data, B.zero_velocity(t), lr=0.1, momentum=0.0, weight_decay=wd,
                    generator=torch.Generator().manual_seed(5))
    assert torch.allclose(twins[1].weight - twins[0].weight, -0.1 * 0.5 * m.weight, atol=1e-6)
    assert torch.equal(twins[1].visible_bias, twins[0].visible_bias)


def test_pcd_chains_persist_across_updates_and_drive_the_negative_phase():
    # W = 10 I, b = c = -5: a Gibbs step copies v into h and back, so a chain stays where it is
    m = B.RBM(4, 4)
    with torch.no_grad():
        m.weight.copy_(10 * torch.eye(4))
        m.visible_bias.fill_(-5)
        m.hidden_bias.fill_(-5)
    data = torch.ones(50, 4)
    chains = torch.zeros(50, 4)
    kept = chains
    vel = B.zero_velocity(m)
    b0 = m.visible_bias.clone()
    for _ in range(3):
        B.cd_update(m, data, vel, lr=0.01, momentum=0.0, chains=chains)
    assert chains is kept and chains.mean() < 0.1  # advanced in place, not restarted at the data
    assert ((m.visible_bias - b0) > 0.025).all()  # <v>_data − <v>_chains ≈ 1 at each of the 3 updates
    cd = B.RBM(4, 4)
    cd.load_state_dict({**m.state_dict(), "visible_bias": b0})
    B.cd_update(cd, data, B.zero_velocity(cd), lr=0.01, momentum=0.0)  # CD: the chain starts at the data
    assert ((cd.visible_bias - b0).abs() < 0.005).all()


def test_training_lowers_the_reconstruction_error_on_real_mnist(data_dir):
    from deepnet.data import mnist

    data = mnist.load(seed=0)
    torch.manual_seed(0)
    model = B.DBN(784, (100,))
    train = model.inputs(data.train.x[:2000])  # (2000, 784) intensities in [0, 1]
    held = model.inputs(data.val.x[:500])
    rbm = model.rbms[0]
    with torch.no_grad():
        rbm.visible_bias.copy_(B.base_rate_bias(train).float())
    before = B._recon_error(rbm, held, 500)
    vel = B.zero_velocity(rbm)
    for epoch in range(3):
        for i in range(0, len(train), 100):
            B.cd_update(rbm, train[i:i + 100], vel, lr=0.1, momentum=0.5, weight_decay=2e-4)
    after = B._recon_error(rbm, held, 500)
    assert after < 0.7 * before, (before, after)


@pytest.fixture(scope="module")
def digits_rbm():
    """A 64-12 RBM trained a little on the digits (its weights far from 0), and the binarised training images."""
    data = digits.load(seed=0)
    torch.manual_seed(0)
    v = (data.train.x.flatten(1).float() / 255 > 0.5).float()  # (1079, 64) binary
    rbm = B.RBM(64, 12)
    with torch.no_grad():
        rbm.visible_bias.copy_(B.base_rate_bias(v).float())
    vel = B.zero_velocity(rbm)
    for epoch in range(20):
        for i in range(0, len(v), 50):
            B.cd_update(rbm, v[i:i + 50], vel, lr=0.1, momentum=0.5 if epoch < 5 else 0.9, weight_decay=2e-4)
    return rbm, v


def test_ais_agrees_with_the_exact_log_z(digits_rbm):
    rbm, v = digits_rbm
    assert rbm.weight.abs().max() > 1  # not the trivial base model
    exact = R.exact_log_z(rbm)
    g = torch.Generator().manual_seed(0)
    est = R.ais_log_z(rbm, B.base_rate_bias(v), runs=100, generator=g)  # the paper's 14,500 steps
    assert len(est.log_weights) == 100 and est.lower <= est.log_z <= est.upper
    assert est.log_z_base < exact  # the base rate model knows nothing of the hidden units' pull
    # the stated tolerance: within 3 standard errors of the estimate, and within 0.5 nats
    assert abs(est.log_z - exact) <= 3 * est.se and abs(est.log_z - exact) < 0.5, (est.log_z, est.se, exact)
    # the test log-likelihood: the exact and the estimated log Z give the same average within that error
    ll_exact = R.log_prob(rbm, v, exact).mean().item()
    assert R.log_prob(rbm, v, est.log_z).mean().item() == pytest.approx(ll_exact, abs=3 * est.se)
    assert len(R.paper_betas()) == 14_501


def test_ais_for_gaussian_visible_units():
    m = tiny(V=3, H=5, visible="gaussian", scale=0.4)
    g = torch.Generator().manual_seed(1)
    est = R.ais_log_z(m, torch.zeros(3), runs=200, betas=R.paper_betas((100, 400, 1000)), generator=g)
    assert abs(est.log_z - R.exact_log_z(m)) <= max(3 * est.se, 0.02)


def test_dbn_unrolls_into_a_classifier_initialised_by_its_rbms():
    torch.manual_seed(0)
    dbn = B.DBN(64, (20, 10))
    with torch.no_grad():
        for r in dbn.rbms:
            r.hidden_bias.normal_()
    mlp = dbn.unroll(10)
    first, second, out = mlp.linears()
    assert torch.equal(first.weight, dbn.rbms[0].weight) and torch.equal(first.bias, dbn.rbms[0].hidden_bias)
    assert torch.equal(second.weight, dbn.rbms[1].weight) and out.weight.shape == (10, 10)
    x = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    hidden = mlp.hidden_outputs(x)
    assert torch.allclose(hidden[-1], dbn.up(dbn.inputs(x)), atol=1e-6)  # the hidden layers are p(h|v), upwards
    z, loss = mlp(x, torch.arange(5))
    assert z.shape == (5, 10) and loss.requires_grad  # trainable by backprop (the engine)
    assert R.unrolled_config(dbn)["hidden"] == [20, 10]
    # a Gaussian bottom layer: its standardisation folded into the first layer
    gauss = B.DBN(64, (20,), visible="gaussian")
    with torch.no_grad():
        gauss.data_mean.uniform_(0, 1)
        gauss.data_std.uniform_(0.1, 1)
    assert torch.allclose(gauss.unroll(3).hidden_outputs(x)[0], gauss.up(gauss.inputs(x)), atol=1e-5)


def test_forward_is_the_interface_reconstruction_loss():
    torch.manual_seed(0)
    dbn = B.DBN(64, (16, 8))
    x = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    recon, loss = dbn(x, torch.zeros(4, dtype=torch.long))
    v = dbn.inputs(x)
    assert recon.shape == (4, 64)
    assert loss.item() == pytest.approx(((v - dbn.down(dbn.up(v))) ** 2).sum(1).mean().item())


def test_train_sample_and_eval_commands(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--threads", "1", "train", "rbm", "--data", "digits", "--layers", "32", "16", "--persistent",
                 "--epochs", "2", "--checkpoint-every", "7", "--no-progress", "--out", str(run)]) == 0
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["finished"] == "budget" and state["sampler_state"]["layer"] == 1
    assert state["carry"]["chains"].shape == (100, 32)  # the top layer's PCD chains: one per example of a batch
    assert set(state["carry"]["velocity"]) == {"weight", "visible_bias", "hidden_bias"}
    assert [(r["layer"], r["epoch"]) for r in state["metrics"]["history"]] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    capsys.readouterr()
    png = tmp_path / "s.png"
    assert main(["--threads", "1", "sample", "--run", str(run), "--chains", "6", "--steps", "20",
                 "--out", str(png)]) == 0
    from PIL import Image

    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (3 * 9 + 1, 2 * 9 + 1)  # 6 tiles of 8x8, 3 columns, 1-pixel lines
    capsys.readouterr()
    for bad in (["--chains", "0"], ["--prime", "x"], ["--out", str(tmp_path / "s.jpg")]):
        assert main(["sample", "--run", str(run), *bad]) != 0
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("deepnet: error:"), err
    assert main(["--threads", "1", "eval", "--run", str(run), "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["examples"] == 359 and 0 < out["recon_error"] < 64 and "recon_error_bottom" in out


def test_gaussian_visible_units_learn_standardised_digits(tmp_path):
    data = digits.load(seed=0)
    cfg = R.Config(layers=(32,), visible="gaussian")
    tc = R.TrainConfig(epochs=4, batch_size=50, lr=0.005, momentum=0.9, weight_decay=2e-4, progress=False,
                       device="cpu")
    model, result = R.train(cfg, data, tc, tmp_path / "run")
    hist = result["history"]
    assert math.isfinite(hist[-1]["val_recon"]) and hist[-1]["val_recon"] < hist[0]["val_recon"]
    assert model.data_std.min() >= B.STD_FLOOR and model.data_mean.max() <= 1
    sample = R.sample(model, 4, 10)
    assert sample.shape == (4, 64) and 0 <= sample.min() and sample.max() <= 1


def test_a_larger_epochs_budget_continues_an_rbm_exactly_and_a_dbn_past_its_first_layer_is_refused(tmp_path, capsys):
    base = ["--threads", "1", "train", "rbm", "--data", "digits", "--layers", "24", "--persistent", "--no-progress",
            "--momentum-epochs", "2", "--seed", "4"]
    assert main([*base, "--epochs", "2", "--out", str(tmp_path / "a")]) == 0
    assert main(["--threads", "1", "train", "--resume", str(tmp_path / "a"), "--epochs", "3", "--no-progress"]) == 0
    assert main([*base, "--epochs", "3", "--out", str(tmp_path / "b")]) == 0
    a, b = load_checkpoint(tmp_path / "a" / "checkpoint.pt"), load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert a["step"] == b["step"] and all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])
    assert torch.equal(a["carry"]["chains"], b["carry"]["chains"])
    dbn = ["--threads", "1", "train", "rbm", "--data", "digits", "--layers", "16", "8", "--no-progress"]
    assert main([*dbn, "--epochs", "1", "--out", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "c"), "--epochs", "2"]) == 2
    assert "same --epochs" in capsys.readouterr().err
    assert load_checkpoint(tmp_path / "c" / "checkpoint.pt")["config"]["train"]["epochs"] == 1
