"""The training recipe shared by translation_multi30k, attention_alignment and fig4_phrase_vectors."""

from dataclasses import asdict

from deepnet.core.train import TrainConfig, fit
from deepnet.systems import load_run, load_run_matching, seq2seq


def recipe(epochs, batch_size, lr, seed=0, device="auto", weight_decay=0.01, clip_grad=1.0):
    """AdamW, one-cycle rate (5% warm-up), clipping: the TrainConfig every translation experiment trains with."""
    return TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="adamw", lr=lr, weight_decay=weight_decay,
                       schedule="onecycle", warmup=0.05, clip_grad=clip_grad, eval_batch_size=128, device=device,
                       seed=seed, log_every=50)


def train_model(cfg, bitext, src_tok, tgt_tok, tcfg, run_dir, resume=False):
    """Train a Seq2Seq on bitext with the engine (core.train.fit): best.pt is chosen on validation loss;
    the test part is not read here (BLEU on it is computed once, by the caller, for the final model)."""
    data = seq2seq.make_splits(bitext, src_tok, tgt_tok, cfg.max_len)
    model = seq2seq.Seq2Seq(cfg, len(src_tok), len(tgt_tok))
    print(f"   seq2seq, attention {cfg.attention}: {tcfg.epochs} epoch(s) on {len(data.train)} pairs ...", flush=True)
    return fit(model, data, tcfg, run_dir, seq2seq.run_config_for(cfg, src_tok, tgt_tok, bitext), resume=resume,
               metrics=seq2seq.token_accuracy, test=False)


def train_and_load(cfg, bitext, src_vocab, tgt_vocab, tcfg, run_dir):
    """Learn the subword units, train a model (train_model), and return (its best weights loaded, fit's result)."""
    src_tok, tgt_tok = seq2seq.make_tokenizers(bitext, src_vocab, tgt_vocab)
    r = train_model(cfg, bitext, src_tok, tgt_tok, tcfg, run_dir)
    return load_run(run_dir, device=r["device"]), r


def train_or_reuse(cfg, bitext, src_vocab, tgt_vocab, tcfg, run_dir, model_run=""):
    """(model, device, artifacts): a model trained by train_and_load, or the one in `model_run` when that
    run is the model these settings would train (model config, training recipe, data and subword units:
    load_run_matching checks them). translation_multi30k's run folders (attention/, no_attention/) are
    such runs for attention_alignment and fig4_phrase_vectors at equal settings."""
    if not model_run:
        model, r = train_and_load(cfg, bitext, src_vocab, tgt_vocab, tcfg, run_dir)
        return model, r["device"], [f"{run_dir.name}/"]
    src_tok, tgt_tok = seq2seq.make_tokenizers(bitext, src_vocab, tgt_vocab)
    want = {**seq2seq.run_config_for(cfg, src_tok, tgt_tok, bitext), "train": asdict(tcfg)}
    return load_run_matching(model_run, want), "cpu", []
