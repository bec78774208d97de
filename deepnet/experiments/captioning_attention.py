"""captioning_attention: a caption decoder that attends to image regions beats one that reads the pooled image.

Review, Figure 3 and "Recurrent neural networks": a ConvNet turns an image into features, an RNN
"translates" them into a caption, and it does better when it learns to focus its attention on a
different location of the image as it generates each word (Xu et al. 2015).

Protocol: `scenes` (data/scenes.py): 64x64 canvases of real CIFAR-10 photos in a 2x2 or 3x3 grid,
captions from a documented grammar (several true phrasings per scene, all references for BLEU);
training scenes from CIFAR-10 training photos, validation scenes from the 5,000 held out of them,
test scenes from the CIFAR-10 test photos. One encoder (ConvNet stages (32, 64, 64) by default,
pre-trained on CIFAR-10 classification, frozen; its 8x8 maps are the regions) feeds two decoders:
- attention: core/decoder.py's LSTM with soft attention over the 64 regions (Xu et al.: gating
  scalar β, deep output layer; the doubly stochastic penalty and the initial state from the mean
  feature are options, off in the profiles: with them on, attention learnt to avoid the objects,
  see systems/captioning.py);
- no attention: the same LSTM reading the mean of the regions at every step, its hidden size raised
  until its parameter count is closest to the attention decoder's (equal parameters).
Both train with the same recipe (AdamW, one-cycle rate, clipping at 1, the same epochs, batches and
seeds: equal budgets; the rate was not tuned per model), one reference per scene as the target; the
weights of the best validation loss are kept. Test captions by beam search (width `beam`, no length
normalisation), scored once per model.

Metrics (means over the seeds, `_std` beside): bleu4_attention, bleu4_no_attention (sacrebleu corpus
BLEU-4 against every reference, lowercased, 13a; see systems/captioning.py); exact_attention,
exact_no_attention (share of test captions equal to one of the references); bleu4_gap_2x2,
bleu4_gap_3x3 (attention minus no-attention BLEU-4 on the test scenes of each grid); attention_hit_rate
(teacher-forced on every test reference: the share of object words, the nouns, whose attention peak
lies in a cell holding that object; chance is 1/cells: 0.25 on 2x2, 0.11 on 3x3); attention_misses
by class (series attention_misses_by_class, class ids in CIFAR-10's order; the words in samples.txt)
counts the object words that looked elsewhere.

Published, not comparable (real photographs with human captions, not these generated scenes): Show,
Attend and Tell, Flickr8k BLEU-4 19.5 (soft attention) and 21.3 (hard), COCO BLEU-4 25.0 (hard).
"""

import statistics
from dataclasses import dataclass
from typing import Literal

from deepnet.data.scenes import NOUNS
from deepnet.experiments import _captioning

NAME = "captioning_attention"
CLAIM = ("A recurrent net that learns to focus its attention on a different location of the image as it generates "
         "each word of a caption does better than one that sees the image as one vector (Figure 3).")
SECTION = "Recurrent neural networks; Figure 3 (image captioning with attention, Xu et al. 2015)"
HEADLINE = ("Captioning, better with attention to image regions", "bleu4_attention")
DATA = ["cifar10"]
PAPER = {
    "flickr8k_bleu4_soft": {"value": 19.5, "source": "Xu et al. 2015, Show, Attend and Tell, Table 1 (Flickr8k, soft "
                            "attention), as quoted in this project's issue, not checked; not comparable: real photos "
                            "and human captions"},
    "flickr8k_bleu4_hard": {"value": 21.3, "source": "Xu et al. 2015, Table 1 (Flickr8k, hard attention), as quoted in "
                            "this project's issue, not checked; not comparable"},
    "coco_bleu4_hard": {"value": 25.0, "source": "Xu et al. 2015, Table 1 (COCO, hard attention), as quoted in this "
                        "project's issue, not checked; not comparable"},
}


@dataclass
class Config:
    """captioning_attention: soft-attention decoder vs pooled-image decoder on CIFAR-10 scenes."""

    train_scenes: int = 5000  # training scenes; range [1, 1000000]
    val_scenes: int = 500  # validation scenes (choose the best epoch); range [1, 1000000]
    test_scenes: int = 1000  # test scenes, scored once per model; range [1, 1000000]
    grids: tuple[int, ...] = (2, 3)  # scene grids drawn from; range [2, 3], 1 to 2 values
    max_objects: int = 3  # most photos per scene; range [1, 9]
    channels: tuple[int, ...] = (32, 64, 64)  # encoder stages (3 give 8x8 regions); range [1, 1024], 1 to 5 values
    pretrain_epochs: int = 2  # encoder pre-training epochs on CIFAR-10 classification; range [1, 1000]
    pretrain_images: int = 15000  # CIFAR-10 training photos the encoder pre-trains on (0: all); range [0, 45000]
    embed: int = 64  # word embedding size; range [1, 65536]
    hidden: int = 192  # attention decoder's LSTM size (the other's is matched in parameters); range [1, 65536]
    attn_size: int = 64  # attention hidden size; range [1, 65536]
    dropout: float = 0.1  # dropout on embeddings and before the output layer; range [0, 1)
    alpha_c: float = 0.0  # doubly stochastic attention penalty λ (off: see systems/captioning.py); range [0, 100]
    # decoder's initial state: from the mean feature (Xu et al.) or zeros (see systems/captioning.py)
    init: Literal["mean", "zero"] = "zero"
    epochs: int = 6  # training epochs, both decoders; range [1, 10000]
    batch_size: int = 64  # minibatch size, both decoders; range [1, 65536]
    lr: float = 3e-3  # AdamW peak rate, both decoders; range (0, 10]
    beam: int = 3  # beam width of the test captions (1: greedy); range [1, 100]
    seeds: int = 3  # seeds trained per decoder; range [1, 100]
    seed: int = 0  # first seed (also the scenes' and the encoder's); range [0, 2147483647]
    device: str = "auto"  # auto, cpu, cuda


PROFILES = {
    "smoke": Config(train_scenes=200, val_scenes=50, test_scenes=60, pretrain_epochs=1, pretrain_images=500,
                    hidden=32, embed=16, attn_size=16, channels=(8, 16, 16), epochs=1, seeds=1, beam=2),
    # its run (1 thread, load average 4-9 from other jobs on the 2 cores): 603 s; again at load 4 (a core to
    # itself, two more jobs on the other): 348 s, just over the 5 minutes, the same numbers: BLEU-4 64.3 with
    # attention against 60.1 without, attention in the object's cell for 0.44 of the object words (chance 0.18).
    # Kept run, on a fresh machine (the encoder pre-trained in it), 1 thread pinned to one core, one 1-thread
    # job on the other: 277 s, the same numbers
    "quick": Config(),
    # full-cpu: sized to fit one 2.5-hour sitting on one core (runs/ does not outlive a session, so a profile
    # taken up across sessions never lands). Earlier attempts at 20 epochs (1 thread, load 3): the encoder's 10
    # pre-training epochs reach CIFAR-10 validation accuracy 0.713; a decoder epoch over 40,000 scenes takes
    # about 230 s with attention and 150 s without, so 20 epochs x 2 decoders x 3 seeds came to 6-7 hours. Seed 0
    # at 20 epochs reached validation token accuracy 0.908 (attention) and 0.886 (none); seed 1: 0.910 and
    # 0.886; those runs were lost with their session before the test set was read. So five epochs here (the
    # one-cycle rate still anneals to its end). Its run (1 thread, pinned, one other 1-thread job on the other core; the
    # encoder pre-trained in it): 5,969 s. Test BLEU-4 83.2 +- 0.1 with attention against 74.5 +- 0.6 without,
    # the gap 13.2 on 3x3 scenes and 5.1 on 2x2; attention in the object's cell for 0.869 +- 0.008 of the object
    # words (chance 0.18): the 0.9 target missed. A decoder epoch took about 160 s with attention and 110 s
    # without. Validation loss was still falling at the fifth epoch (attention 0.248, token accuracy 0.904),
    # but the lost 20-epoch runs reached only 0.908, so four times the training may not buy much; their hit
    # rate was never measured. Most misses name the wrong class in the right cell (fig3_captions)
    "full-cpu": Config(train_scenes=40000, val_scenes=2000, test_scenes=2000, pretrain_epochs=10, pretrain_images=0,
                       channels=(64, 128, 128), hidden=384, embed=128, attn_size=128, epochs=5),
    "full": Config(train_scenes=100000, val_scenes=5000, test_scenes=5000, pretrain_epochs=30, pretrain_images=0,
                   channels=(64, 128, 256), hidden=512, embed=256, attn_size=256, epochs=30, beam=5),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    t = {"bleu4_attention": {"op": ">", "metric": "bleu4_no_attention"},
         "bleu4_gap_3x3": {"op": ">", "metric": "bleu4_gap_2x2"}}
    # far above chance (1/cells: 0.18 on the quick mix of grids): at least 0.4 in minutes, 0.9 at scale
    t["attention_hit_rate"] = {"op": ">=", "value": 0.9 if profile in ("full", "full-cpu") else 0.4}
    return t


def _mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def run(cfg, out_dir, profile):
    data = _captioning.load(cfg)
    vocab = len(data.extra["vocab"])
    hidden_none, n_att = _captioning.matched_hidden(cfg, vocab)
    per = {v: [] for v in ("attention", "no_attention")}
    device, samples, misses = "cpu", [], {}
    seeds = [cfg.seed + k for k in range(cfg.seeds)]
    for seed in seeds:
        for variant, attention, hidden in (("attention", "soft", cfg.hidden), ("no_attention", "none", hidden_none)):
            print(f"{NAME}: {variant} decoder (hidden {hidden}), seed {seed}", flush=True)
            mcfg = _captioning.model_config(cfg, attention, hidden)
            model, r = _captioning.train(mcfg, data, cfg, seed, out_dir / f"{variant}_s{seed}")
            device = r["device"]
            s = _captioning.score(model, data, "test", cfg.beam)
            s["val_loss"], s["params"] = r["best"]["val_loss"], sum(p.numel() for p in model.decoder.parameters())
            per[variant].append(s)
            for w, n in s.get("misses", {}).items():
                misses[w] = misses.get(w, 0) + n
            if seed == cfg.seed:
                samples.append(s["hyps"][:8])
    metrics = {}
    for variant, runs in per.items():
        for key, name in (("bleu4", "bleu4"), ("exact", "exact"), ("bleu1", "bleu1"), ("bleu2", "bleu2"),
                          ("bleu3", "bleu3"), ("val_loss", "val_loss")):
            m, sd = _mean_std([r[key] for r in runs])
            metrics[f"{name}_{variant}"], metrics[f"{name}_{variant}_std"] = m, sd
        metrics[f"decoder_parameters_{variant}"] = runs[0]["params"]
    for g in (2, 3):
        key = f"bleu4_{g}x{g}"
        if all(key in r for rs in per.values() for r in rs):
            gaps = [a[key] - b[key] for a, b in zip(per["attention"], per["no_attention"])]
            metrics[f"bleu4_gap_{g}x{g}"], metrics[f"bleu4_gap_{g}x{g}_std"] = _mean_std(gaps)
    hit = _mean_std([r["hit_rate"] for r in per["attention"]])
    metrics["attention_hit_rate"], metrics["attention_hit_rate_std"] = hit
    metrics["encoder_cifar10_val_accuracy"] = data.extra["encoder_val_accuracy"]
    part = data.scenes.test
    chance = [1 / int(part.grids[i]) ** 2 for i in range(len(part))]
    metrics["attention_hit_chance"] = sum(chance) / len(chance)
    words = sorted(misses.items(), key=lambda r: -r[1])
    series = {"attention_misses_by_class": [[k, sum(n for w, n in misses.items() if w in (noun, noun + "s"))]
                                            for k, noun in enumerate(NOUNS)],
              "bleu4_by_seed": [[s, a["bleu4"], b["bleu4"]] for s, a, b in zip(seeds, per["attention"],
                                                                               per["no_attention"])]}
    lines = [f"Test scenes, seed {cfg.seed}, beam {cfg.beam}. Decoder parameters: attention {n_att:,}, "
             f"no attention {metrics['decoder_parameters_no_attention']:,} (hidden {hidden_none}).",
             f"Object words whose attention peak fell outside their cell, all seeds: {dict(words)}",
             ""]
    for i in range(min(8, len(part))):
        lines += [f"scene {i} ({int(part.grids[i])}x{int(part.grids[i])}): refs {part.refs[i]}",
                  f"  attention:    {samples[0][i]}", f"  no attention: {samples[1][i]}", ""]
    (out_dir / "samples.txt").write_text("\n".join(lines))
    return {"metrics": metrics, "series": series, "seeds": seeds, "device": device,
            "artifacts": ["samples.txt"] + [f"{v}_s{s}/" for s in seeds for v in per]}
