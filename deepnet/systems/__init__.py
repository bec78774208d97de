"""The review's systems, one file each. Every system file defines a commented `Config`
dataclass, its model (an nn.Module whose forward(x, y) returns (output, loss)), and
`build(run_config) -> model`, which rebuilds the model from a run folder's config.json.

`load_run` finds the system file from the "system" key of config.json (the file's stem),
through the literal SYSTEMS dict below.
"""

import importlib
import json
from pathlib import Path

from deepnet.core.checkpoint import load_checkpoint, load_model_state
from deepnet.errors import CheckpointError, ConfigError


# System name (config.json's "system", the file's stem) -> module: the one list of systems.
SYSTEMS = {
    "mlp": "deepnet.systems.mlp",
    "linear": "deepnet.systems.linear",
    "kernel_svm": "deepnet.systems.kernel_svm",
    "convnet": "deepnet.systems.convnet",
    "memory_network": "deepnet.systems.memory_network",
    "ntm": "deepnet.systems.ntm",
    "rnn_lm": "deepnet.systems.rnn_lm",
    "nplm": "deepnet.systems.nplm",
    "ngram": "deepnet.systems.ngram",
    "seq2seq": "deepnet.systems.seq2seq",
}


def names():
    return list(SYSTEMS)


def get(name):
    """The system module called `name`, or a ConfigError listing the known ones."""
    if name not in SYSTEMS:
        raise ConfigError(f"unknown system '{name}'; known systems: {', '.join(SYSTEMS)}")
    return importlib.import_module(SYSTEMS[name])


def read_run_config(run_dir):
    """config.json of a run folder, with one-line errors for a missing or foreign folder."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is not a folder: give a run folder written by 'deepnet train' or 'deepnet reproduce'")
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run folder (no config.json): give a folder written by 'deepnet train'")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}); the run folder is damaged") from e
    if not isinstance(config, dict) or "system" not in config:
        raise CheckpointError(f"{path} names no system: not a deepnet run folder")
    return config


def load_run(run_dir, which="best", device="cpu"):
    """Rebuild the model of a run folder with its best (or latest) weights, in eval mode.

    The model gets a `run_config` attribute holding config.json (data info, class names...).
    """
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    try:
        module = get(config["system"])
    except ConfigError as e:
        raise CheckpointError(f"{run_dir}: {e}") from e
    ckpt = run_dir / ("best.pt" if which == "best" else "checkpoint.pt")
    if which == "best" and not ckpt.exists() and (run_dir / "checkpoint.pt").exists():
        ckpt = run_dir / "checkpoint.pt"
    state = load_checkpoint(ckpt, system=config["system"])
    model = module.build(state["config"])
    load_model_state(model, state["model"], str(ckpt))
    model.run_config = state["config"]
    return model.to(device).eval()
