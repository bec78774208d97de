"""transcribe_demo: continuous speech read by the two speech systems (a demonstration; nothing is scored).

Review, "Speech": deep nets took over acoustic modelling, first as frame classifiers, then trained
end to end from acoustics to the characters of the transcript. The FSDD digit model (systems/
acoustic_dnn.py) knows isolated digits at 8 kHz; the AN4 model (systems/ctc.py) knows spelt
letters, digits and a few census words from 16 kHz Sphinx MFCCs. `sphinx_frontend/numbers.raw` is
neither: continuous speech at 16 kHz (spoken numbers, from PocketSphinx's test data; its transcript
is not shipped with it, so no error rate can be computed).

Here:
1. Both models are trained as `deepnet train` trains them (each system's TRAIN_CONFIG), with the
   profile's epochs: acoustic_dnn on FSDD's official training part, ctc on AN4's.
2. numbers.raw is cut into words by energy: log energy of 25 ms frames every 10 ms, a frame is
   speech when within `threshold_db` of the loudest frame; runs of speech closer than `min_gap`
   seconds are joined, runs shorter than `min_word` dropped, each word padded by `pad` seconds.
3. Each word is read by the digit model (its top digits with probabilities), and the whole
   recording and each word by the AN4 model through the Sphinx-style front end (prefix beam search,
   width `beam`, no language model).
Outputs: transcripts.txt (both readings), segments.png (waveform, energy, the words cut).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from deepnet.core.runtime import seed_everything
from deepnet.core.train import fit
from deepnet.data import an4, audio, fsdd, store
from deepnet.errors import DataError
from deepnet.systems import acoustic_dnn, ctc, load_run

NAME = "transcribe_demo"
CLAIM = ("Speech models trained on isolated digits and on spelt census answers read a recording of continuous "
         "speech they were not trained on, once it is cut into words.")
SECTION = "Speech (deep nets as acoustic models; recurrent nets trained end to end to characters)"
HEADLINE = ("Continuous speech read by both speech models", "segments")
DATA = ["fsdd", "an4"]
PAPER = {}
RECORDING = "sphinx_frontend/numbers.raw"


@dataclass
class Config:
    """transcribe_demo: numbers.raw cut into words by energy, read by the digit model and the AN4 model."""

    digit_epochs: int = 8  # acoustic_dnn training epochs on FSDD (its recipe's 8); range [1, 10000]
    ctc_epochs: int = 6  # ctc training epochs on AN4 (its recipe: 20); range [1, 10000]
    # AN4 training utterances used (0: all 844 of the training speakers); range [0, 948]
    ctc_utterances: int = 0
    # a frame is speech within this many dB of the loudest frame; -15 and min_gap 0.02 were chosen by looking at
    # segments.png of this recording (its noise floor lies 30 dB below its loudest frame, and its words run
    # together, dipping 10-25 dB between them): 8 words; -30 dB keeps the whole recording as one; range [-120, 0]
    threshold_db: float = -15.0
    min_gap: float = 0.02  # seconds of silence that separate two words; range [0, 10]
    min_word: float = 0.12  # seconds: shorter runs of speech are dropped; range [0, 10]
    pad: float = 0.05  # seconds of context kept on each side of a word; range [0, 1]
    beam: int = 8  # prefix beam width of the AN4 model; range [1, 256]
    seed: int = 0  # initialisation and minibatch order of both models; range [0, 2147483647]
    device: str = "cpu"  # cpu, cuda, auto


PROFILES = {
    "smoke": Config(digit_epochs=1, ctc_epochs=1, ctc_utterances=64, beam=2),
    # about 1 minute for the digit model and 4 for the AN4 model on one thread of a quiet core
    "quick": Config(),
    "full-cpu": Config(digit_epochs=20, ctc_epochs=20),
    "full": Config(digit_epochs=20, ctc_epochs=40),
}


def targets(profile, cfg):
    return {}  # a demonstration: no transcript to score against


def segment(samples, rate, threshold_db=-15.0, min_gap=0.02, min_word=0.12, pad=0.05):
    """[(start, end)] sample indices of the words of a recording, found by short-time energy (see the docstring)."""
    frame, hop = int(0.025 * rate), int(0.010 * rate)
    n = max(1, 1 + (len(samples) - frame) // hop)
    frames = np.stack([samples[i * hop:i * hop + frame] for i in range(n)])  # (n, frame)
    energy = 10 * np.log10((frames.astype(np.float64) ** 2).mean(1) + 1e-12)  # dB per frame
    speech = energy >= energy.max() + threshold_db
    runs, start = [], None
    for i, s in enumerate(list(speech) + [False]):
        if s and start is None:
            start = i
        elif not s and start is not None:
            runs.append([start, i])
            start = None
    joined = []
    for a, b in runs:  # join runs separated by less than min_gap
        if joined and (a - joined[-1][1]) * hop / rate < min_gap:
            joined[-1][1] = b
        else:
            joined.append([a, b])
    out = []
    for a, b in joined:
        if (b - a) * hop / rate >= min_word:
            s0 = max(0, a * hop - int(pad * rate))
            s1 = min(len(samples), (b - 1) * hop + frame + int(pad * rate))
            out.append((s0, s1))
    return out, energy


def _train(module, data, run_config, epochs, cfg, run_dir):
    seed_everything(cfg.seed)
    model = module.build(run_config)
    tc = dataclasses.replace(module.TRAIN_CONFIG, epochs=epochs, seed=cfg.seed, device=cfg.device, progress=False)
    fit(model, data, tc, run_dir, {**run_config, "train": dataclasses.asdict(tc)}, test=False)
    return load_run(run_dir, device="cpu")


def run(cfg, out_dir, profile):
    root = store.find((RECORDING,))
    if root is None:
        raise DataError(f"{RECORDING} not found under the data folder ($DEEPNET_DATA): the demo reads it")
    samples, rate = audio.read_raw(root / RECORDING)

    digits = fsdd.load(seed=0)
    print(f"   the digit model: acoustic_dnn on {len(digits.train)} FSDD recordings, {cfg.digit_epochs} epoch(s) ...",
          flush=True)
    dnn = _train(acoustic_dnn, digits, {"system": "acoustic_dnn", "model": dataclasses.asdict(acoustic_dnn.Config()),
                                        "data": {**digits.info(), "seed": 0, "subset": 0}},
                 cfg.digit_epochs, cfg, out_dir / "digit_model")
    speech = an4.load(seed=0, limit=cfg.ctc_utterances)
    print(f"   the AN4 model: ctc on {len(speech.train)} utterances, {cfg.ctc_epochs} epoch(s) ...", flush=True)
    rec = _train(ctc, speech, {"system": "ctc", "model": dataclasses.asdict(ctc.Config()),
                               "data": {**speech.info(), "seed": 0, "subset": 0}},
                 cfg.ctc_epochs, cfg, out_dir / "an4_model")

    words, energy = segment(samples, rate, cfg.threshold_db, cfg.min_gap, cfg.min_word, cfg.pad)
    lines = [f"{RECORDING}: {len(samples) / rate:.2f} s at {rate} Hz; {len(words)} word(s) cut by energy "
             f"(threshold {cfg.threshold_db:g} dB, gap {cfg.min_gap:g} s)",
             f"AN4 model, whole recording (beam {cfg.beam}): {ctc.transcribe(rec, samples, rate, beam=cfg.beam)!r}", ""]
    digit_reading = []
    for i, (a, b) in enumerate(words, 1):
        piece = samples[a:b]
        top = acoustic_dnn.transcribe(dnn, piece, rate)[:3]
        digit_reading.append(top[0][0])
        try:
            spelt = ctc.transcribe(rec, piece, rate, beam=cfg.beam)
        except ValueError as e:  # too short for the front end
            spelt = f"({e})"
        lines.append(f"word {i} ({a / rate:.2f}-{b / rate:.2f} s): digit model "
                     + ", ".join(f"{d} {p:.2f}" for d, p in top) + f"; AN4 model {spelt!r}")
    lines.insert(2, f"digit model, word by word: {' '.join(digit_reading)}")
    text = "\n".join(lines) + "\n"
    (out_dir / "transcripts.txt").write_text(text)
    print("   " + text.replace("\n", "\n   "), flush=True)
    _plot(samples, rate, energy, words, digit_reading, cfg, out_dir / "segments.png")
    return {"metrics": {"segments": len(words), "seconds_of_audio": len(samples) / rate,
                        "threads": torch.get_num_threads()},
            "series": {"segments_seconds": [[a / rate, b / rate] for a, b in words]},
            "seeds": [cfg.seed], "artifacts": ["transcripts.txt", "segments.png", "digit_model/", "an4_model/"],
            "device": cfg.device}


def _plot(samples, rate, energy, words, labels, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(11, 5), sharex=True)
    t = np.arange(len(samples)) / rate
    a.plot(t, samples, lw=0.3, color="0.3")
    for (s0, s1), label in zip(words, labels):
        a.axvspan(s0 / rate, s1 / rate, color="tab:orange", alpha=0.25)
        a.text((s0 + s1) / 2 / rate, 0.9 * float(np.abs(samples).max()), label, ha="center", fontsize=9)
    a.set(ylabel="amplitude", title="numbers.raw cut into words by energy, each read by the digit model")
    b.plot(np.arange(len(energy)) * 0.010, energy, lw=0.8)
    b.axhline(energy.max() + cfg.threshold_db, color="tab:red", ls="--", lw=1, label=f"threshold ({cfg.threshold_db:g} dB)")
    b.set(xlabel="seconds", ylabel="frame energy (dB)")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
