"""The Recurrent Attention Model (systems/glimpse.py) and its datasets (data/translated.py).

The glimpse sensor against plain slicing of one image, zero padding and the averaging of the
coarser scales; the sign of the REINFORCE gradient; the translated and cluttered canvases (the
digit exactly where it is said to be, the same canvases for the same seed); learning on a small
real sample; the use commands; and one-line errors for bad flags.
"""

import numpy as np
import pytest
import torch

from deepnet.cli import main
from deepnet.data import translated
from deepnet.systems import glimpse as G


def location_of(cy, cx, H, W):
    """The location l in [-1, 1]^2 whose centre pixel is (cy, cx) (the middle of that pixel)."""
    return torch.tensor([[(2 * cy + 1) / H - 1, (2 * cx + 1) / W - 1]])


def reference_patch(img, cy, cx, side):
    """img[cy - side//2 : cy - side//2 + side, same for columns], zeros outside the image: plain slicing."""
    H, W = img.shape
    out = np.zeros((side, side), img.dtype)
    top, left = cy - side // 2, cx - side // 2
    for r in range(side):
        for c in range(side):
            if 0 <= top + r < H and 0 <= left + c < W:
                out[r, c] = img[top + r, left + c]
    return out


def test_sensor_shapes():
    x = torch.rand(5, 3, 40, 30)
    rho = G.glimpse_sensor(x, torch.rand(5, 2) * 2 - 1, patch=6, scales=3)
    assert rho.shape == (5, 3, 3, 6, 6)  # (B, scales, C, patch, patch)


def test_sensor_patch_is_the_pixels_around_the_location():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=g)
    l = torch.cat([location_of(14, 9, 28, 28), location_of(5, 20, 28, 28), location_of(27, 0, 28, 28),
                   location_of(13, 13, 28, 28)])
    rho = G.glimpse_sensor(x, l, patch=8, scales=1)  # (4, 1, 1, 8, 8)
    for b, (cy, cx) in enumerate([(14, 9), (5, 20), (27, 0), (13, 13)]):
        ref = reference_patch(x[b, 0].numpy(), cy, cx, 8)
        assert np.array_equal(rho[b, 0, 0].numpy(), ref), b  # the other images of the batch do not leak in


def test_patches_out_of_bounds_read_zeros():
    x = torch.rand(1, 1, 20, 20) + 0.5  # no zero pixel inside
    rho = G.glimpse_sensor(x, torch.tensor([[-1.0, -1.0]]), patch=8, scales=1)[0, 0, 0]  # centre pixel (0, 0)
    assert torch.all(rho[:4] == 0) and torch.all(rho[:, :4] == 0)  # rows and columns -4..-1: outside
    assert torch.equal(rho[4:, 4:], x[0, 0, :4, :4])
    far = G.glimpse_sensor(x, torch.tensor([[5.0, -7.0]]), patch=8, scales=1)[0, 0, 0]  # clipped: centre (19, 0)
    assert torch.equal(far[:5, 4:], x[0, 0, 15:20, :4])  # rows 15..19, columns 0..3: inside
    assert torch.all(far[5:] == 0) and torch.all(far[:, :4] == 0)  # rows 20..22, columns -4..-1: outside


def test_coarser_scales_are_block_means_of_wider_patches():
    x = torch.rand(2, 2, 60, 60)
    cy, cx = 31, 17
    rho = G.glimpse_sensor(x, location_of(cy, cx, 60, 60).repeat(2, 1), patch=6, scales=3)  # sides 6, 12, 24
    for k, side in enumerate((6, 12, 24)):
        f = side // 6
        for c in range(2):
            wide = reference_patch(x[1, c].numpy(), cy, cx, side)  # (side, side)
            ref = wide.reshape(6, f, 6, f).mean((1, 3))  # each f x f block averaged
            assert np.allclose(rho[1, k, c].numpy(), ref, atol=1e-6), (k, c)


def test_reinforce_pushes_the_mean_towards_the_rewarded_location():
    """Two draws around mu = 0: the one at +0.1 was rewarded (correct), the one at -0.1 was not; the
    baseline says 0.5. One gradient step on the hybrid terms moves mu towards +0.1."""
    mu = torch.zeros(1, 2, requires_grad=True)
    l = torch.tensor([[0.1, -0.05], [-0.1, 0.05]])
    log_pi = G.log_prob(l, mu.expand(2, 2), 0.1)[:, None]  # (2, 1): one location action each
    scores = torch.tensor([[5.0, 0.0], [5.0, 0.0]])  # both predict class 0
    y = torch.tensor([0, 1])  # the first is right (R = 1), the second wrong (R = 0)
    baselines = torch.full((2, 1), 0.5, requires_grad=True)
    G.hybrid_terms(scores, y, log_pi, baselines).backward()
    step = -mu.grad[0]  # gradient descent
    assert step[0] > 0 and step[1] < 0  # towards (0.1, -0.05), the rewarded draw
    # the baseline is regressed on R: pulled up by the reward 1 and down by the reward 0, equally
    assert torch.allclose(baselines.grad, torch.tensor([[-0.5], [0.5]]))


def test_baseline_is_detached_in_the_policy_gradient():
    log_pi = torch.zeros(3, 2)
    baselines = torch.full((3, 2), 0.3, requires_grad=True)
    scores, y = torch.eye(3), torch.tensor([0, 1, 2])  # all correct: R = 1
    G.hybrid_terms(scores, y, log_pi, baselines).backward()
    # only the regression term reaches the baseline: d/db mean_b sum_t (b - 1)^2 / 2 = (b - 1) / 3
    assert torch.allclose(baselines.grad, torch.full((3, 2), (0.3 - 1) / 3))


def test_model_shapes_sampling_in_training_and_means_in_evaluation():
    torch.manual_seed(0)
    m = G.make(G.Config(glimpses=4, patch=6, scales=2), (1, 28, 28), 10)
    x = (torch.rand(5, 1, 28, 28) * 255).to(torch.uint8)
    y = torch.randint(0, 10, (5,))
    out = m.run(x, sample=True)
    assert out["scores"].shape == (5, 10) and out["locations"].shape == (5, 4, 2)
    assert out["log_pi"].shape == (5, 3) and out["baselines"].shape == (5, 3)
    assert torch.equal(out["locations"][:, 0], torch.zeros(5, 2))  # the first glimpse at the centre
    _, loss = m(x, y)
    loss.backward()
    assert m.locator.weight.grad.abs().sum() > 0 and m.fc_what.weight.grad.abs().sum() > 0
    m.eval()
    a, b = m.trace(x), m.trace(x)
    assert torch.equal(a[0], b[0])  # the means: no sampling
    assert m(x)[1] is None
    one = G.make(G.Config(glimpses=1), (1, 28, 28), 10)  # a single glimpse: no location chosen
    _, loss = one.train()(x, y)
    assert torch.isfinite(loss)


def test_lstm_core_runs():
    m = G.make(G.Config(glimpses=3, core="lstm"), (1, 28, 28), 10)
    _, loss = m(torch.rand(2, 1, 28, 28), torch.tensor([1, 2]))
    loss.backward()
    assert torch.isfinite(loss) and m.cell.weight_hh.grad is not None


def test_images_of_another_size_than_the_model_was_built_for_are_refused():
    # 28x28 training digits reaching a 60x60 canvas model (no Canvases augment) must not train silently
    m = G.make(G.Config(glimpses=2), (1, 60, 60), 10)
    with pytest.raises(G.DataError, match=r"built for images \(1, 60, 60\), got \(1, 28, 28\)"):
        m(torch.rand(2, 1, 28, 28), torch.tensor([1, 2]))


# ------------------------------------------------------------------------------- the canvases


def fake_digits(n, seed=0):
    g = np.random.default_rng(seed)
    d = g.integers(1, 256, (n, 1, 28, 28)).astype(np.uint8)  # no zero pixel: every pixel is the digit's
    return d, np.arange(n) % 10


def test_translated_canvases_hold_the_digit_exactly_at_its_offset():
    digits, labels = fake_digits(50)
    part, offsets = translated.make(digits, labels, 60, 0, seed=3)
    assert part.x.shape == (50, 1, 60, 60) and part.x.dtype == torch.uint8 and torch.equal(part.y, torch.as_tensor(labels))
    assert offsets.min() >= 0 and offsets.max() <= 32
    for i, (r, c) in enumerate(offsets.tolist()):
        canvas = part.x[i, 0].numpy()
        assert np.array_equal(canvas[r:r + 28, c:c + 28], digits[i, 0])
        assert canvas.astype(int).sum() == digits[i, 0].astype(int).sum()  # nothing else on the canvas
    assert len({tuple(o) for o in offsets.tolist()}) > 40  # the places vary


def test_cluttered_canvases_keep_the_digit_over_the_clutter_and_add_pieces():
    digits, labels = fake_digits(40)
    sparse = digits.copy()
    sparse[:, :, ::2] = 0  # every other row empty: there the clutter may show through
    part, offsets = translated.make(sparse, labels, 60, 4, seed=5)
    for i, (r, c) in enumerate(offsets.tolist()):
        canvas = part.x[i, 0].numpy()
        region, digit = canvas[r:r + 28, c:c + 28], sparse[i, 0]
        assert np.array_equal(region[digit > 0], digit[digit > 0])
        outside = canvas.copy()
        outside[r:r + 28, c:c + 28] = 0
        assert 0 < (outside > 0).sum() <= 4 * 64  # clutter: at most 4 pieces of 8x8
    again, offsets2 = translated.make(sparse, labels, 60, 4, seed=5)
    other, _ = translated.make(sparse, labels, 60, 4, seed=6)
    assert torch.equal(part.x, again.x) and torch.equal(offsets, offsets2)  # deterministic per seed
    assert not torch.equal(part.x, other.x)


def test_training_canvases_are_made_anew_for_every_minibatch():
    digits, labels = fake_digits(32)
    make = translated.Canvases(60, 4, torch.as_tensor(digits[:, 0]))
    x, y = torch.as_tensor(digits), torch.as_tensor(labels)
    torch.manual_seed(7)
    first, y1 = make(x, y)
    second, _ = make(x, y)
    torch.manual_seed(7)
    again, _ = make(x, y)
    assert first.shape == (32, 1, 60, 60) and first.dtype == torch.uint8 and torch.equal(y1, y)
    assert torch.equal(first, again)  # drawn with torch's generator: a resumed run makes the same canvases
    assert not torch.equal(first, second)  # the next minibatch of the same digits: new places, new clutter
    for canvas, digit in zip(first[:, 0], x[:, 0]):  # each digit whole on its canvas (no zero pixel in it)
        windows = canvas.unfold(0, 28, 1).unfold(1, 28, 1)  # (33, 33, 28, 28): every 28x28 window
        assert (windows == digit).flatten(2).all(2).any()


def test_glimpse_on_digit_counts_glimpses_centred_inside_the_digit_box():
    from types import SimpleNamespace

    from deepnet.experiments.ram_glimpses import on_digit

    offsets = torch.tensor([[0, 0], [32, 32], [10, 20]])  # top-left (row, col) of three digits on 60x60 canvases

    class Looker:  # glimpse 1 at the centre, 2 on each digit's middle, 3 in the corner away from it
        seen = 0

        def trace(self, x):  # called chunk by chunk, in order
            off = offsets[self.seen:self.seen + len(x)]
            self.seen += len(x)
            middle = (off + 14).float() / 60 * 2 - 1  # pixel -> [-1, 1]
            far = torch.where(off < 16, 1.0, -1.0)
            return torch.stack([torch.zeros_like(middle), middle, far], 1), None  # (N, 3, 2)

    data = SimpleNamespace(test=SimpleNamespace(x=torch.zeros(3, 1, 60, 60)), input_shape=(1, 60, 60),
                           offsets={"test": offsets})
    by_step = on_digit(Looker(), data, chunk=2)
    assert by_step[1:] == [1.0, 0.0]
    assert abs(by_step[0] - 1 / 3) < 1e-6  # the centre (30, 30) is inside the third digit's box only


def test_the_test_canvases_do_not_depend_on_the_seed(data_dir):
    a = translated.load("mnist_cluttered60", seed=0)
    b = translated.load("mnist_cluttered60", seed=1)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.val.x, b.val.x)  # the split and its canvases follow the seed
    assert a.input_shape == (1, 60, 60) and len(a.train) == 55000 and len(a.test) == 10000
    r, c = a.offsets["test"][0].tolist()
    from deepnet.data import mnist

    digit = mnist.load().test.x[0, 0].numpy()
    region = a.test.x[0, 0, r:r + 28, c:c + 28].numpy()
    assert np.array_equal(region[digit > 0], digit[digit > 0])  # MNIST's first test digit, where it is said to be


# ------------------------------------------------------------------------------- learning and use


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`deepnet train glimpse` with its recipe on 4,000 MNIST digits, 6 epochs (378 steps)."""
    from conftest import shared_data_dir

    shared = shared_data_dir()
    if shared is None:
        pytest.skip("no data folder")
    mp = pytest.MonkeyPatch()
    mp.setenv("DEEPNET_DATA", str(shared))
    run = tmp_path_factory.mktemp("glimpse") / "run"
    code = main(["--threads", "1", "train", "glimpse", "--data", "mnist", "--subset", "4000", "--epochs", "6",
                 "--out", str(run), "--no-progress"])
    yield code, run
    mp.undo()


def test_learns_on_a_small_real_sample(trained):
    from deepnet.core.checkpoint import load_checkpoint

    code, run = trained
    assert code == 0
    best = load_checkpoint(run / "best.pt")["metrics"]["best"]
    assert best["val_accuracy"] > 0.5, best  # chance is 0.1; 0.661 when written (1 thread; 0.39 after the first epoch)


def test_eval_and_classify_read_a_glimpse_run(trained, tmp_path, capsys, data_dir):
    import json

    from PIL import Image

    from deepnet.data import mnist

    code, run = trained
    capsys.readouterr()
    assert main(["eval", "--run", str(run), "--split", "val", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] > 0.5
    digit = mnist.load().test.x[0, 0].numpy()  # a 7
    path = tmp_path / "seven.png"
    Image.fromarray(255 - digit).save(path)  # dark ink on white paper, as a user's picture
    assert main(["classify", "--run", str(run), str(path), "--top", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(path)) and len(line.split(",")) == 3


@pytest.mark.parametrize("flags,says", [
    (["--data", "cifar10"], "cannot be trained on 'cifar10'"),
    (["--data", "mnist_cluttered61"], "did you mean mnist_cluttered60"),
    (["--data", "mnist", "--glimpses", "0"], "--glimpses"),
    (["--data", "mnist", "--std", "0"], "--std"),
    (["--data", "mnist", "--scales", "7"], "--scales"),
    (["--data", "mnist", "--core", "gru"], "--core"),
])
def test_bad_flags_give_one_line_errors(flags, says, tmp_path, capsys):
    code = main(["train", "glimpse", *flags, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("deepnet: error:") and says in err[0], err
    assert not (tmp_path / "run").exists()
