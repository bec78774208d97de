"""The review's systems, one file each, and the one place their interface is written down.

Every system module defines these names (`get` checks them; a test checks every module):

    Config          commented dataclass of the model's settings (the CLI's flags come from it)
    build(run_config) -> model
                    rebuilds the model from a run folder's config.json (an nn.Module whose
                    forward(x, y) returns (output, loss))
    TRAINS_ON       tuple of the data names `deepnet train SYSTEM --data NAME` accepts; () when only
                    experiments train the system (then the names below are None)
    TRAIN_CONFIG    the system's default training recipe: an instance of the training-flags dataclass
                    (the engine's core.train.TrainConfig, or the system's own), its values chosen on
                    validation so that `deepnet train SYSTEM --data NAME` learns without further flags
                    (a comment says how they were chosen); None when TRAINS_ON is ()
                    (optional: TRAIN_CONFIG_FOR, {data name: recipe} for data that need their own,
                    as Atari games need the Nature DQN's and CartPole a quicker one)
    fit             fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True)
                    -> result dict (history, best, test, steps, seconds, device, run_dir), its run
                    folder kept by core/run.py; or None for the engine's core.train.fit
    load_data       load_data(name, seed, train_cfg=None) -> data, or None for deepnet.data.get(name).load(seed=seed)
                    (the NTM's tasks are generated, as its training config says; a translator reads pairs)
    prepare_data    prepare_data(data, cfg) -> data: the system's view of the data (an NPLM's context
                    windows, a translator's subword ids), or None
    evaluate_part   evaluate_part(model, part, device) -> metrics for `deepnet eval`, or None for the
                    engine's core.train.evaluate

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
    "dqn": "deepnet.systems.dqn",
    "rnn_lm": "deepnet.systems.rnn_lm",
    "nplm": "deepnet.systems.nplm",
    "ngram": "deepnet.systems.ngram",
    "seq2seq": "deepnet.systems.seq2seq",
    "rbm": "deepnet.systems.rbm",
    "autoencoder": "deepnet.systems.autoencoder",
    "ctc": "deepnet.systems.ctc",
    "acoustic_dnn": "deepnet.systems.acoustic_dnn",
    "captioning": "deepnet.systems.captioning",
    "glimpse": "deepnet.systems.glimpse",
}


# What each system reads from `--data PATH` (the user's own data, deepnet/data/user.py): "images" (a folder of
# class subfolders, idx files, a .npz), "text" (a UTF-8 file or folder), "parallel" (translation pairs), "stories"
# (bAbI's format) or "sounds" (class folders of .wav). Systems not listed take built-in names only.
USER_DATA = {"mlp": "images", "linear": "images", "kernel_svm": "images", "convnet": "images", "rbm": "images",
             "autoencoder": "images", "rnn_lm": "text", "nplm": "text", "seq2seq": "parallel",
             "memory_network": "stories", "acoustic_dnn": "sounds"}


INTERFACE = ("Config", "build", "TRAINS_ON", "TRAIN_CONFIG", "fit", "load_data", "prepare_data", "evaluate_part")


def names():
    return list(SYSTEMS)


def get(name):
    """The system module called `name`, or a ConfigError listing the known ones."""
    if name not in SYSTEMS:
        import difflib

        close = difflib.get_close_matches(name, SYSTEMS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"unknown system '{name}'{hint}; known systems: {', '.join(SYSTEMS)}")
    module = importlib.import_module(SYSTEMS[name])
    missing = [k for k in INTERFACE if k not in vars(module)]
    if missing:  # a programming error in deepnet, not the user's
        raise AssertionError(f"{module.__name__} lacks {', '.join(missing)} (see deepnet/systems/__init__.py)")
    return module


def trainable():
    """The systems `deepnet train` takes."""
    return [n for n in SYSTEMS if get(n).TRAINS_ON]


def training(module, data=None):
    """(training config dataclass, the system's default recipe for `data`, fit function: its own or the engine's)."""
    from deepnet.core import train

    recipe = getattr(module, "TRAIN_CONFIG_FOR", {}).get(data, module.TRAIN_CONFIG)
    return type(module.TRAIN_CONFIG), recipe, module.fit or train.fit


def load_data(module, name, seed, cfg, like=None, train_cfg=None):
    """The data `deepnet train`/`eval` give a system: loaded (or generated), then seen its way.

    like: a run's recorded data info, for datasets whose parts depend on the run (bAbI's tasks
    and vocabulary), rebuilt as they were when it trained.
    """
    from deepnet import data as datasets
    from deepnet.data import user

    system = module.__name__.rsplit(".", 1)[-1]
    own = name not in module.TRAINS_ON and user.is_path(name) and (system in USER_DATA or module.load_data is None)
    if own or (system in USER_DATA and (like or {}).get("path")):  # the user's own data, rebuilt as recorded
        if system not in USER_DATA:
            raise ConfigError(f"system '{system}' does not read the user's own data yet (it takes: "
                              f"{', '.join(module.TRAINS_ON)}); systems that do: {', '.join(USER_DATA)}")
        data = user.load(name if user.is_path(name) else like["path"], USER_DATA[system], seed,
                         level=getattr(cfg, "level", "word"), like=like)
    elif module.load_data is not None:  # a system that reads its own sources (a path it recorded, if any)
        data = module.load_data((like or {}).get("path") or name, seed, train_cfg)
    elif like is not None and name in datasets.RUN_DEPENDENT:
        data = datasets.get(name).load_like(like)
    else:
        data = datasets.get(name).load(seed=seed)
    return module.prepare_data(data, cfg) if module.prepare_data is not None else data


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


# training settings that do not change the trained weights (where it runs, how often it logs or checkpoints)
NEUTRAL_TRAIN = ("device", "log_every", "eval_batch_size", "checkpoint_every", "progress")


def load_run_matching(run_dir, want, flag="--model-run"):
    """load_run(run_dir), refused (ConfigError naming what differs) unless the run is the model `want`
    describes: `want` is the config.json a fresh training would write (system, model, data and train
    sections; the train settings in NEUTRAL_TRAIN aside). An experiment that takes a trained run instead
    of training its own checks it so, and its result is then the one a fresh run gives."""
    model = load_run(run_dir)
    have = model.run_config
    want = json.loads(json.dumps(want))  # as config.json holds it (tuples as lists)
    if have.get("system") != want["system"]:
        raise ConfigError(f"{flag} {run_dir}: not a {want['system']} run (it is a {have.get('system')!r} run)")
    differ = [f"{part}.{k}" for part in ("model", "data", "train") if part in want
              for k in sorted(set(want[part]) | set(have.get(part) or {}))
              if not (part == "train" and k in NEUTRAL_TRAIN) and want[part].get(k) != (have.get(part) or {}).get(k)]
    if differ:
        raise ConfigError(f"{flag} {run_dir} was trained with other settings than these ({', '.join(differ[:6])}): "
                          f"give the settings it was trained with, or leave {flag} out to train the model here")
    return model
