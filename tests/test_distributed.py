"""Several processes (DistributedDataParallel over gloo) compute what one process computes."""

import pytest
import torch
import torch.distributed as td
import torch.multiprocessing as mp
from torch import nn

from deepnet.core.checkpoint import load_checkpoint
from deepnet.core.runtime import seed_everything
from deepnet.core.train import TrainConfig, fit
from deepnet.data import digits


class Net(nn.Module):
    """A float64 MLP without batch norm or dropout: its result must not depend on the process count."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)).double()

    def forward(self, x, y=None):
        z = self.net(x.double().flatten(1) / 255)  # (B, 64) -> (B, 10)
        return z, (nn.functional.cross_entropy(z, y) if y is not None else None)


CFG = dict(epochs=2, batch_size=50, lr=0.1, momentum=0.9, checkpoint_every=7, progress=False, device="cpu")


def train(run_dir):
    seed_everything(0)
    data = digits.load(seed=0)
    return fit(Net(), data, TrainConfig(**CFG), run_dir, {"system": "test_net", "data": data.info()})


def _worker(rank, world, init_file, run_dir):
    torch.set_num_threads(1)
    td.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        r = train(run_dir)
        assert r["world_size"] == world
    finally:
        td.destroy_process_group()


@pytest.mark.skipif(not td.is_available(), reason="torch.distributed is not built in")
def test_two_gloo_processes_match_one_process(tmp_path):
    one = train(tmp_path / "one")
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path / "two")), nprocs=2, join=True)
    a = load_checkpoint(tmp_path / "one" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "two" / "checkpoint.pt")
    assert a["step"] == b["step"] == 2 * 22  # 1,079 training digits in global batches of 50
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], rtol=0, atol=1e-6), k
    # validation sums over both processes' shares give one process's numbers (up to float32 batch means)
    for ra, rb in zip(a["metrics"]["history"], b["metrics"]["history"]):
        assert ra["val_loss"] == pytest.approx(rb["val_loss"], abs=1e-6)
        assert ra["val_accuracy"] == pytest.approx(rb["val_accuracy"], abs=1e-6)  
    assert one["test"]["accuracy"] > 0.5
