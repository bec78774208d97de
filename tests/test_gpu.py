"""Mixed precision and torch.compile on a GPU. Skipped where there is none: never faked on the CPU."""

import pytest
import torch

from deepnet.core.runtime import seed_everything
from deepnet.core.run import read_metrics
from deepnet.core.train import TrainConfig, fit
from deepnet.data import digits
from deepnet.systems.mlp import MLP

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def losses(tmp_path, name, **kw):
    seed_everything(0)
    data = digits.load(seed=0)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05, log_every=5, progress=False, device="cuda", **kw)
    fit(MLP(64, 10, (128, 128)), data, cfg, tmp_path / name, {"system": "mlp", "data": data.info()})
    return [r["loss"] for r in read_metrics(tmp_path / name) if r["event"] == "train"]


def test_bf16_autocast_loss_close_to_fp32(tmp_path):
    fp32 = losses(tmp_path, "fp32", amp=False)
    bf16 = losses(tmp_path, "bf16", amp=True)
    assert len(fp32) == len(bf16)
    for a, b in zip(fp32, bf16):
        assert b == pytest.approx(a, rel=0.05)


def test_compiled_model_follows_the_same_loss_curve(tmp_path):
    eager = losses(tmp_path, "eager", amp=False)
    compiled = losses(tmp_path, "compiled", amp=False, compile=True)
    for a, b in zip(eager, compiled):
        assert b == pytest.approx(a, rel=1e-3)
