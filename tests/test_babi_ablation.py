"""babi_ablation: its variants change one setting of babi_memn2n's unit each, and its attention measure."""

import pytest
import torch

from deepnet.errors import ConfigError
from deepnet.experiments import babi_ablation as exp
from deepnet.experiments import babi_memn2n


def test_the_base_variant_is_babi_memn2n_s_unit_and_each_other_changes_one_setting():
    cfg = exp.PROFILES["full"]
    base = exp.unit_spec(cfg, "base", 3, 0)
    assert base == babi_memn2n.unit_spec(babi_memn2n.PROFILES["full"], "1k", (3,), 0, False)  # one shared cache
    changed = {"no_te": ("temporal_encoding", False), "no_pe": ("position_encoding", False),
               "no_ls": ("linear_start", 0), "no_rn": ("noise", 0.0), "hops1": ("hops", 1)}
    for v, (key, value) in changed.items():
        spec = exp.unit_spec(cfg, v, 3, 0)
        diff = {k for k in base["model"] if base["model"][k] != spec["model"][k]}
        assert diff == {key} and spec["model"][key] == value and spec["train"] == base["train"]


def test_unknown_or_baseless_variants_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown no_x"):
        exp.Config(variants=("base", "no_x")).check()
    with pytest.raises(ConfigError, match="must include base"):
        exp.Config(variants=("no_te",)).check()


class _Fixed(torch.nn.Module):
    """A stand-in model whose attention is given: (scores, attention) from attend()."""

    def __init__(self, attention, answers, vocab):
        super().__init__()
        self.attention, self.answers, self.vocab = attention, answers, vocab

    def attend(self, x):
        return torch.nn.functional.one_hot(self.answers, self.vocab).float(), self.attention


class _Data:
    def __init__(self, x, y, support):
        self.val = type("Part", (), {"x": x, "y": y})
        self.supporting = {"val": support}


def test_attention_on_support_counts_hops_that_find_the_supporting_sentences():
    # 2 questions, 4 slots, 2 hops; question 0: 3 sentences, supports slots 0 and 2; question 1: 4 sentences, slot 3
    x = torch.zeros(2, 5, 3, dtype=torch.long)
    x[0, 1:4, 0] = 1
    x[1, 1:5, 0] = 1
    support = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)
    p = torch.zeros(2, 2, 4)
    p[0, 0, 2], p[0, 1, 0] = 0.9, 0.8  # question 0: hop 1 finds one fact, hop 2 the other
    p[1, 0, 1], p[1, 1, 3] = 0.7, 0.6  # question 1: hop 1 misses, hop 2 finds it
    model = _Fixed(p, torch.tensor([4, 5]), 6)
    out = exp.attention_on_support(model, _Data(x, torch.tensor([4, 0]), support))  # question 1 answered wrong
    assert out["support_top1_hop1"] == pytest.approx(0.5) and out["support_top1_hop2"] == pytest.approx(1.0)
    assert out["support_top1"] == pytest.approx(1.0)
    assert out["support_mass_hop1"] == pytest.approx((0.9 + 0.0) / 2)
    assert out["support_top1_chance"] == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert out["support_found"] == 1.0 and out["support_found_right"] == 1.0 and out["support_found_wrong"] == 1.0
    assert out["error_by_length"] == {3: (0, 1), 4: (1, 1)}
    # question 0's supports: slot 0 is the latest (rank 0), slot 2 the older (rank 1); hop 1 read rank 1, hop 2 rank 0
    assert out["by_rank"] == {(1, 0): 0.0, (1, 1): 1.0, (2, 0): 1.0, (2, 1): 0.0}
    p[0, 1, 0], p[0, 1, 1] = 0.0, 0.8  # hop 2 now looks elsewhere: question 0's second fact is never found
    out = exp.attention_on_support(model, _Data(x, torch.tensor([4, 0]), support))
    assert out["support_found"] == 0.5 and out["support_found_right"] == 0.0
    assert exp._merge_by_length([{3: (0, 1), 12: (1, 1)}, {4: (1, 2)}]) == [[1, 1 / 3, 3], [11, 1.0, 1]]


def test_full_targets_ask_every_removed_part_to_cost_error():
    cfg = exp.PROFILES["full"]
    t = exp.targets("full", cfg)
    assert {k for k in t if k.startswith("error_added_")} == {f"error_added_{v}" for v in exp.VARIANTS if v != "base"}
    assert t["support_top1"] == {"op": ">", "metric": "support_top1_chance"}
