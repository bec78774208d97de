"""The `deepnet` command: one entry point dispatching to experiments, systems, data and report.

    deepnet reproduce NAME... [--smoke|--quick|--full] [--out DIR] [--seed S] [--keep] [--fresh]
    deepnet demo                          the short experiments listed below ("The demo"), then the report
    deepnet train SYSTEM --data NAME ...  any system on any dataset it supports (writes a run folder; see train --help)
    deepnet train --resume DIR            continue a run from its last checkpoint
    deepnet eval --run DIR                evaluate a trained model
    deepnet classify --run DIR IMAGE...   top-5 classes of your own pictures by a trained image classifier
    deepnet sample --run DIR --prime "ROMEO:" [--temperature 0.8] [--top-k K] [--length N]   a language model writes on
    deepnet sample --run DIR [--chains N] [--steps K] [--out FILE.png]   an RBM or deep belief net draws images
    deepnet answer --run DIR --story FILE --question "Where is Mary?"   a memory network answers, showing its attention
    deepnet translate --run DIR "A man is riding a bicycle." [--beam K] [--show-attention]   (or sentences on stdin)
    deepnet caption --run DIR IMAGE... [--beam K] [--attention-png FILE]   a trained captioner describes pictures
    deepnet transcribe --run DIR FILE.wav|.raw|.mfc... [--beam K] [--lm FILE.arpa]   speech to text, or digits
    deepnet play --run DIR [--episodes N] [--record FILE.gif]   a trained DQN agent plays (prints scores, records a game)
    deepnet report [--runs DIR] [--markdown] [--readme README.md]
    deepnet data list | verify NAME... | fetch NAME... [--to DIR]   (fetch: download with checksums)
    deepnet experiments                   list the experiments and their claims

Every command takes `--threads N` (CPU threads for torch, set once for the whole process;
default: every core this process may use). A DeepnetError (bad flag, unknown name, missing or
corrupt data, foreign checkpoint, NaN loss) is printed as one line and exits non-zero; `--debug`
shows the traceback.
"""

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from pathlib import Path

from deepnet.core.config import ArgumentParser, add_config_args, bounded, config_from_args, config_from_dict
from deepnet.errors import ConfigError, DeepnetError

# Experiment name -> module: the one list of what `deepnet reproduce` can run.
EXPERIMENTS = {
    "sgd_digits": "deepnet.experiments.sgd_digits",
    "fig1_space_warping": "deepnet.experiments.fig1_space_warping",
    "backprop_check": "deepnet.experiments.backprop_check",
    "supervised_sgd": "deepnet.experiments.supervised_sgd",
    "relu_vs_tanh": "deepnet.experiments.relu_vs_tanh",
    "saddle_points": "deepnet.experiments.saddle_points",
    "convnet_mnist": "deepnet.experiments.convnet_mnist",
    "fig2_feature_maps": "deepnet.experiments.fig2_feature_maps",
    "convnet_vs_mlp_invariance": "deepnet.experiments.convnet_vs_mlp_invariance",
    "convnet_cifar10": "deepnet.experiments.convnet_cifar10",
    "dropout_augmentation": "deepnet.experiments.dropout_augmentation",
    "dbn_mnist": "deepnet.experiments.dbn_mnist",
    "rbm_loglik": "deepnet.experiments.rbm_loglik",
    "pretraining_few_labels": "deepnet.experiments.pretraining_few_labels",
    "pretraining_transfer": "deepnet.experiments.pretraining_transfer",
    "autoencoder_mnist": "deepnet.experiments.autoencoder_mnist",
    "babi_memn2n": "deepnet.experiments.babi_memn2n",
    "babi_hops": "deepnet.experiments.babi_hops",
    "babi_ablation": "deepnet.experiments.babi_ablation",
    "ntm_copy": "deepnet.experiments.ntm_copy",
    "dqn_atari": "deepnet.experiments.dqn_atari",
    "dqn_memory": "deepnet.experiments.dqn_memory",
    "ntm_priority_sort": "deepnet.experiments.ntm_priority_sort",
    "ntm_associative_recall": "deepnet.experiments.ntm_associative_recall",
    "char_lm_shakespeare": "deepnet.experiments.char_lm_shakespeare",
    "fig5_gradient_flow": "deepnet.experiments.fig5_gradient_flow",
    "nplm_brown": "deepnet.experiments.nplm_brown",
    "fig4_word_vectors": "deepnet.experiments.fig4_word_vectors",
    "translation_multi30k": "deepnet.experiments.translation_multi30k",
    "attention_alignment": "deepnet.experiments.attention_alignment",
    "fig4_phrase_vectors": "deepnet.experiments.fig4_phrase_vectors",
    "captioning_attention": "deepnet.experiments.captioning_attention",
    "fig3_captions": "deepnet.experiments.fig3_captions",
    "an4_ctc": "deepnet.experiments.an4_ctc",
    "speech_dnn_vs_gmm": "deepnet.experiments.speech_dnn_vs_gmm",
    "transcribe_demo": "deepnet.experiments.transcribe_demo",
    "ram_glimpses": "deepnet.experiments.ram_glimpses",
}

# What `make demo` runs: experiment -> (profile, settings changed from that profile). One short
# experiment per family of data that needs no download (scikit-learn's digits; synthetic copy
# sequences), and Figure 2's photos, which runs where CIFAR-10 is present and is skipped, with
# the command that fetches it, where it is not. Measured with no data folder on the 2-core
# development VM while other jobs ran: 129 s wall with --threads 1 (64 s of CPU), the NTM and its
# LSTM baseline 105 s of it; with 2 threads, 478 s, the two threads stalling whenever another job
# took a core. Where a quick profile takes longer than a demo allows, its settings are cut here,
# and the demo prints the full command it runs.
DEMO = {
    "sgd_digits": ("quick", {"seeds": 1}),  # the rate still chosen on validation; one seed trained
    "fig1_space_warping": ("quick", {}),
    "backprop_check": ("quick", {}),
    "fig2_feature_maps": ("quick", {}),  # needs CIFAR-10 (photos: scikit-learn's, embedded)
    # the NTM and the LSTM train on copying lengths 1-20, one seed, 600 updates, with the clip of the
    # tuning runs in which seed 0 learned by update 500 (ntm_copy's docstring); tested up to length 50
    "ntm_copy": ("quick", {"seeds": 1, "steps": 600, "clip_norm": 50.0, "test_lengths": (10, 20, 30, 50)}),
}


def _command(name, profile, overrides):
    """The `deepnet reproduce` command line that runs `name` at `profile` with `overrides`."""
    words = ["deepnet", "reproduce", name, f"--{profile}"]
    for field, value in overrides.items():
        flag = "--" + field.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        else:
            words += [flag, *map(str, value if isinstance(value, (tuple, list)) else [value])]
    return shlex.join(words)


def _usage():
    """The global help: the module docstring, then the demo's commands, from DEMO (never typed twice)."""
    demo = [f"    {_command(name, *run)}" for name, run in DEMO.items()]
    return "\n".join([__doc__.strip(), "", "The demo (deepnet demo, or make demo) runs, one after the other:", *demo,
                      "An experiment whose data is absent is skipped, with the command that fetches it."])


def _experiment(name):
    from deepnet.experiments import load

    if name not in EXPERIMENTS:
        import difflib

        close = difflib.get_close_matches(name, EXPERIMENTS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"unknown experiment '{name}'{hint}; list them with 'deepnet experiments'")
    return load(EXPERIMENTS[name])


# ---------------------------------------------------------------------------------------------
# reproduce / demo / experiments


def _reproduce_flags(p):
    """The flags of `deepnet reproduce` itself, beside an experiment's settings, on parser `p`."""
    g = p.add_argument_group("running it")
    prof = g.add_mutually_exclusive_group()
    for name, what in (("smoke", "seconds, to check that it runs"), ("quick", "minutes on a laptop CPU (the default)"),
                       ("full-cpu", "where the paper's scale needs a GPU: the largest run that fits 2.5 hours on 2 CPU "
                                    "cores (experiments that have one)"),
                       ("full", "the paper's scale")):
        prof.add_argument(f"--{name}", dest="profile", action="store_const", const=name, help=f"{name} profile: {what}")
    g.add_argument("--all", action="store_true", help="every experiment whose data is on this machine (the others "
                                                      "are listed with the command that fetches their data)")
    g.add_argument("--out", metavar="DIR", help="output folder (default: runs/<profile>)")
    g.add_argument("--seed", metavar="S", type=bounded(int, "[0, 4294967295]"), help="first seed (default: the profile's)")
    g.add_argument("--device", metavar="D", help="device for experiments that train on one (auto, cpu, cuda, mps)")
    g.add_argument("--keep", action="store_true", help="also copy result.json, figures and text outputs to results/<profile>/")
    g.add_argument("--fresh", action="store_true", help="start over: discard the folder of a stopped run with the same "
                                                        "settings instead of taking it up where it stopped")
    g.add_argument("-h", "--help", action="store_true", help="show this help (with one NAME: its settings too)")


def cmd_reproduce(argv, command):
    p = ArgumentParser(prog="deepnet reproduce", description="Run experiments and write <out>/<NAME>/result.json.",
                       add_help=False)
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run ('deepnet experiments' lists them); "
                                                            "'deepnet reproduce NAME --help' shows one's settings")
    _reproduce_flags(p)
    args, extra = p.parse_known_args(argv)
    profile = args.profile or "quick"
    if args.all:
        if args.names:
            raise ConfigError("deepnet reproduce: give experiment names or --all, not both")
        from deepnet.data.store import fetch_advice
        from deepnet.experiments import to_fetch

        for name in EXPERIMENTS:
            fetch = to_fetch(_experiment(name))
            if fetch:
                print(f"   {name}: skipped, its data is not here; {fetch_advice(*fetch)}")
            elif profile in _experiment(name).PROFILES:
                args.names.append(name)
    if args.help or not args.names:
        if len(args.names) == 1:
            exp = _experiment(args.names[0])
            ep = ArgumentParser(prog=f"deepnet reproduce {exp.NAME}", description=exp.__doc__.strip(), add_help=False,
                                usage=f"deepnet reproduce {exp.NAME} [--smoke | --quick | --full] [--out DIR] "
                                      "[--seed S] [--device D] [--keep] [--fresh] [SETTING ...]",
                                epilog=f"The defaults shown are the {profile} profile's; "
                                       + " or ".join(f"--{o} --help" for o in ("smoke", "quick", "full") if o != profile)
                                       + " shows another's.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's lines kept
                                conflict_handler="resolve")  # an experiment's own --seed, --device: its help shown
            _reproduce_flags(ep)
            add_config_args(ep, exp.Config, exp.PROFILES[profile])
            ep.print_help()
            return 0
        p.print_help()
        if not args.help:
            raise ConfigError("deepnet reproduce: name at least one experiment (see 'deepnet experiments')")
        return 0
    exps = [_experiment(n) for n in args.names]
    overrides = {}
    if extra:
        if len(exps) > 1:
            raise ConfigError(f"deepnet reproduce: unknown argument(s) {' '.join(extra)} "
                              "(experiment settings can be given for one experiment at a time)")
        exp = exps[0]
        base = exp.PROFILES[profile]
        ep = ArgumentParser(prog=f"deepnet reproduce {exp.NAME}")
        add_config_args(ep, exp.Config, base)
        cfg = config_from_args(exp.Config, ep.parse_args(extra))
        overrides = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                     if getattr(cfg, f.name) != getattr(base, f.name)}
    out = Path(args.out or f"runs/{profile}")
    keep = Path("results") / profile if args.keep else None
    failed = 0
    for exp in exps:
        failed += _run_one(exp, profile, out, args.seed, overrides, command, keep, args.device, skip_ok=False,
                           fresh=args.fresh)
    return 1 if failed else 0


def _run_one(exp, profile, out, seed, overrides, command, keep, device, skip_ok, fresh=False):
    from deepnet.experiments import Skipped, run_experiment

    import torch

    print(f"== {exp.NAME} ({profile}, {torch.get_num_threads()} thread(s)) ...", flush=True)
    try:
        result = run_experiment(exp, profile, out, seed=seed, overrides=overrides, command=command,
                                keep_dir=keep, device=device, fresh=fresh)
    except Skipped as e:
        if skip_ok:
            print(f"   skipped: {e}", flush=True)
            return 0
        raise DeepnetError(str(e)) from e
    shown = {k: v for k, v in result["metrics"].items() if k in result["targets"] or not result["targets"]}
    for k, v in shown.items():
        t = result["targets"].get(k)
        mark = "" if t is None else (" ✓ met" if result["met"][k] else " ✗ NOT met")
        goal = "" if t is None else f"  target {t['op']} {t.get('value', t.get('metric'))}"
        std = result["metrics"].get(k + "_std")
        std = f" ± {std:.4g}" if std is not None and len(result["seeds"]) > 1 else ""  # one seed: no spread
        print(f"   {k} = {v:.4g}{std}{goal}{mark}")
    print(f"   {result['seconds']:.1f} s -> {out / exp.NAME / 'result.json'}", flush=True)
    return 0


def cmd_demo(argv, command):
    p = ArgumentParser(prog="deepnet demo", description="Run the demo's short experiments (listed by deepnet --help) "
                                                        "and write the report.")
    p.add_argument("--out", help="output folder (default: runs/<profile>)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    for i, (name, (profile, overrides)) in enumerate(DEMO.items(), 1):
        out = Path(args.out or f"runs/{profile}")
        cmd = _command(name, profile, overrides)
        print(f"[{i}/{len(DEMO)}] {cmd}")
        _run_one(_experiment(name), profile, out, None, overrides, cmd, None, None, True)
    runs = Path(args.out or "runs")
    html = _write_report(runs.parent if runs.name in ("smoke", "quick", "full") else runs, Path("runs/report/index.html"))
    print(f"demo finished in {time.perf_counter() - t0:.0f} s; report: {html}")
    print(_what_next())
    return 0


def _what_next():
    """The demo's last words: the fetch command for every dataset an experiment lacks here, and how to run them."""
    from deepnet.experiments import to_fetch

    lacking, needs = {}, []  # fetch name -> experiments; experiments that lack data
    for name in EXPERIMENTS:
        fetch = to_fetch(_experiment(name))
        for d in fetch:
            lacking.setdefault(d, []).append(name)
        needs += [name] if fetch else []
    example = next((n for n in DEMO if n in needs), None) or next(n for n in EXPERIMENTS if n not in DEMO)
    lines = []
    if lacking:
        lines += [f"{len(needs)} of the {len(EXPERIMENTS)} experiments need data not on this machine. Fetch it "
                  "(or set DEEPNET_DATA to a folder that holds it):",
                  f"    deepnet data fetch {' '.join(lacking)}"]
    lines += ["Then run any experiment ('deepnet experiments' lists them, with their claims), e.g.:" if lacking else
              "Run any experiment ('deepnet experiments' lists them, with their claims), e.g.:",
              f"    deepnet reproduce {example} --quick", "    deepnet report"]
    return "\n".join(lines)


def cmd_experiments(argv, command):
    from deepnet.report.formatting import format_run_time

    ArgumentParser(prog="deepnet experiments", description="List the experiments, with the wall time of each "
                   "profile's last kept run (results/<profile>/<name>/result.json).").parse_args(argv)
    for name, path in EXPERIMENTS.items():
        exp = _experiment(name)
        times = []
        for profile in exp.PROFILES:
            kept = Path("results") / profile / name / "result.json"
            try:
                r = json.loads(kept.read_text(encoding="utf-8"))
                times.append(f"{profile} {format_run_time(r)} ({r['env'].get('torch_threads', '?')} thr.)")
            except (OSError, ValueError, KeyError, TypeError):
                times.append(f"{profile} not run")
        print(f"{name:28s} {exp.SECTION}\n{'':28s} {exp.CLAIM}\n{'':28s} last runs: {'; '.join(times)}")
    return 0


# ---------------------------------------------------------------------------------------------
# train / eval


AUGMENTS = ("none", "shifts", "affine", "elastic", "crops")  # --augment of deepnet train


def _augment(name):
    """The minibatch deformation called `name` (see deepnet train --help), or None."""
    from deepnet.data import augment

    if name == "shifts":
        return augment.digits_augment(max_shift=2)
    if name == "affine":  # shifts, rotations up to 10 degrees, scalings up to 10% (convnet_mnist's full profile)
        return augment.digits_augment(max_shift=2, degrees=10.0, scale=0.1)
    if name == "elastic":  # Simard et al. 2003: alpha 34, sigma 4 (on 28x28 digits)
        return augment.digits_augment(max_shift=2, elastic_alpha=34.0, elastic_sigma=4.0)
    if name == "crops":
        return augment.natural_augment(padding=4, flip=True)
    return None


def _train_usage():
    """`deepnet train --help`: how to call it, and each trainable system with its datasets and what it is."""
    from deepnet import systems

    lines = ["usage: deepnet train SYSTEM --data NAME [SETTING ...]   train SYSTEM on dataset NAME, "
             "into runs/train/SYSTEM_NAME (--out DIR)",
             "       deepnet train --resume DIR [SETTING ...]         continue the run in DIR from its last checkpoint",
             "       deepnet train SYSTEM --help                      SYSTEM's settings (model and training) "
             "with their defaults",
             "", "systems (--data: the datasets each takes):"]
    for name in systems.trainable():
        module = systems.get(name)
        what = (module.__doc__ or "").strip().split("\n")[0]
        lines += [f"  {name:16s}--data {' | '.join(module.TRAINS_ON)}", f"  {'':16s}{what}"]
    lines += ["", "--resume DIR      continue the run in DIR from its last checkpoint. Settings that differ from the "
                  "saved ones", "                  are refused, except device, progress, log and checkpoint intervals; "
                  "the budget", "                  (--epochs, --steps, --max-steps) may grow, and a finished run given "
                  "a larger one trains on.",
              "", "Datasets are read from $DEEPNET_DATA, else the user cache, and downloaded there on first use",
              "('deepnet data fetch NAME' fetches one ahead); digits and the NTM's tasks need no download."]
    return "\n".join(lines)


def cmd_train(argv, command):
    import torch

    from deepnet import systems
    from deepnet.core.run import RunFinished
    from deepnet.core.runtime import seed_everything

    # SYSTEM is the first word when it is not a flag; everything else goes to the system's parser
    system = argv[0] if argv and not argv[0].startswith("-") else None
    argv = argv[1:] if system else argv
    p = ArgumentParser(prog="deepnet train", add_help=False)
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p.add_argument("-h", "--help", action="store_true")
    first, rest = p.parse_known_args(argv)
    first.system = system

    saved = None
    if first.resume:
        saved = systems.read_run_config(first.resume)
        if first.system and first.system != saved["system"]:
            raise ConfigError(f"{first.resume} is a '{saved['system']}' run, not '{first.system}'")
        first.system = saved["system"]
    if not first.system:
        if first.help:
            print(_train_usage())
            return 0
        raise ConfigError(f"deepnet train: name a system ({', '.join(systems.trainable())}) or give --resume DIR")
    module = systems.get(first.system)
    if not module.TRAINS_ON:
        raise ConfigError(f"system '{first.system}' is not trained with 'deepnet train'; use its experiments "
                          f"(deepnet experiments); trainable: {', '.join(systems.trainable())}")
    pre = ArgumentParser(add_help=False, allow_abbrev=False)  # the data named picks the recipe (dqn: Atari or CartPole)
    pre.add_argument("--data")
    pre.add_argument("--env")
    named, _ = pre.parse_known_args(rest)
    train_config, train_recipe, trainer = systems.training(module, named.data or named.env)
    model_defaults = config_from_dict(module.Config, saved["model"]) if saved else None
    train_defaults = config_from_dict(train_config, saved["train"]) if saved else train_recipe

    tp = ArgumentParser(prog=f"deepnet train {first.system}", description=(module.__doc__ or "").strip(),
                        formatter_class=argparse.RawDescriptionHelpFormatter)  # the docstring's lines kept
    tp.add_argument("--data", default=(saved["data"].get("path") or saved["data"]["name"]) if saved else None,
                    help=f"dataset: {', '.join(module.TRAINS_ON)}"
                         + (", or PATH: your own data (see README, 'Your own data')" if first.system in systems.USER_DATA else ""))
    tp.add_argument("--data-seed", type=bounded(int, "[0, 4294967295]"), default=saved["data"].get("seed", 0) if saved else 0,
                    help="seed of the train/validation split (default: 0)")
    tp.add_argument("--subset", type=bounded(int, "[0, 1e9]"), default=saved["data"].get("subset", 0) if saved else 0,
                    help="train, validate and test on the first N examples of each part only, for a quick trial "
                         "(0: all; default)")
    tp.add_argument("--out", help="run folder (default: runs/train/<system>_<data>)")
    tp.add_argument("--augment", choices=AUGMENTS, default=saved.get("augment", "none") if saved else "none",
                    help="deform each training minibatch: none (default), shifts (digits moved by up to 2 pixels), "
                         "affine (rotated by up to 10 degrees and scaled by up to 10%%, then shifts), "
                         "elastic (Simard et al. 2003 elastic distortion, then shifts), crops (natural images: "
                         "4-pixel padded random crops and mirror flips)")
    add_config_args(tp, module.Config, model_defaults)
    add_config_args(tp, train_config, train_defaults)
    if first.help:
        tp.print_help()
        return 0
    args = tp.parse_args(rest)
    if not args.data and getattr(args, "env", None):  # dqn: --env names an environment, its "data"
        args.data = args.env
    if not args.data:
        raise ConfigError(f"deepnet train {first.system}: --data NAME is required ({', '.join(module.TRAINS_ON)})")
    from deepnet.data import user

    if args.data not in module.TRAINS_ON and not user.is_path(args.data):
        from deepnet.data import did_you_mean

        raise ConfigError(f"system '{first.system}' cannot be trained on '{args.data}'"
                          f"{did_you_mean(args.data, module.TRAINS_ON)}; it takes: {', '.join(module.TRAINS_ON)}")
    model_cfg = config_from_args(module.Config, args)
    train_cfg = config_from_args(train_config, args)

    data = systems.load_data(module, args.data, args.data_seed, model_cfg, train_cfg=train_cfg)
    made = getattr(data, "augment", None)  # data whose training examples are made per minibatch (translated canvases)
    if args.subset:
        data = dataclasses.replace(data, **{part: type(p)(p.x[:args.subset], p.y[:args.subset])
                                            for part in ("train", "val", "test") for p in [getattr(data, part)]})
    run_config = {"system": first.system, "model": dataclasses.asdict(model_cfg),
                  "data": {**data.info(), "seed": args.data_seed, "subset": args.subset}, "augment": args.augment}
    run_dir = Path(first.resume or args.out or f"runs/train/{first.system}_{data.name}")
    seed_everything(train_cfg.seed)
    model = module.build(run_config)
    n_params = sum(p.numel() for p in model.parameters())
    say = print if int(os.environ.get("RANK", "0")) == 0 else (lambda *a, **k: None)  # torchrun: process 0 speaks
    if user.is_path(args.data) and first.system in systems.USER_DATA:  # what was recognised in the user's data
        kind = systems.USER_DATA[first.system]
        detail = {"images": f", {len(data.classes)} classes", "text": f", a vocabulary of {len(data.classes):,}"}.get(kind, "")
        say(f"{args.data}: {data.extra['format']} data{detail}; {data.extra.get('notes') or data.notes}", flush=True)
    say(f"{first.system} on {args.data} ({_sizes(data)}), "
        f"{n_params:,} parameters, {torch.get_num_threads()} thread(s) -> {run_dir}", flush=True)
    augment = None
    if args.augment != "none":
        if len(data.input_shape) != 3:
            raise ConfigError(f"--augment {args.augment} deforms images; {args.data} holds no images")
        augment = _augment(args.augment)
    if made is not None:
        augment = made if augment is None else (lambda x, y, deform=augment: deform(*made(x, y)))
    try:
        result = trainer(model, data, train_cfg, run_dir, run_config, resume=bool(first.resume), augment=augment)
    except RunFinished as e:
        say(str(e))
        return 0
    b = result["best"]
    say("best: " + "  ".join(f"{k} {v:.4f}" for k, v in b.items() if k.startswith("val_") and _is_num(v)))
    if result.get("test"):  # None or {} when the data have no test part (Tiny Shakespeare)
        say("test (best weights): " + "  ".join(f"{k} {v:.4f}" for k, v in result["test"].items()))
    say(f"{result['steps']} steps in {result['seconds']:.1f} s on {result['device']} "
        f"({result.get('world_size', 1)} process(es)); run folder: {run_dir}")
    return 0


def _sizes(data):
    if len(data.train) == 0:  # generated as it trains (the NTM's tasks): say how
        return data.notes
    return f"{len(data.train)} train / {len(data.val)} val / {len(data.test)} test"


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def cmd_eval(argv, command):
    from deepnet import load_run, systems
    from deepnet.core.runtime import pick_device
    from deepnet.core.train import evaluate

    p = ArgumentParser(prog="deepnet eval", description="Evaluate a trained model on a part of its dataset.")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder (deepnet train / reproduce wrote it)")
    p.add_argument("--split", choices=["train", "val", "test"], default="test", help="which part (default: test)")
    p.add_argument("--which", choices=["best", "last"], default="best", help="best.pt or checkpoint.pt")
    p.add_argument("--device", default="auto")
    p.add_argument("--data", metavar="PATH", help="evaluate on this data of your own instead (same format as the run "
                   "trained on, same classes; its --split part)")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    model = load_run(args.run, which=args.which, device=device)
    system = model.run_config["system"]
    module = systems.get(system)
    if not module.TRAINS_ON:
        raise ConfigError(f"deepnet eval reads runs of systems that 'deepnet train' trains; a '{system}' run is "
                          "evaluated by its experiment (deepnet experiments)")
    info = model.run_config["data"]
    cfg = config_from_dict(module.Config, model.run_config["model"])
    data = systems.load_data(module, args.data or info["name"], info.get("seed", 0), cfg, like=info)
    if args.data and data.classes != info.get("classes"):
        raise ConfigError(f"{args.data}: its classes ({', '.join(map(str, data.classes[:5]))}...) are not the ones "
                          f"{args.run} was trained on ({', '.join(map(str, info.get('classes', [])[:5]))}...)")
    part = getattr(data, args.split)
    if system == "dqn":  # an agent is evaluated by playing games, not on a part of a dataset
        raise ConfigError(f"{args.run}: a dqn agent is evaluated by playing: deepnet play --run {args.run} --episodes 30")
    if len(part) == 0:
        raise ConfigError(f"{info['name']} has no {args.split} part; try --split val")
    # a language model's own evaluation (state carried through the text, perplexity) where it has one
    metrics = (module.evaluate_part or evaluate)(model, part, device)
    print(json.dumps({"run": str(args.run), "split": args.split, "weights": args.which, **metrics}))
    return 0


def cmd_classify(argv, command):
    """Top classes of the user's own pictures, with probabilities, by a trained image classifier."""
    import argparse

    import torch

    from deepnet import load_run
    from deepnet.core.runtime import pick_device
    from deepnet.data.photos import load_image
    from deepnet.systems.convnet import prepare_image

    p = ArgumentParser(prog="deepnet classify",
                       description="Print the top classes, with probabilities, of each picture (any size or mode).")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder of an image classifier (e.g. a ConvNet)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="picture files (png, jpg, ...)")
    p.add_argument("--top", type=bounded(int, "[1, 1000]"), default=5, help="how many classes to show, 1 to 1000 (default: 5)")
    p.add_argument("--digits", action=argparse.BooleanOptionalAction, default=None,
                   help="force (or skip) MNIST-style preparation: invert dark-on-light, crop, 20x20 in 28x28 by mass "
                        "(default: for 1-channel 28x28 nets)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    model = load_run(args.run, device=device)
    info = model.run_config.get("data", {})
    shape, classes = info.get("input_shape"), info.get("classes")
    if not shape or len(shape) != 3 or not classes:
        raise ConfigError(f"{args.run}: not an image classifier (its data has input shape {shape})")
    failed = 0
    for path in args.images:
        try:
            x = prepare_image(load_image(path), shape, digits=args.digits)[None].to(device)  # (1, C, H, W)
        except DeepnetError as e:
            print(f"deepnet: error: {e}", file=sys.stderr)
            failed += 1
            continue
        with torch.no_grad():
            probs = torch.softmax(model(x)[0].float(), dim=1)[0]  # (K,)
        top = probs.argsort(descending=True)[:args.top].tolist()
        print(f"{path}: " + ", ".join(f"{classes[i]} {float(probs[i]):.3f}" for i in top), flush=True)
    return 1 if failed else 0


def cmd_answer(argv, command):
    """A trained memory network answers a question about a story, showing what each hop attended to."""
    from deepnet import load_run
    from deepnet.systems import memory_network

    p = ArgumentParser(prog="deepnet answer",
                       description="Answer a question about a story (one sentence per line) with a trained memory network.")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder of a memory network (e.g. runs/quick/babi_memn2n/model)")
    p.add_argument("--story", required=True, metavar="FILE", help="text file, one sentence per line (bAbI line ids allowed)")
    p.add_argument("--question", required=True, help='the question, e.g. "Where is the milk?"')
    p.add_argument("--top", type=bounded(int, "[1, 1000]"), default=3, help="sentences shown per hop, 1 to 1000 (default: 3)")
    args = p.parse_args(argv)
    model = load_run(args.run)
    if model.run_config.get("system") != "memory_network":
        raise ConfigError(f"{args.run}: a '{model.run_config.get('system')}' run, not a memory network")
    try:
        sentences = memory_network.read_story(args.story)
        result = memory_network.answer(model, sentences, args.question)
    except FileNotFoundError:
        raise ConfigError(f"--story {args.story}: file not found") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"--story/--question: {e}") from None
    for note in result["notes"]:
        print(f"deepnet: warning: {note}", file=sys.stderr)
    print(f"answer: {result['answer']} (p = {result['probability']:.3f})")
    for k, hop in enumerate(result["hops"], 1):
        print(f"hop {k}:")
        for sentence, weight in hop[:args.top]:
            print(f"  {weight:.3f}  {sentence}")
    return 0


def cmd_sample(argv, command):
    """Samples from a trained model: a language model continues a prime; an RBM or DBN dreams images.

    Which one is the run's system (config.json); `deepnet sample --help` without --run shows both.
    """
    from deepnet import systems

    pre = ArgumentParser(prog="deepnet sample", add_help=False)
    pre.add_argument("--run")
    pre.add_argument("-h", "--help", action="store_true")
    first, _ = pre.parse_known_args(argv)
    if first.run and systems.read_run_config(first.run)["system"] == "rbm":
        return _sample_rbm(argv)
    if first.help and not first.run:
        print("deepnet sample --run DIR ...: the flags depend on the run's system.\n"
              "  an rnn_lm run (a language model continues a prime): deepnet sample --run DIR --prime TEXT "
              "[--length N] [--temperature T] [--top-k K] [--unknown error|unk] [--seed S] [--device D]\n"
              "  an rbm run (Gibbs chains from random states, as a PNG grid): deepnet sample --run DIR "
              "[--chains N] [--steps K] [--out FILE.png] [--seed S] [--device D]\n"
              "deepnet sample --run DIR --help shows the flags of that run's kind.")
        return 0
    return _sample_lm(argv)


def _sample_rbm(argv):
    """An RBM (or the top RBM of a DBN) runs Gibbs chains from random states; the images go to a PNG grid."""
    import torch

    from deepnet import load_run
    from deepnet.core.runtime import pick_device
    from deepnet.systems import rbm

    p = ArgumentParser(prog="deepnet sample", description="Draw images from a trained RBM or deep belief net: block "
                       "Gibbs chains in the top RBM from random states, mapped down to pixels, written as a PNG grid.")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder of an rbm (deepnet train rbm wrote it)")
    p.add_argument("--chains", type=bounded(int, "[1, 10000]"), default=64, help="images (independent chains), 1 to "
                   "10000 (default: 64)")
    p.add_argument("--steps", type=bounded(int, "[1, 1000000]"), default=1000, help="Gibbs steps per chain, 1 to 1e6 "
                   "(default: 1000)")
    p.add_argument("--out", default="samples.png", metavar="FILE.png", help="PNG file to write (default: samples.png)")
    p.add_argument("--seed", type=bounded(int, "[0, 4294967295]"), default=0, help="sampling seed (default: 0)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {args.out}: give a file name ending in .png")
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"--out {args.out}: {'a folder' if out.is_dir() else 'its folder does not exist'}; "
                          "give a .png file in an existing folder")
    device = pick_device(args.device)
    model = load_run(args.run, device=device)
    shape = model.run_config["data"]["input_shape"]
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ConfigError(f"{args.run}: its inputs {shape} are not images to draw")
    g = torch.Generator(device=device).manual_seed(args.seed)
    images = rbm.sample(model, args.chains, args.steps, generator=g).cpu().view(args.chains, *shape)  # (N, V) -> (N, C, H, W)
    try:
        rbm.save_png(rbm.image_grid(images), out)
    except OSError as e:
        raise ConfigError(f"--out {args.out}: cannot write it ({e.strerror or e})") from None
    print(f"{args.chains} samples after {args.steps} Gibbs steps: {out}")
    return 0


def _sample_lm(argv):
    """A trained language model continues a prime, sampling one token at a time."""
    from deepnet import load_run
    from deepnet.core.runtime import pick_device
    from deepnet.systems import rnn_lm

    p = ArgumentParser(prog="deepnet sample", description="Continue a prime with a trained recurrent language model "
                       "(an rbm run takes other flags: deepnet sample --run DIR --help).")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder of an rnn_lm (e.g. runs/quick/char_lm_shakespeare/model)")
    p.add_argument("--prime", default="\n", help='text to start from (default: a newline), e.g. "ROMEO:"')
    p.add_argument("--length", type=bounded(int, "[1, 1000000]"), default=500, help="tokens to sample, 1 to 1e6 (default: 500)")
    p.add_argument("--temperature", type=bounded(float, "(0, 100]"), default=0.8,
                   help="softmax temperature, in (0, 100] (default: 0.8)")
    p.add_argument("--top-k", type=bounded(int, "[0, 1000000]"), default=0, help="sample among the k most likely tokens only (0: all)")
    p.add_argument("--unknown", choices=["error", "unk"], default="error",
                   help="prime tokens never seen in training: error (default) or <unk> (word models)")
    p.add_argument("--seed", type=bounded(int, "[0, 4294967295]"), default=0, help="sampling seed (default: 0)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.length < 0 or args.temperature <= 0 or args.top_k < 0:
        raise ConfigError("--length and --top-k cannot be negative and --temperature must be positive")
    model = load_run(args.run, device=pick_device(args.device))
    if model.run_config.get("system") != "rnn_lm":
        raise ConfigError(f"{args.run}: a '{model.run_config.get('system')}' run: deepnet sample reads rnn_lm and rbm runs")
    try:
        out, notes = rnn_lm.sample(model, args.prime, args.length, args.temperature, args.top_k, args.seed, args.unknown)
    except ValueError as e:
        raise ConfigError(f"--prime: {e}") from None
    for note in notes:
        print(f"deepnet: warning: {note}", file=sys.stderr)
    print(out)
    return 0


def cmd_play(argv, command):
    """A trained DQN agent plays whole games: prints each score, optionally records the first as a GIF."""
    from deepnet import load_run
    from deepnet.systems import dqn

    p = ArgumentParser(prog="deepnet play", description="A trained DQN agent plays (deepnet train dqn wrote the run).")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder of a dqn (e.g. runs/quick/dqn_atari/model)")
    p.add_argument("--episodes", type=bounded(int, "[1, 100000]"), default=1, help="games to play, 1 to 1e5 (default: 1)")
    p.add_argument("--epsilon", type=bounded(float, "[0, 1]"), default=None,
                   help="chance of a random action, in [0, 1] (default: the run's evaluation epsilon)")
    p.add_argument("--record", metavar="FILE.gif", help="write the first game as an animated GIF")
    p.add_argument("--seed", type=bounded(int, "[0, 4294967295]"), default=0, help="seed of the first game (default: 0)")
    args = p.parse_args(argv)
    if args.record:
        out = Path(args.record)
        if out.suffix.lower() != ".gif" or out.is_dir() or not out.parent.is_dir():
            raise ConfigError(f"--record {args.record}: give a .gif file in an existing folder")
    model = load_run(args.run)
    if model.run_config.get("system") != "dqn":
        raise ConfigError(f"{args.run}: a '{model.run_config.get('system')}' run, not a dqn agent")
    tc = config_from_dict(dqn.TrainConfig, model.run_config["train"])
    eps = tc.eval_epsilon if args.epsilon is None else args.epsilon
    try:
        scores = dqn.play(model, tc.env, tc, args.episodes, eps, args.seed, record=args.record)
    except OSError as e:
        raise ConfigError(f"--record {args.record}: cannot write it ({e.strerror or e})") from None
    for i, score in enumerate(scores):
        print(f"game {i + 1}: score {score:g}", flush=True)
    print(f"mean score {sum(scores) / len(scores):.2f} over {len(scores)} game(s), epsilon {eps:g}"
          + (f"; first game recorded: {args.record}" if args.record else ""))
    return 0


def cmd_caption(argv, command):
    """A trained captioner writes a caption for each picture; --attention-png shows where each word looked."""
    import torch

    from deepnet import load_run
    from deepnet.core.runtime import pick_device
    from deepnet.data.photos import load_image
    from deepnet.systems import captioning

    p = ArgumentParser(prog="deepnet caption",
                       description="Caption pictures (scene PNGs or your own photos, any size: resized to 64x64) "
                                   "with a trained captioning run.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="picture files (png, jpg, ...)")
    p.add_argument("--run", required=True, metavar="DIR",
                   help="run folder of a captioning model (e.g. runs/quick/captioning_attention/attention_s0)")
    p.add_argument("--beam", type=bounded(int, "[1, 100]"), default=3, help="beam width, 1 to 100 (1: greedy; default: 3)")
    p.add_argument("--max-len", type=bounded(int, "[1, 200]"), default=24, help="most words per caption (default: 24)")
    p.add_argument("--attention-png", metavar="FILE",
                   help="also save the first picture once per word, with that word's attention laid on it (Figure 3)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    model = load_run(args.run, device=device)
    if model.run_config.get("system") != "captioning":
        raise ConfigError(f"{args.run}: a '{model.run_config.get('system')}' run, not a captioning model")
    if args.attention_png and model.decoder.attn is None:
        raise ConfigError(f"{args.run}: this model has no attention to show (trained with attention 'none')")
    failed, drawn = 0, False
    for path in args.images:
        try:
            x = captioning.prepare_image(load_image(path))  # (3, 64, 64)
        except DeepnetError as e:
            print(f"deepnet: error: {e}", file=sys.stderr)
            failed += 1
            continue
        with torch.no_grad():
            ids, att = captioning.generate(model, x[None].to(device), beam=args.beam, max_len=args.max_len)
        text = captioning.decode(ids[0], model.vocab)
        print(f"{path}: {text}", flush=True)
        if args.attention_png and not drawn:
            from deepnet.report.plots import plot_caption_attention

            words = text.split() + ["</s>"]
            plot_caption_attention(x.numpy(), words, att[0].numpy(), args.attention_png, title=Path(path).name)
            print(f"attention: {args.attention_png}", file=sys.stderr)
            drawn = True
    return 1 if failed else 0


def cmd_translate(argv, command):
    """A trained encoder-decoder translates sentences given as arguments or read from stdin, one per line."""
    from deepnet import load_run
    from deepnet.core.runtime import pick_device
    from deepnet.systems import seq2seq

    p = ArgumentParser(prog="deepnet translate",
                       description="Translate sentences with a trained encoder-decoder (system seq2seq).")
    p.add_argument("sentences", nargs="*", metavar="SENTENCE", help="sentences to translate (none: read stdin)")
    p.add_argument("--run", required=True, metavar="DIR",
                   help="run folder of a seq2seq model (e.g. runs/quick/translation_multi30k/attention)")
    p.add_argument("--beam", type=bounded(int, "[1, 100]"), default=5, help="beam width, 1 to 100 (1: greedy; default: 5)")
    p.add_argument("--alpha", type=bounded(float, "[0, 10]"), default=1.0,
                   help="length normalisation exponent, in [0, 10] (default: 1.0)")
    p.add_argument("--show-attention", action="store_true",
                   help="print each translation's alignment: every output subword with the source subwords it attended")
    p.add_argument("--attention-png", metavar="FILE",
                   help="also save the attention heatmap of the first sentence as a PNG")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.beam < 1 or args.alpha < 0:
        raise ConfigError("--beam must be at least 1 and --alpha cannot be negative")
    model = load_run(args.run, device=pick_device(args.device))
    if model.run_config.get("system") != "seq2seq":
        raise ConfigError(f"{args.run}: a '{model.run_config.get('system')}' run, not an encoder-decoder (seq2seq)")
    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin]
    sentences = [s for s in sentences if s.strip()]
    if not sentences:
        raise ConfigError("nothing to translate: give sentences as arguments or on stdin, one per line")
    if (args.show_attention or args.attention_png) and model.attn is None:
        raise ConfigError(f"{args.run}: this model has no attention to show (trained with attention 'none')")
    results = seq2seq.translate(model, sentences, beam=args.beam, alpha=args.alpha)
    for sentence, r in zip(sentences, results):
        if r["unknown"]:
            print(f"deepnet: warning: {r['unknown']} part(s) of {sentence!r} never seen in training, read as <unk>",
                  file=sys.stderr)
        print(r["text"], flush=True)
        if args.show_attention:
            print(seq2seq.alignment_text(r), flush=True)
    if args.attention_png:
        from deepnet.report.plots import plot_attention

        plot_attention(results[0], args.attention_png)
        print(f"attention: {args.attention_png}", file=sys.stderr)
    return 0


def cmd_transcribe(argv, command):
    """A trained speech model transcribes audio files: a ctc run writes their text, an acoustic_dnn run
    names the spoken digit with its probability."""
    from deepnet import load_run
    from deepnet.core.runtime import pick_device

    p = ArgumentParser(prog="deepnet transcribe",
                       description="Transcribe audio files with a trained speech model (systems ctc and acoustic_dnn).")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help=".wav (any rate, mono or its first channel), .raw (16 kHz 16-bit little-endian PCM) or .mfc "
                        "(Sphinx MFCCs, big-endian as AN4's; ctc runs only)")
    p.add_argument("--run", required=True, metavar="DIR", help="run folder of a ctc or acoustic_dnn model "
                   "(e.g. runs/quick/an4_ctc/model)")
    p.add_argument("--beam", type=bounded(int, "[1, 1000]"), default=1,
                   help="ctc: prefix beam width, 1 to 1000 (1: best path; default: 1)")
    p.add_argument("--lm", metavar="FILE", help="ctc: word language model (ARPA) for the beam search, e.g. AN4's "
                   "etc/an4.ug.lm")
    p.add_argument("--lm-weight", type=bounded(float, "[0, 100]"), default=1.0,
                   help="ctc: weight of the LM's log-probability, in [0, 100] (default: 1.0)")
    p.add_argument("--bonus", type=bounded(float, "[-100, 100]"), default=0.0,
                   help="ctc: score added per word, in [-100, 100] (default: 0)")
    p.add_argument("--top", type=bounded(int, "[1, 10]"), default=3,
                   help="acoustic_dnn: digits shown per file, 1 to 10 (default: 3)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    model = load_run(args.run, device=pick_device(args.device))
    system = model.run_config.get("system")
    if system not in ("ctc", "acoustic_dnn"):
        raise ConfigError(f"{args.run}: a '{system}' run; deepnet transcribe reads ctc and acoustic_dnn runs")
    scorer = None
    if system == "ctc":
        from deepnet.systems import ctc

        if args.lm:
            scorer = ctc.WordScorer(ctc.ArpaLM(args.lm), model.alphabet, args.lm_weight, args.bonus)
        elif args.bonus:
            scorer = ctc.WordScorer(None, model.alphabet, 0.0, args.bonus)
    failed = 0
    for path in args.files:
        try:
            text = _transcribe_one(model, system, Path(path), args.beam, scorer, args.top)
        except DeepnetError as e:
            print(f"deepnet: error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: {text}", flush=True)
    return 1 if failed else 0


def _transcribe_one(model, system, path, beam, scorer, top):
    """One file's transcript (ctc) or top digits (acoustic_dnn); DataError for a file that is not audio."""
    from deepnet.data import audio
    from deepnet.errors import DataError

    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if suffix not in (".wav", ".raw", ".mfc"):
        raise DataError(f"{path}: not an audio file deepnet reads (.wav, .raw 16 kHz PCM, .mfc)")
    try:
        if system == "acoustic_dnn":
            from deepnet.systems import acoustic_dnn

            if suffix == ".mfc":
                raise DataError(f"{path}: an acoustic_dnn run reads audio (.wav, .raw), not .mfc features")
            samples, rate = audio.read_wav(path) if suffix == ".wav" else audio.read_raw(path)
            return ", ".join(f"{d} {p:.3f}" for d, p in acoustic_dnn.transcribe(model, samples, rate)[:top])
        from deepnet.data import an4
        from deepnet.systems import ctc

        if suffix == ".mfc":
            try:
                cep = an4.read_mfc(path, ">")
            except DataError:
                cep = an4.read_mfc(path, "<")  # a newer sphinxbase's little-endian file
            return ctc.transcribe_features(model, an4.features(cep), beam=beam, scorer=scorer)
        samples, rate = audio.read_wav(path) if suffix == ".wav" else audio.read_raw(path)
        return ctc.transcribe(model, samples, rate, beam=beam, scorer=scorer)
    except ValueError as e:  # too short, empty
        raise DataError(f"{path}: {e}") from None


# ---------------------------------------------------------------------------------------------
# report / data


def _dataset_rows():
    from deepnet import data as datasets

    return [{"name": n, "description": m.DESCRIPTION, "licence": m.LICENCE, "source": m.SOURCE}
            for n, m in datasets.DATASETS.items()]


def _with_added_settings(results):
    """Results whose recorded configs predate a setting their experiment added later get it, with the value
    the experiment's ADDED_SETTINGS says those runs behaved as; a single value whose setting became a grid
    (RENAMED_SETTINGS: old name -> new name) becomes a grid of one (in memory, for the drift check; files
    untouched)."""
    for r in results:
        name = r.get("experiment")
        exp = _experiment(name) if name in EXPERIMENTS else None
        config = {**getattr(exp, "ADDED_SETTINGS", {}), **r["config"]}
        for old, new in getattr(exp, "RENAMED_SETTINGS", {}).items():  # one value then, a grid of one now
            if old in config and new not in r["config"]:
                config[new] = [config.pop(old)]
        r["config"] = config
    return results


def _write_report(runs, out):
    from deepnet.report import load_results, write_html

    from deepnet.experiments import to_fetch

    problems = []
    results = _with_added_settings(load_results(runs, problems))
    for line in problems:
        print(f"deepnet: warning: skipped {line}", file=sys.stderr)
    exps = {name: _experiment(name) for name in EXPERIMENTS}
    skipped = {n: f"deepnet data fetch {' '.join(to_fetch(e))}" for n, e in exps.items() if to_fetch(e)}
    return write_html(results, out, datasets=_dataset_rows(), problems=problems,
                      headlines={n: e.HEADLINE for n, e in exps.items()}, skipped=skipped,
                      profiles={n: {p: dataclasses.asdict(c) for p, c in e.PROFILES.items()} for n, e in exps.items()})


def cmd_report(argv, command):
    from deepnet.report import claims_table, experiment_page, load_results, update_readme

    p = ArgumentParser(prog="deepnet report", description="Render results as an offline HTML page or a README table.")
    p.add_argument("--runs", help="folder of result.json files (default: runs; results with --markdown/--readme)")
    p.add_argument("--out", default="runs/report/index.html", help="HTML file to write")
    p.add_argument("--markdown", action="store_true", help="print the README results table")
    p.add_argument("--readme", metavar="FILE", help="rewrite the results table inside FILE (between its markers)")
    args = p.parse_args(argv)
    if args.markdown or args.readme:
        root = Path(args.runs or "results")
        results = _with_added_settings(load_results(root))
        exps = {name: _experiment(name) for name in EXPERIMENTS}
        table = claims_table(results, {n: e.HEADLINE for n, e in exps.items()}, pages=root.as_posix(),
                             papers={n: e.PAPER for n, e in exps.items()})
        if args.readme:
            try:
                changed = update_readme(args.readme, table)
            except ValueError as e:
                raise ConfigError(str(e)) from e
            print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
            for name, exp in exps.items():  # everything else each claim has: its page, linked from its row
                mine = [r for r in results if r["experiment"] == name]
                profiles = {p: dataclasses.asdict(c) for p, c in exp.PROFILES.items()}
                page = experiment_page(name, exp.HEADLINE[0], mine, profiles, exp.PAPER, getattr(exp, "MISSES", ""))
                (root / f"{name}.md").write_text(page, encoding="utf-8")
            print(f"{root}/<experiment>.md: {len(exps)} pages written")
        else:
            print(table)
        return 0
    runs = Path(args.runs or "runs")
    if not runs.exists():
        raise ConfigError(f"no results under {runs}: run 'deepnet reproduce NAME' or 'make demo' first")
    print(f"report: {_write_report(runs, Path(args.out))}")
    return 0


def cmd_data(argv, command):
    from deepnet import data as datasets

    p = ArgumentParser(prog="deepnet data", description="List datasets, verify local copies, fetch datasets.")
    p.add_argument("action", choices=["list", "verify", "fetch"])
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--to", metavar="DIR", help="fetch into DIR (default: $DEEPNET_DATA when set, else the user "
                                               "cache); $DEEPNET_MIRROR, when set, is tried before the canonical URLs")
    args = p.parse_args(argv)
    if args.to and args.action != "fetch":
        raise ConfigError(f"deepnet data {args.action}: --to is only for fetch")
    if args.action == "fetch":
        from deepnet.data import download

        if not args.names:
            raise ConfigError("deepnet data fetch: name the dataset(s) to fetch, e.g. 'deepnet data fetch mnist'; "
                              f"known: {', '.join(download.names())}")
        known = download.names()
        for n in args.names:  # unknown names fail before any download
            if n not in known:
                download.entry(n)
        for n in args.names:
            if n in download.EMBEDDED:
                print(f"{n}: nothing to fetch, {download.EMBEDDED[n]}")
                continue
            root = download.fetch(n, root=args.to)
            print(f"{n}: ready under {root}")
        return 0
    if args.action == "list":
        for name, m in datasets.DATASETS.items():
            print(f"{name:10s} {datasets.where(name):40s} {m.DESCRIPTION}\n{'':10s} licence: {m.LICENCE}")
        absent = [n for n in datasets.DATASETS if not datasets.available(n)]
        if absent:
            from deepnet.data.store import fetch_advice

            print(f"not found here: {', '.join(absent)}; "
                  f"{fetch_advice(*dict.fromkeys(datasets.fetch_name(n) for n in absent))}")
        return 0
    if not args.names:
        raise ConfigError("deepnet data verify: name the dataset(s) to verify, e.g. 'deepnet data verify mnist'")
    modules = [datasets.get(n) for n in args.names]  # unknown names fail before any work
    for name, m in zip(args.names, modules):
        for line in m.verify():
            print(f"{name}: ok: {line}")
    print(f"verified: {' '.join(args.names)}")
    return 0


COMMANDS = {
    "reproduce": cmd_reproduce, "demo": cmd_demo, "experiments": cmd_experiments, "train": cmd_train,
    "eval": cmd_eval, "report": cmd_report, "data": cmd_data, "classify": cmd_classify,
    "answer": cmd_answer, "sample": cmd_sample, "translate": cmd_translate, "play": cmd_play, "caption": cmd_caption,
    "transcribe": cmd_transcribe,
}


def _take_threads(argv):
    """(argv without --threads N, N or None): the one process-wide setting every command shares."""
    rest, n = [], None
    it = iter(argv)
    for a in it:
        if a == "--threads" or a.startswith("--threads="):
            value = a.partition("=")[2] if "=" in a else next(it, "")
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"--threads takes a whole number of CPU threads >= 1, got {value!r}")
            n = int(value)
        else:
            rest.append(a)
    return rest, n


def main(argv=None):
    from deepnet.core.runtime import set_threads

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    command = "deepnet " + shlex.join(argv)
    try:
        argv, threads = _take_threads(argv)
        set_threads(threads)  # once per process, here: every loop and experiment runs on this many
        if not argv or argv[0] in ("-h", "--help"):
            print(_usage())
            return 0 if argv else 2
        if argv[0] in ("-V", "--version"):
            from deepnet import __version__

            print(f"deepnet {__version__}")
            return 0
        if argv[0] not in COMMANDS:
            raise ConfigError(f"unknown command '{argv[0]}'; commands: {', '.join(COMMANDS)} (see deepnet --help)")
        return COMMANDS[argv[0]](argv[1:], command)
    except DeepnetError as e:
        if debug:
            raise
        print(f"deepnet: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # the reader went away (deepnet experiments | head): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except KeyboardInterrupt:  # outside a training run (inside one, the run says what it kept)
        print("deepnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
