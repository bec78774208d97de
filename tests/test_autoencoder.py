"""Deep autoencoders (systems/autoencoder.py) and the Gaussian-hidden RBM they are pre-trained with
(core/boltzmann.py): the equations against brute force, unrolling equal to the stack it came from,
denoising layers, learning on real digits, and the train / eval commands with bad input."""

import json
import math

import pytest
import torch

from deepnet.cli import main
from deepnet.core import boltzmann as B
from deepnet.core.checkpoint import load_checkpoint
from deepnet.core.run import read_metrics
from deepnet.core.train import TrainConfig
from deepnet.data import digits
from deepnet.systems import autoencoder as A


def test_gaussian_hidden_free_energy_is_the_integral_over_h():
    """F(v) = −log ∫ exp(−E(v, h)) dh, up to the constant (H/2) log 2π, by quadrature on one hidden unit."""
    torch.manual_seed(0)
    m = B.RBM(3, 1, hidden="gaussian").double()
    with torch.no_grad():
        m.weight.normal_(0, 0.8)
        m.visible_bias.normal_(0, 0.5)
        m.hidden_bias.normal_(0, 0.5)
    v = torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=torch.float64)
    h = torch.linspace(-30, 30, 60001, dtype=torch.float64)[:, None]  # (K, 1) grid over the hidden unit
    for row in v:
        neg_e = -m.energy(row.expand(len(h), -1), h)  # (K,)
        log_integral = torch.logsumexp(neg_e, 0) + math.log(h[1, 0] - h[0, 0])
        assert -m.free_energy(row[None]).item() + 0.5 * math.log(2 * math.pi) == pytest.approx(log_integral.item(),
                                                                                              abs=1e-6)
    # E[h | v] = c + W v: the posterior's mean, a linear code
    assert torch.allclose(m.hidden_probs(v), v @ m.weight.T + m.hidden_bias)


def test_gaussian_hidden_cd_learns_a_linear_code_of_real_digits():
    data = digits.load(seed=0)
    x = A.pixels(data.train.x)  # (N, 64) intensities in [0, 1]
    torch.manual_seed(0)
    m = B.RBM(64, 8, hidden="gaussian")
    vel = B.zero_velocity(m)
    with torch.no_grad():
        m.visible_bias.copy_(B.base_rate_bias(x))
    first = B._recon_error(m, x, 500)
    for epoch in range(30):
        for i in range(0, len(x), 50):
            B.cd_update(m, x[i:i + 50], vel, lr=0.01, momentum=0.5 if epoch < 5 else 0.9, weight_decay=2e-4)
    assert B._recon_error(m, x, 500) < 0.6 * first  # 4.71 -> 2.52 when written


def test_unrolled_autoencoder_equals_the_mean_field_pass_of_its_rbm_stack():
    torch.manual_seed(0)
    dbn = B.DBN(64, (32, 16, 4), top_hidden="gaussian")
    with torch.no_grad():
        for r in dbn.rbms:
            r.weight.normal_(0, 0.3)
            r.visible_bias.normal_(0, 0.3)
            r.hidden_bias.normal_(0, 0.3)
    ae = A.DeepAutoencoder(64, (32, 16, 4), code="linear")
    ae.load_layers(A.stack_layers(dbn))
    x = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    v = dbn.inputs(x)
    recon, loss = ae(x)
    assert torch.allclose(ae.encode(x), dbn.up(v), atol=1e-6)  # the linear code c + W y
    assert torch.allclose(recon, dbn.down(dbn.up(v)), atol=1e-6)
    manual = -(v * recon.log() + (1 - v) * (1 - recon).log()).sum(1).mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-4)
    with pytest.raises(ValueError, match="pre-trained layers"):
        ae.load_layers(A.stack_layers(dbn)[:2])


def test_denoising_layer_masks_only_in_training_and_ties_its_weights():
    torch.manual_seed(0)
    layer = A.DenoisingLayer(10, 4, noise=0.5)
    x = torch.rand(6, 10)
    layer.eval()
    a, la = layer(x)
    b, lb = layer(x)
    assert torch.equal(a, b) and la.item() == lb.item()  # no noise at evaluation
    assert torch.allclose(a, torch.sigmoid(torch.sigmoid(x @ layer.weight.T + layer.hidden_bias) @ layer.weight
                                           + layer.visible_bias), atol=1e-6)
    layer.train()
    assert not torch.equal(layer(x)[0], a)  # masking noise while training
    assert sum(p.numel() for p in layer.parameters()) == 10 * 4 + 4 + 10  # one weight matrix, tied


def test_pretrain_dae_stacks_layers_that_learn_and_unroll_into_a_classifier(tmp_path):
    data = digits.load(seed=0)
    tc = TrainConfig(epochs=8, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, device="cpu", progress=False)
    layers = A.pretrain_dae((64, 32, 16), data, tc, tmp_path / "dae", noise=0.25)
    assert [W.shape for W, _, _ in layers] == [(32, 64), (16, 32)]
    hist = [r for r in read_metrics(tmp_path / "dae" / "layer1") if r.get("event") == "epoch"]
    assert hist[-1]["val_loss"] < hist[0]["val_loss"]  # the first layer learnt to rebuild its inputs
    again = A.pretrain_dae((64, 32, 16), data, tc, tmp_path / "dae", noise=0.25)  # finished layers are read back
    assert all(torch.equal(a[0], b[0]) for a, b in zip(layers, again))
    mlp = A.unroll_classifier(layers, 10)
    assert torch.equal(mlp.linears()[1].weight, layers[1][0]) and mlp(data.test.x[:3])[0].shape == (3, 10)


@pytest.mark.parametrize("pretrain", ["rbm", "dae", "none"])
def test_train_and_eval_commands_learn_on_digits(pretrain, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--threads", "1", "train", "autoencoder", "--data", "digits", "--layers", "48", "16",
                 "--pretrain", pretrain, "--pretrain-epochs", "10", "--pretrain-batch-size", "20", "--epochs", "15",
                 "--batch-size", "20", "--lr", "3e-3", "--no-progress",
                 "--device", "cpu", "--out", str(run)]) == 0
    assert (run / "pretrain").is_dir() == (pretrain != "none")
    capsys.readouterr()
    assert main(["--threads", "1", "eval", "--run", str(run), "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["examples"] == 359 and out["cross_entropy"] > 0
    # better than the mean image of the training digits (4.67), the best a code-free model can do; when written,
    # 1.64 pre-trained by RBMs, 0.74 by denoising autoencoders, 3.36 from random weights (deep logistic layers)
    data = digits.load(seed=0)
    v_train, v_test = A.pixels(data.train.x), A.pixels(data.test.x)
    mean_image_error = ((v_test - v_train.mean(0)) ** 2).sum(1).mean().item()
    bound = 0.85 if pretrain == "none" else 0.5
    assert out["squared_error"] < bound * mean_image_error, (out, mean_image_error)


def test_bad_settings_get_one_line_errors(tmp_path, capsys):
    base = ["--threads", "1", "train", "autoencoder", "--data", "digits", "--no-progress", "--device", "cpu"]
    for bad in (["--pretrain", "pca"], ["--noise", "1.0"], ["--layers"], ["--code-lr-factor", "0"],
                ["--augment", "deform"]):
        assert main([*base, *bad, "--out", str(tmp_path / "x")]) != 0
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("deepnet: error:"), (bad, err)
        assert not (tmp_path / "x").exists()
    run = tmp_path / "run"
    assert main([*base, "--layers", "8", "--pretrain-epochs", "1", "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main([*base, "--layers", "8", "--out", str(run)]) != 0  # an occupied folder is refused
    assert "already holds a run" in capsys.readouterr().err
    assert load_checkpoint(run / "checkpoint.pt")["finished"] == "budget"
