"""translation_multi30k: English -> French with an encoder-decoder, with and without attention.

Review, "Recurrent neural networks": an encoder RNN reads the English sentence into a thought
vector that starts a French decoder RNN; and RNNs do better when they learn to focus on one part
at a time (attention). Two models are trained on Multi30k task 1 (29,000 pairs) with the same
sizes, recipe and budget (systems/seq2seq.py, experiments/_translation.py): the plain
encoder-decoder, whose decoder sees the source only through the final encoder state, and the
same model with additive attention over the encoder states. Each model's checkpoint is chosen
on validation loss; its decoding (beam width, 1 being greedy, and length normalisation) is chosen
from the profile's grid on tokenised validation BLEU, and the test set (test_2016_flickr) is decoded
once per final model with that choice.

Tokenisation: SentencePiece unigram subwords learned on the training part, one model per
language, cased; translations are detokenised by the same model and scored with sacrebleu
against the raw references in three conventions: lowercased 13a (`bleu_*`), sacrebleu's default,
cased 13a (`bleu_*_cased`), and the shared-task convention, punctuation-normalised, Moses-tokenised
and lowercased (`bleu_*_tok`, as the LIUM-CVC authors report their 59.02, which the full-cpu and full
profiles' target asks for: our model is single too).
BLEU by source length (English words) shows whether attention holds up on long sentences.
"""

from dataclasses import dataclass

from deepnet.core.runtime import seed_everything
from deepnet.data import multi30k
from deepnet.errors import ConfigError
from deepnet.experiments import _translation
from deepnet.systems import load_run, seq2seq

NAME = "translation_multi30k"
CLAIM = ("An encoder-decoder of recurrent nets translates English to French, and it does better when the decoder "
         "learns to attend to one part of the source at a time.")
SECTION = "Recurrent neural networks (encoder-decoder translation; attention)"
HEADLINE = ("Encoder-decoder translation, better with attention", "bleu_attention_tok")
DATA = ["multi30k"]
PAPER = {
    # The LIUM-CVC WMT17 authors' repository (github.com/lium-lst/wmt17-mmt, README.md, "Results"): their
    # single text-only attentive run "monomodal-en-fr" (config/monomodal-en-fr.conf: BPE 10k, emb 128, GRU
    # 256), test2016 METEOR/BLEU 74.19/59.02 (test2017: 68.87/51.93), scored with nmt-coco-metrics against
    # punctuation-normalised, Moses-tokenised, lowercased references. It is compared with our tokenised
    # lowercased `bleu_attention_tok`; our `bleu_attention` (sacrebleu on detokenised text) is another
    # convention and has no published counterpart here (the earlier 52.5 was recalled and is not found).
    "bleu_attention_tok": {"value": 59.02, "source": "lium-lst/wmt17-mmt README.md, Results table: monomodal-en-fr, "
                                                     "Test2016 BLEU (single run; norm+tok+lowercased, BPE 10k)"},
}
# results recorded before the decoding grid decoded with one beam and alpha: a grid of one pair each
RENAMED_SETTINGS = {"beam": "beams", "alpha": "alphas"}
BUCKETS = ((1, 10), (11, 15), (16, 20), (21, 999))  # source length in English words (whitespace-separated)


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/translation_multi30k.md)
MISSES = """\
The full-cpu run (2026-12-06; 15 epochs per model, beam width and length penalty chosen on validation) reaches
tokenised lowercased BLEU 58.6 on test2016 with attention, against the authors' single text-only run at
59.0. Without attention it reaches 25.2.

The validation loss was still falling at the end, but by only about 0.002 an epoch, so more epochs buy little.

Believed missing: the authors' GRUs with layer normalisation, and their one joint BPE of 10,000 units (we use
LSTMs and two separate 4,000-unit vocabularies). Checkpoint averaging was not tried: the run keeps only its
best and last checkpoints.
"""


@dataclass
class Config:
    """translation_multi30k: plain vs attentive encoder-decoder, same sizes and budget."""

    src_vocab: int = 4000  # English subword units (Multi30k has 84 characters and special units); range [128, 32000]
    tgt_vocab: int = 4000  # French subword units (Multi30k has 102 characters and special units); range [128, 32000]
    embed: int = 128  # subword embedding size; range [1, 2048]
    hidden: int = 256  # decoder state (encoder: hidden/2 per direction), even; range [2, 4096]
    layers: int = 1  # LSTM layers in encoder and decoder; range [1, 8]
    dropout: float = 0.1  # dropout (embeddings, between layers, before the output layer); range [0, 1)
    attn_size: int = 128  # additive attention's hidden size; range [1, 4096]
    label_smoothing: float = 0.1  # label smoothing of the training targets; range [0, 1)
    epochs: int = 2  # passes over the 29,000 training pairs, each model; range [1, 1000]
    batch_size: int = 64  # sentence pairs per minibatch; range [1, 4096]
    lr: float = 3e-3  # AdamW peak rate (one-cycle schedule); range (0, 10]
    weight_decay: float = 0.01  # AdamW decoupled decay; range [0, 10]
    clip_grad: float = 1.0  # global gradient-norm clip (0: none); range [0, inf)
    # beam widths tried on validation (1: greedy); with alphas, the pair with the best tokenised validation
    # BLEU decodes the test set; range [1, 100], 1 to 8 values
    beams: tuple[int, ...] = (5,)
    # length normalisations tried with each beam wider than 1 (score / length^alpha); range [0, 10], 1 to 8 values
    alphas: tuple[float, ...] = (1.0,)
    train_pairs: int = 0  # use only the first N training pairs (0: all 29,000; smoke runs use a few); range [0, 29000]
    eval_pairs: int = 0  # use only the first N validation and test pairs (0: all); range [0, 1014]
    seed: int = 0  # range [0, 4294967295]
    device: str = "auto"

    def check(self):
        if self.hidden % 2:
            raise ConfigError(f"--hidden must be even (the encoder has hidden/2 per direction), got {self.hidden}")


PROFILES = {
    "smoke": Config(src_vocab=300, tgt_vocab=300, embed=16, hidden=32, attn_size=16, epochs=1, batch_size=32,
                    train_pairs=600, eval_pairs=40, beams=(1, 2), alphas=(0.6, 1.0)),
    "quick": Config(),
    # The quick model (the size of the LIUM-CVC authors' single run: embeddings 128, recurrent state 256) trained
    # longer, to be compared with their 59.0: 15 epochs each, dropout 0.3 (up from the 5-epoch run's 0.2, not
    # chosen on validation: longer training overfits more), beam width and length normalisation chosen on
    # validation. Their 25-30 epochs (about 3.5 hours here for both models) would outlast one sitting, and runs/
    # does not outlive a session; 15 epochs, about 2.1 hours on one thread (284 s an attention epoch and 220 s a
    # plain one at load 3) plus the 7 validation decodes of each model, fit one. Run (1 thread, pinned, a 1-thread
    # job on the other core, 6,441 s; 227 s an attention epoch, 188 s a plain one): test2016 tokenised lowercased
    # BLEU with attention 58.6 (target 59.0 missed by 0.4; sacreBLEU 57.6), without 25.2; beam 5 and alpha 0.6
    # chosen on validation for attention (beam 10 for the plain model). The attention model's validation loss
    # was still falling at epoch 15 but barely (2.1796, 2.1775; 2.199 at epoch 11), training loss 2.02.
    # The 5-epoch run before it (dropout 0.2, beam 5, alpha 1; 2,582 s): attention 51.6 (tokenised 51.9), none 18.3
    "full-cpu": Config(dropout=0.3, epochs=15, lr=3e-3, beams=(1, 5, 10), alphas=(0.6, 1.0, 1.4)),
    "full": Config(src_vocab=8000, tgt_vocab=8000, embed=256, hidden=512, layers=2, dropout=0.3, attn_size=256,
                   epochs=12, lr=2e-3),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    t = {"bleu_gain_from_attention": {"op": ">", "value": 0.0}}  # bleu_attention - bleu_no_attention
    if profile in ("full-cpu", "full"):  # the authors' single text-only run (PAPER), same tokenised lowercased text
        t["bleu_attention_tok"] = {"op": ">=", "value": 59.0}
    return t


def _bucket_bleu(src, hyps, refs):
    rows = []
    for lo, hi in BUCKETS:
        idx = [i for i, s in enumerate(src) if lo <= len(s.split()) <= hi]
        if idx:
            rows.append([lo, hi, len(idx), seq2seq.bleu([hyps[i] for i in idx], [refs[i] for i in idx], True)])
    return rows


def run(cfg, out_dir, profile):
    seed_everything(cfg.seed)
    bitext = multi30k.load("en", "fr").head(cfg.train_pairs, cfg.eval_pairs)
    src_tok, tgt_tok = seq2seq.make_tokenizers(bitext, cfg.src_vocab, cfg.tgt_vocab)  # shared by both models
    tcfg = _translation.recipe(cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed, cfg.device, cfg.weight_decay,
                               cfg.clip_grad)
    metrics, series, samples, device = {}, {}, [], "cpu"
    for variant, attention in (("no_attention", "none"), ("attention", "additive")):
        mcfg = seq2seq.Config(attention=attention, embed=cfg.embed, hidden=cfg.hidden, layers=cfg.layers,
                              dropout=cfg.dropout, attn_size=cfg.attn_size, label_smoothing=cfg.label_smoothing)
        seed_everything(cfg.seed)
        r = _translation.train_model(mcfg, bitext, src_tok, tgt_tok, tcfg, out_dir / variant)
        device = r["device"]
        model = load_run(out_dir / variant, device=device)
        refs_val, refs_test = bitext.val.tgt, bitext.test.tgt
        grid = choose_decoding(model, bitext.val.src, refs_val, cfg.beams, cfg.alphas)  # validation only
        beam, alpha, val_beam = grid["best"]
        val_greedy = grid["greedy"] or [t["text"] for t in seq2seq.translate(model, bitext.val.src, beam=1)]
        test_beam = [t["text"] for t in seq2seq.translate(model, bitext.test.src, beam=beam, alpha=alpha)]
        metrics.update({
            f"bleu_{variant}": seq2seq.bleu(test_beam, refs_test, lowercase=True),
            f"bleu_{variant}_cased": seq2seq.bleu(test_beam, refs_test),
            f"bleu_{variant}_tok": seq2seq.bleu_tokenised(test_beam, refs_test),
            f"val_bleu_{variant}_greedy": seq2seq.bleu(val_greedy, refs_val, lowercase=True),
            f"val_bleu_{variant}_beam": seq2seq.bleu(val_beam, refs_val, lowercase=True),
            f"val_bleu_{variant}_tok": seq2seq.bleu_tokenised(val_beam, refs_val),
            f"beam_{variant}": beam,
            f"alpha_{variant}": alpha,
            f"val_loss_{variant}": r["best"]["val_loss"],
            f"parameters_{variant}": sum(p.numel() for p in model.parameters()),
            f"train_seconds_{variant}": r["seconds"],
        })
        series[f"test_bleu_by_source_length_{variant}"] = _bucket_bleu(bitext.test.src, test_beam, refs_test)
        series[f"val_bleu_tok_by_beam_alpha_{variant}"] = grid["rows"]  # [beam, alpha, tokenised val BLEU]
        series[f"val_loss_vs_epoch_{variant}"] = [[h["epoch"], h["val_loss"]] for h in r["history"]]
        (out_dir / f"test_{variant}.fr").write_text("\n".join(test_beam) + "\n")
        samples.append(test_beam[:5])
    metrics["bleu_gain_from_attention"] = metrics["bleu_attention"] - metrics["bleu_no_attention"]
    lines = [f"Tokenisation: SentencePiece unigram, {len(src_tok)} English / {len(tgt_tok)} French units learned "
             f"on the training part. Test decoded once per model with the beam width and length normalisation "
             f"chosen on validation (tokenised BLEU) from beams {list(cfg.beams)} x alphas {list(cfg.alphas)}: "
             f"no attention beam {metrics['beam_no_attention']}, alpha {metrics['alpha_no_attention']}; "
             f"attention beam {metrics['beam_attention']}, alpha {metrics['alpha_attention']}.",
             f"BLEU (sacrebleu) lowercased: {seq2seq.bleu_signature(lowercase=True)}",
             f"BLEU (sacrebleu) cased:      {seq2seq.bleu_signature()}", ""]
    for i in range(min(5, len(bitext.test))):
        lines += [f"EN:  {bitext.test.src[i]}", f"REF: {bitext.test.tgt[i]}", f"no attention: {samples[0][i]}",
                  f"attention:    {samples[1][i]}", ""]
    (out_dir / "samples.txt").write_text("\n".join(lines))
    _plot(series, metrics, out_dir / "bleu_by_length.png")
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed], "device": device,
            "artifacts": ["bleu_by_length.png", "samples.txt", "test_no_attention.fr", "test_attention.fr",
                          "no_attention/", "attention/"]}


def choose_decoding(model, src, refs, beams, alphas):
    """Decode the validation sentences with every (beam, alpha) pair; the best tokenised BLEU wins (ties: the
    smaller beam, then the smaller alpha). Returns {"best": (beam, alpha, its translations), "rows": [[beam, alpha,
    BLEU], ...], "greedy": beam 1's translations or None}. Greedy decoding ignores alpha, so beam 1 is decoded
    once, its alpha recorded as the smallest (it has no effect)."""
    best, rows, greedy = None, [], None
    for beam in sorted(set(beams)):
        for alpha in (sorted(set(alphas)) if beam > 1 else [min(alphas)]):
            hyps = [t["text"] for t in seq2seq.translate(model, src, beam=beam, alpha=alpha)]
            score = seq2seq.bleu_tokenised(hyps, refs)
            rows.append([beam, alpha, score])
            greedy = hyps if beam == 1 else greedy
            if best is None or score > best[0]:
                best = (score, beam, alpha, hyps)
    return {"best": best[1:], "rows": rows, "greedy": greedy}


def _plot(series, metrics, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for variant, label in (("no_attention", "encoder-decoder"), ("attention", "with attention")):
        rows = series[f"test_bleu_by_source_length_{variant}"]
        if not rows:
            continue
        names = [f"{lo}-{hi}" if hi < 999 else f"{lo}+" for lo, hi, _, _ in rows]
        ax.plot(names, [b for *_, b in rows], marker="o",
                label=f"{label} (test BLEU {metrics[f'bleu_{variant}']:.1f})")
    ax.set(xlabel="English sentence length (words)", ylabel="BLEU (lowercased)",
           title="Multi30k En->Fr test_2016_flickr by source length")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
