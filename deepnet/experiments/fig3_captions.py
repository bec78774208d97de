"""fig3_captions: Figure 3, captions generated from images, with where the net looked for each word.

Review, Figure 3: "Image captioning... a recurrent neural network trained to 'translate' high-level
representations of images into captions... When the RNN is given the ability to focus its attention on
a different location of the input image as it generates each word, ... we found that it exploits this
to achieve better 'translation' of images into captions" (Xu et al. 2015).

Protocol: one soft-attention caption model (systems/captioning.py: a ConvNet encoder pre-trained on
CIFAR-10 classification and frozen, its 8x8 maps the regions; the attentive LSTM of core/decoder.py),
trained on `scenes` (data/scenes.py) as in captioning_attention, one seed. It captions test scenes
by beam search; for the first `figures` of them the figure shows each generated word with its
attention over the canvas, the peak of every object word marked (green in the cell of an object of
that class, red elsewhere). The metric attention_hit_rate is measured teacher-forced on every test
reference: the share of object words (nouns) whose attention peak lies in a cell holding the object
they name (chance: 1/cells). The trained model is kept in `model/` (deepnet caption --run).
"""

from dataclasses import dataclass
from typing import Literal

from deepnet.data.scenes import NOUNS, PLURALS, region_cells
from deepnet.experiments import _captioning

NAME = "fig3_captions"
CLAIM = ("A recurrent net that attends to a different location of the image for each word generates captions whose "
         "object words come from the part of the picture that shows the object (Figure 3).")
SECTION = "Figure 3 (image captioning with attention)"
HEADLINE = ("Caption words attend to their objects", "attention_hit_rate")
DATA = ["cifar10"]
PAPER = {}


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/fig3_captions.md)
MISSES = """\
In the full-cpu run (captioning_attention's model, seed 0) the hit rate is 86.9% against the target 90%
(chance 18%). The hit rate is measured teacher-forced: the share of object words whose attention peak lies in
a cell that holds a photo of that word's class.

The figures, looked at, show the attention moving from object to object word by word. Most wrong object words
in the generated captions look at the right cell and misname its photo: the encoder reads CIFAR-10 photos with
71% accuracy.

Believed missing: a better encoder (more CIFAR-10 training, or a deeper net), so that a cell's features name
its class; a different attention is not what the figures point to.
"""


@dataclass
class Config:
    """fig3_captions: one soft-attention captioner on CIFAR-10 scenes, its captions and attention drawn."""

    train_scenes: int = 5000  # training scenes; range [1, 1000000]
    val_scenes: int = 500  # validation scenes; range [1, 1000000]
    test_scenes: int = 500  # test scenes captioned and scored; range [1, 1000000]
    grids: tuple[int, ...] = (2, 3)  # scene grids drawn from; range [2, 3], 1 to 2 values
    max_objects: int = 3  # most photos per scene; range [1, 9]
    channels: tuple[int, ...] = (32, 64, 64)  # encoder stages (3 give 8x8 regions); range [1, 1024], 1 to 5 values
    pretrain_epochs: int = 2  # encoder pre-training epochs on CIFAR-10 classification; range [1, 1000]
    pretrain_images: int = 15000  # CIFAR-10 training photos the encoder pre-trains on (0: all); range [0, 45000]
    embed: int = 64  # word embedding size; range [1, 65536]
    hidden: int = 192  # LSTM size; range [1, 65536]
    attn_size: int = 64  # attention hidden size; range [1, 65536]
    dropout: float = 0.1  # dropout on embeddings and before the output layer; range [0, 1)
    alpha_c: float = 0.0  # doubly stochastic attention penalty λ (off: see systems/captioning.py); range [0, 100]
    # decoder's initial state: from the mean feature (Xu et al.) or zeros (see systems/captioning.py)
    init: Literal["mean", "zero"] = "zero"
    epochs: int = 6  # training epochs; range [1, 10000]
    batch_size: int = 64  # minibatch size; range [1, 65536]
    lr: float = 3e-3  # AdamW peak rate; range (0, 10]
    beam: int = 3  # beam width of the captions (1: greedy); range [1, 100]
    figures: int = 6  # test scenes drawn with their per-word attention; range [1, 100]
    seed: int = 0  # seed of the scenes, the encoder and the decoder; range [0, 2147483647]
    device: str = "auto"  # auto, cpu, cuda


PROFILES = {
    "smoke": Config(train_scenes=200, val_scenes=50, test_scenes=40, pretrain_epochs=1, pretrain_images=500,
                    hidden=32, embed=16, attn_size=16, channels=(8, 16, 16), epochs=1, beam=2, figures=2),
    # its kept run (results/quick, 1 thread, quiet cores): 81 s; hit rate 0.473 (chance 0.18); a development run
    # under a load of about 4 took 146 s
    "quick": Config(),
    # captioning_attention's full-cpu model, seed 0 (its encoder and scenes come from the same cache): the
    # figure of the model whose hit rate that experiment reports. Its run (1 thread, pinned, the other core
    # busy; the encoder cached): 1,189 s; hit rate 0.869 (chance 0.18), target 0.9 missed; BLEU-4 83.2, 44% of
    # the captions exact. The figures show the attention moving from object to object word by word; most wrong
    # object words look at the right cell and misname its photo (the encoder's CIFAR-10 accuracy is 0.71), and
    # with two photos of one class the peak may sit on the other one ("a ship above a ship", both peaks on the
    # lower ship), which the hit rate counts as a hit
    "full-cpu": Config(train_scenes=40000, val_scenes=2000, test_scenes=2000, pretrain_epochs=10, pretrain_images=0,
                       channels=(64, 128, 128), hidden=384, embed=128, attn_size=128, epochs=5),
    "full": Config(train_scenes=100000, val_scenes=5000, test_scenes=5000, pretrain_epochs=30, pretrain_images=0,
                   channels=(64, 128, 256), hidden=512, embed=256, attn_size=256, epochs=30, beam=5),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    # chance is about 0.18
    return {"attention_hit_rate": {"op": ">=", "value": 0.9 if profile in ("full", "full-cpu") else 0.4}}


def run(cfg, out_dir, profile):
    data = _captioning.load(cfg)
    mcfg = _captioning.model_config(cfg, "soft")
    model, r = _captioning.train(mcfg, data, cfg, cfg.seed, out_dir / "model")
    s = _captioning.score(model, data, "test", cfg.beam)
    part = data.scenes.test
    regions = int(round(data.test.x.shape[1] ** 0.5))
    noun_class = {**{n: k for k, n in enumerate(NOUNS)}, **{PLURALS[n]: k for k, n in enumerate(NOUNS)}}
    gen_hits = gen_words = 0
    from deepnet.report.plots import plot_caption_attention

    artifacts = ["model/", "captions.txt"]
    lines = []
    for i in range(len(part)):
        words = s["hyps"][i].split()
        att = s["attention"][i]  # (T+1, R)
        cells = region_cells(int(part.grids[i]), regions)
        marks = {}
        for t, w in enumerate(words):
            if w in noun_class and t < len(att):  # generated object word: does it look at an object of its class?
                peak_cell = int(cells[int(att[t].argmax())])
                marks[t] = int(part.cells[i, peak_cell]) == noun_class[w]
        gen_hits += sum(marks.values())
        gen_words += len(marks)
        if i < cfg.figures:
            name = f"scene{i}.png"
            plot_caption_attention(part.images[i].numpy(), words + ["</s>"], att.numpy(), out_dir / name, marks,
                                   title=f"{int(part.grids[i])}x{int(part.grids[i])} scene {i}")
            artifacts.append(name)
        lines.append(f"{i}\t{s['hyps'][i]}\t{' | '.join(part.refs[i])}")
    (out_dir / "captions.txt").write_text("scene\tgenerated\treferences\n" + "\n".join(lines) + "\n")
    metrics = {"attention_hit_rate": s["hit_rate"],
               "generated_object_word_hit_rate": gen_hits / max(gen_words, 1),
               "attention_hit_chance": sum(1 / int(g) ** 2 for g in part.grids.tolist()) / len(part),
               "bleu4": s["bleu4"], "exact": s["exact"], "val_loss": r["best"]["val_loss"],
               "encoder_cifar10_val_accuracy": data.extra["encoder_val_accuracy"]}
    misses = sorted(s["misses"].items(), key=lambda m: -m[1])
    (out_dir / "misses.txt").write_text("object words whose attention peak fell outside their cell (teacher-forced, "
                                        "every test reference):\n" + "\n".join(f"{w}\t{n}" for w, n in misses) + "\n")
    artifacts.append("misses.txt")
    return {"metrics": metrics, "series": {}, "seeds": [cfg.seed], "device": r["device"], "artifacts": artifacts}
