"""What the captioning experiments share: the data as both decoders read it, training one decoder, scoring it."""

import dataclasses

from deepnet.core.runtime import seed_everything
from deepnet.core.train import TrainConfig
from deepnet.systems import captioning, load_run


def model_config(cfg, attention, hidden=None):
    return captioning.Config(attention=attention, channels=tuple(cfg.channels), embed=cfg.embed,
                             hidden=hidden or cfg.hidden, attn_size=cfg.attn_size, dropout=cfg.dropout,
                             alpha_c=cfg.alpha_c, pretrain_epochs=cfg.pretrain_epochs,
                             pretrain_images=cfg.pretrain_images, train_scenes=cfg.train_scenes,
                             val_scenes=cfg.val_scenes, test_scenes=cfg.test_scenes, grids=tuple(cfg.grids),
                             max_objects=cfg.max_objects, init=cfg.init)


def load(cfg, log=print):
    """Scenes, vocabulary, the pre-trained encoder and the frozen region features: made once, shared by every model."""
    mcfg = model_config(cfg, "soft")
    return captioning.prepare_data(captioning.SceneSource("scenes", cfg.seed), mcfg, log=log)


def n_params(mcfg, vocab):
    return sum(p.numel() for p in captioning.Captioner(mcfg, vocab).decoder.parameters())


def matched_hidden(cfg, vocab):
    """The no-attention decoder's hidden size whose parameter count is closest to the attention decoder's."""
    target = n_params(model_config(cfg, "soft"), vocab)
    best = min(range(cfg.hidden, 4 * cfg.hidden + 1), key=lambda h: abs(n_params(model_config(cfg, "none", h),
                                                                                     vocab) - target))
    return best, target


def train(mcfg, data, cfg, seed, run_dir):
    """Train one decoder with the experiment's recipe (the engine, on the frozen features) -> (model, fit result)."""
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                       schedule="onecycle", warmup=0.05, clip_grad=1.0, eval_batch_size=256, seed=seed,
                       device=cfg.device, progress=False)
    seed_everything(seed)
    model = captioning.build({"model": dataclasses.asdict(mcfg), "data": {"vocab": data.extra["vocab"]}})
    r = captioning.fit(model, data, tcfg, run_dir, captioning.run_config_for(mcfg, data, cfg.seed), test=False)
    return load_run(run_dir, device=r["device"]), r


def score(model, data, part_name, beam, max_len=24):
    """Captions of a part's scenes and their scores: BLEU-1..4 (all, 2x2, 3x3), exact rate, attention hits."""
    part = getattr(data.scenes, part_name)
    x = getattr(data, part_name).x.to(next(model.parameters()).device)
    ids, att = captioning.generate(model, x, beam=beam, max_len=max_len)
    hyps = [captioning.decode(i, model.vocab) for i in ids]
    out = {"hyps": hyps, "attention": att, **captioning.bleu(hyps, part.refs)}
    out["exact"] = sum(h in refs for h, refs in zip(hyps, part.refs)) / len(hyps)
    for g in (2, 3):
        keep = [i for i in range(len(hyps)) if int(part.grids[i]) == g]
        if keep:
            out[f"bleu4_{g}x{g}"] = captioning.bleu([hyps[i] for i in keep], [part.refs[i] for i in keep])["bleu4"]
    if model.decoder.attn is not None:
        regions = int(round(x.shape[1] ** 0.5)) if x.ndim == 3 else x.shape[-1] >> len(model.cfg.channels)
        hits, total, misses = captioning.attention_hits(model, x, part, regions)
        out.update(hit_rate=hits / max(total, 1), hits=hits, words=total, misses=misses)
    return out
