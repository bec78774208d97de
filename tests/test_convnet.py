"""ConvNets: shapes, LeNet-5's structure, feature maps, picture preparation, learning on small real samples."""

import dataclasses

import numpy as np
import pytest
import torch

from deepnet.core.runtime import seed_everything
from deepnet.core.train import TrainConfig, fit
from deepnet.errors import DataError
from deepnet.systems import convnet, load_run


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_stage_convnet_shapes_and_loss(shape, batchnorm):
    mcfg = convnet.Config(channels=(8, 16), convs_per_stage=2, fc=(32,), dropout=0.2, batchnorm=batchnorm, mean=(0.5,),
                          std=(0.25,))
    net = convnet.ConvNet(mcfg, shape, 10)
    x = torch.randint(0, 256, (5, *shape), dtype=torch.uint8)
    z, loss = net(x, torch.arange(5))
    assert z.shape == (5, 10) and loss.ndim == 0 and torch.isfinite(loss)
    z2, none = net(x.float() / 255)  # floats in [0, 1] are read the same
    assert none is None and z2.shape == (5, 10)
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("convs", [1, 2])
def test_pooling_early_is_the_same_function_without_batch_norm(convs):
    # max-pooling commutes with the ReLU: conv -> pool -> ReLU computes conv -> ReLU -> pool
    seed_everything(0)
    mcfg = convnet.Config(channels=(4, 8), convs_per_stage=convs, fc=(16,), batchnorm=False)
    late = convnet.ConvNet(mcfg, (1, 28, 28), 10)
    early = convnet.ConvNet(dataclasses.replace(mcfg, pool_early=True), (1, 28, 28), 10)
    early.load_state_dict(late.state_dict())
    names = [n for n, _ in early.layers.named_children()]
    assert names.index("pool1") == names.index(f"conv1_{convs}") + 1
    x = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(early(x)[0], late(x)[0], atol=1e-5)
    # with batch norm the statistics differ (pooled maps), but the shapes and parameters are the same
    bn = convnet.ConvNet(dataclasses.replace(mcfg, batchnorm=True, pool_early=True), (1, 28, 28), 10)
    z, loss = bn(x, torch.arange(6))
    assert z.shape == (6, 10) and torch.isfinite(loss)
    assert [p.shape for p in bn.parameters()] == [
        p.shape for p in convnet.ConvNet(dataclasses.replace(mcfg, batchnorm=True), (1, 28, 28), 10).parameters()]


def test_too_many_poolings_is_an_error():
    with pytest.raises(ValueError, match="poolings"):
        convnet.ConvNet(convnet.Config(channels=(4, 4, 4, 4)), (1, 8, 8), 10)


def test_lenet5_follows_lecun_1998():
    net = convnet.LeNet5((1, 28, 28), 10)
    maps = dict(net.feature_maps(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)))
    assert maps["C1"].shape == (2, 6, 28, 28)
    assert maps["S2"].shape == (2, 6, 14, 14)
    assert maps["C3"].shape == (2, 16, 10, 10)
    assert maps["S4"].shape == (2, 16, 5, 5)
    assert maps["C5"].shape == (2, 120, 1, 1)
    assert maps["F6"].shape == (2, 84)
    assert maps["scores"].shape == (2, 10)
    # Table I: 60 of the 96 possible S2 -> C3 connections; C3 map 0 reads S2 maps 0, 1, 2
    c3 = net.layers.C3
    assert int(c3.mask.sum()) == 60
    assert c3.mask[0, :, 0, 0].tolist() == [1, 1, 1, 0, 0, 0]
    assert c3.mask[15, :, 0, 0].tolist() == [1] * 6
    # an unconnected input map has no effect on the output map
    x = torch.randn(1, 6, 14, 14)
    y = torch.randn(1, 6, 14, 14)
    y[:, 0:3] = x[:, 0:3]
    assert torch.allclose(c3(x)[:, 0], c3(y)[:, 0])
    # the number of trainable parameters of LeNet-5 with a 10-way linear output: C3 counts only
    # its 60 connected 5x5 kernels (1,500 + 16 biases) as in the paper; the mask zeroes the rest
    assert abs(net.layers.C1.weight.numel() + 6 - 156) == 0


def test_scaled_tanh_maps_plus_minus_one_to_themselves():
    f = convnet.ScaledTanh()
    assert torch.allclose(f(torch.tensor([1.0, -1.0])), torch.tensor([1.0, -1.0]), atol=1e-3)


def test_feature_maps_go_bottom_to_top_and_end_with_the_scores():
    net = convnet.ConvNet(convnet.Config(channels=(4, 8), fc=(16,), batchnorm=True, dropout=0.5), (3, 32, 32), 10)
    net.eval()
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    maps = net.feature_maps(x)
    names = [n for n, _ in maps]
    assert names[0] == "conv1_1" and names[-1] == "scores"
    assert dict(maps)["pool1"].shape == (2, 4, 16, 16) and dict(maps)["pool2"].shape == (2, 8, 8, 8)
    assert torch.allclose(maps[-1][1], net(x)[0])


def test_channels_last_model_gives_the_same_scores():
    seed_everything(0)
    net = convnet.ConvNet(convnet.Config(channels=(4, 8), fc=(16,)), (3, 16, 16), 10).eval()
    x = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    z = net(x)[0]
    z_cl = net.to(memory_format=torch.channels_last)(x)[0]
    assert torch.allclose(z, z_cl, atol=1e-5)


def test_mnist_style_centres_and_scales_a_dark_on_light_digit():
    # a black bar ("1") drawn off-centre on a white 100x60 page
    page = np.full((100, 60), 255, np.uint8)
    page[10:70, 40:48] = 0
    out = convnet.mnist_style(page)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    ys, xs = np.nonzero(out > 50)
    assert ys.max() - ys.min() + 1 <= 20 and ys.max() - ys.min() + 1 >= 18  # the long side is scaled to 20
    mass = out.astype(float)
    cy = (mass.sum(1) * np.arange(28)).sum() / mass.sum()
    cx = (mass.sum(0) * np.arange(28)).sum() / mass.sum()
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    assert out[0, 0] == 0  # background is black, ink is light (inverted)
    assert convnet.mnist_style(np.full((30, 30), 255, np.uint8)).max() == 0  # blank page


def test_prepare_image_any_size_and_mode():
    rgb = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    assert convnet.prepare_image(rgb, (3, 32, 32)).shape == (3, 32, 32)
    assert convnet.prepare_image(rgb, (1, 28, 28)).shape == (1, 28, 28)
    assert convnet.prepare_image(rgb, (1, 16, 16), digits=False).shape == (1, 16, 16)


def _small(data, n, n_test=2000):
    data.train = type(data.train)(data.train.x[:n], data.train.y[:n])
    data.val = type(data.val)(data.val.x[:1000], data.val.y[:1000])
    data.test = type(data.test)(data.test.x[:n_test], data.test.y[:n_test])
    return data


@pytest.mark.parametrize("arch,batch", [("stages", 64), ("lenet5", 32)])
def test_each_net_learns_digits_from_a_small_real_sample(data_dir, tmp_path, arch, batch):
    from deepnet.data import mnist

    data = _small(mnist.load(seed=0), 5000)
    seed_everything(0)
    mcfg = convnet.Config(arch=arch, channels=(8, 16), fc=(32,), batchnorm=True, mean=(0.13,), std=(0.31,))
    model = convnet.make(mcfg, data.input_shape, 10)
    # LeNet-5's tanh units learn more slowly with plain SGD: more, smaller steps
    cfg = TrainConfig(epochs=4, batch_size=batch, lr=0.05, momentum=0.9, schedule="onecycle", warmup=0.1,
                      monitor="accuracy", progress=False, device="cpu")
    from dataclasses import asdict

    run_config = {"system": "convnet", "model": asdict(mcfg), "data": {**data.info(), "seed": 0}}
    r = fit(model, data, cfg, tmp_path / arch, run_config)
    # 5,000 digits, 4 epochs: a working ConvNet passes 94% (a linear classifier gets about 88%)
    assert r["test"]["accuracy"] > 0.94, r["test"]
    # the run folder rebuilds the same net
    again = load_run(tmp_path / arch)
    x = data.test.x[:50]
    model.load_state_dict(torch.load(tmp_path / arch / "best.pt", weights_only=True)["model"])
    assert torch.allclose(again(x)[0], model.eval()(x)[0], atol=1e-5)


def test_convnet_learns_cifar10_from_a_small_real_sample(data_dir, tmp_path):
    from deepnet.data import cifar10
    from deepnet.data.augment import natural_augment

    data = _small(cifar10.load(seed=0), 4000, 1000)
    seed_everything(0)
    mcfg = convnet.Config(channels=(8, 16), fc=(32,), batchnorm=True, mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    model = convnet.ConvNet(mcfg, (3, 32, 32), 10)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05, schedule="onecycle", warmup=0.1, monitor="accuracy",
                      progress=False, device="cpu")
    r = fit(model, data, cfg, tmp_path / "c", {"system": "convnet", "data": data.info()},
            augment=natural_augment(4, True))
    # chance is 10%; 4,000 JPEG images for 3 epochs give this small net about 40%
    assert r["test"]["accuracy"] > 0.30, r["test"]


def test_unreadable_picture_is_a_one_line_error(tmp_path):
    from deepnet.data.photos import load_image

    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"hello")
    with pytest.raises(DataError, match="not_an_image.png"):
        load_image(bad)


def test_fast_path_pieces_run_on_cpu():
    """bf16 autocast + channels-last + on-device augmentation: the GPU path's pieces, exercised on the CPU."""
    from deepnet.data.augment import natural_augment

    seed_everything(0)
    net = convnet.ConvNet(convnet.Config(channels=(8, 16), fc=(16,), batchnorm=True), (3, 32, 32), 10).to(
        memory_format=torch.channels_last)
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    x, y = natural_augment(4, True, 8)(x, torch.arange(8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z, loss = net(x, y)
    assert z.dtype == torch.bfloat16 and torch.isfinite(loss)
    loss.backward()
    assert net.layers.conv1_1.weight.grad.is_contiguous(memory_format=torch.channels_last)


def test_classify_prints_top5_and_names_an_unreadable_file(data_dir, tmp_path, capsys):
    from dataclasses import asdict

    from PIL import Image

    from deepnet.cli import main
    from deepnet.data import mnist

    data = _small(mnist.load(seed=0), 3000, 500)
    seed_everything(0)
    mcfg = convnet.Config(channels=(8, 16), fc=(32,), batchnorm=True, mean=(0.13,), std=(0.31,))
    cfg = TrainConfig(epochs=2, batch_size=64, lr=0.05, schedule="onecycle", warmup=0.1, monitor="accuracy",
                      progress=False, device="cpu")
    fit(convnet.make(mcfg, data.input_shape, 10), data, cfg, tmp_path / "run",
        {"system": "convnet", "model": asdict(mcfg), "data": {**data.info(), "seed": 0}})
    # a user's picture: an MNIST test digit drawn dark on a light, larger, RGB page
    digit = data.test.x[0, 0].numpy()
    page = np.full((120, 90, 3), 250, np.uint8)
    page[20:104, 10:94 - 10] = 255 - np.kron(digit, np.ones((3, 3), np.uint8))[:, :74, None]
    Image.fromarray(page).save(tmp_path / "mine.jpg")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    rc = main(["classify", "--run", str(tmp_path / "run"), str(tmp_path / "mine.jpg"), str(tmp_path / "broken.png")])
    out, err = capsys.readouterr()
    assert rc == 1
    line = out.strip().splitlines()[0]
    assert line.startswith(str(tmp_path / "mine.jpg")) and line.count(",") == 4  # five classes
    assert line.split(": ")[1].split()[0] == str(int(data.test.y[0]))  # it reads the digit
    assert "broken.png" in err and len(err.strip().splitlines()) == 1


def test_feature_maps_keep_the_convolution_output_before_its_relu():
    seed_everything(0)
    net = convnet.ConvNet(convnet.Config(channels=(4,), fc=(8,), batchnorm=False), (1, 8, 8), 10).eval()
    maps = dict(net.feature_maps(torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)))
    assert float(maps["conv1_1"].min()) < 0  # pre-activation values, not overwritten by the ReLU
    assert torch.equal(maps["relu1_1"], maps["conv1_1"].clamp(min=0))
