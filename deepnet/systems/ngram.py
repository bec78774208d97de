"""Interpolated modified Kneser-Ney n-gram language model: the baseline the review contrasts with.

Review, "Distributed representations and language processing": n-gram models count the
frequencies of short symbol sequences of length up to N; they cannot generalise across
semantically related sequences of words, because each word is an atomic symbol.

Chen & Goodman (1998), "An empirical study of smoothing techniques for language modeling":
interpolated modified Kneser-Ney, its equations and counting written out in core/kneser_ney.py (the
CTC speech recogniser's word language model uses the same counts).
"""

from dataclasses import dataclass

from deepnet.core.config import config_from_dict
from deepnet.core.kneser_ney import KneserNey, contexts, perplexity
from deepnet.errors import ConfigError

# the model and its helpers live in core/ (shared with systems/ctc.py); nplm_brown reads them from here
__all__ = ["Config", "KneserNey", "build", "contexts", "perplexity"]

# counted by its experiment (nplm_brown), not trained by `deepnet train` (interface: systems/__init__.py)
TRAINS_ON = ()
TRAIN_CONFIG = fit = load_data = prepare_data = evaluate_part = None


@dataclass
class Config:
    """ngram: order n of the interpolated modified Kneser-Ney model."""

    order: int = 3  # n: the model conditions on the n-1 previous tokens (|V|^n must fit in int64); range [1, 10]


def build(run_config):
    cfg = config_from_dict(Config, run_config["model"], "model config")
    try:
        return KneserNey(run_config["data"]["num_classes"], cfg.order)
    except ValueError as e:  # |V|^order past int64
        raise ConfigError(f"--order: {e}") from None
