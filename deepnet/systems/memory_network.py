"""End-to-end memory network (Sukhbaatar, Szlam, Weston & Fergus 2015, "End-To-End Memory Networks").

The review ("Recurrent neural networks"): RNNs augmented with an explicit memory; a memory
network is shown a story and later answers questions about it, including questions whose
answer needs several facts chained together. MemN2N reads its memory with soft attention, so
the whole system trains end to end by backpropagation from the answer alone (no supervision of
which sentences matter).

One hop, for a story of sentences x_1..x_n (most recent first) and a question q:

    m_i = Σ_j l_j ⊙ A x_ij + T_A(i)          memory vectors (input embedding A)
    c_i = Σ_j l_j ⊙ C x_ij + T_C(i)          output vectors (output embedding C)
    u   = Σ_j l_j ⊙ B q_j                    the question's internal state
    p_i = softmax(u^T m_i)                   attention over the memories
    o   = Σ_i p_i c_i                        what is read
    u^{k+1} = u^k + o^k                      the next hop's state
    â   = softmax(W(o^K + u^K)) = softmax(W u^{K+1})

with position encoding l_kj (j: word position 1..J, k: embedding dimension 1..d): the paper prints
l_kj = (1 − j/J) − (k/d)(1 − 2j/J); the authors' released code (which produced the paper's tables)
computes l_kj = 1 + 4(k − (d+1)/2)(j − (J+1)/2)/(dJ) with J the padded sentence length, and that
is the default here (1k task 4, validation error of seeds 0 and 2: 0.08 and 0.02 against 0.17 and
0.15 with the printed formula, all else equal; task 6 alike with either), temporal encoding T (a learned vector per memory slot,
slot i meaning "i sentences before the question"), and adjacent weight tying: A^{k+1} = C^k,
B = A^1, W^T = C^K (K+1 embedding matrices E_0..E_K, A^k = E_{k-1}, C^k = E_k; the temporal
tables tie the same way).

Training tricks of the paper, all here: linear start (LS: the attention softmaxes removed at first,
then put back; the paper says "until the validation loss stops decreasing", the released code runs
a fixed 20 epochs at η/2 and carries the last weights on: the default here, since bAbI's 100-question
validation loss jumps from epoch to epoch and a patience rule ended LS after a few epochs near chance),
random noise (RN: "10% empty memories" in training stories, so temporal encoding cannot lean on
exact positions; the released code makes them gaps in the time index), gradient clipping
(norm 40 on the batch-summed cost) and the learning rate halved every 25 epochs. The attention of
every hop is returned by `attend`, not thrown away, and `answer` turns text into ids and back.
"""

import dataclasses
import shutil
from dataclasses import dataclass
from typing import Literal
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.checkpoint import load_checkpoint, load_model_state
from deepnet.core.config import config_from_dict
from deepnet.core.run import continues, write_config
from deepnet.errors import CheckpointError
from deepnet.core.train import fit as engine_fit
from deepnet.data import babi


# `deepnet train memory_network --data babi` trains on task 1 of the 1k set (experiments choose tasks).
TRAINS_ON = ("babi",)
# its own `fit` below (linear start, then the engine) on the data as loaded (interface: systems/__init__.py)
load_data = prepare_data = None

@dataclass
class Config:
    """An end-to-end memory network (Sukhbaatar et al. 2015) with K hops over a story."""

    d: int = 20  # embedding dimension (the paper: 20 for single tasks, 50 for joint training); range [1, 4096]
    hops: int = 3  # K, the number of memory hops; range [1, 32]
    position_encoding: bool = True  # PE: weight word j of a sentence by l_j (else bag of words)
    # PE's formula: "code" l_kj = 1 + 4(k − (d+1)/2)(j − (J+1)/2)/(dJ), J the padded length (Sukhbaatar et al.'s
    # released MemN2N code, build_model.m), or "paper" l_kj = (1 − j/J) − (k/d)(1 − 2j/J) as printed in section 4.1
    pe_formula: Literal["code", "paper"] = "code"
    pe_length: Literal["sentence", "padded"] = "sentence"  # "paper" formula's J: each sentence's own length, or padded
    temporal_encoding: bool = True  # add a learned vector per memory slot (how long ago the sentence was)
    noise: float = 0.1  # RN: fraction of empty memories inserted into training stories (0: off); range [0, 1]
    # RN as "time": the n sentences take n random times among 1..n+b, b ~ U{0..⌈noise·n⌉}, in order (the released
    # code: gaps in the time index, no extra slots); "slots": each sentence gets an empty memory (only its
    # temporal vector) before it with probability `noise`, read by the attention like a sentence
    noise_mode: Literal["time", "slots"] = "time"
    # the memory slots a story leaves empty (the memory holds M slots, a story n <= M sentences): "masked", left
    # out of the attention softmax; or "sink", as the released code has them: rows of nil words with no time word,
    # so m_i = c_i = 0, each taking exp(0) in the softmax's sum and reading nothing. The sinks let the attention
    # say how well the question matches any sentence at all (1k task 10, seed 0, validation error 0.38 masked,
    # 0.12 sink)
    empty_slots: Literal["masked", "sink"] = "masked"
    # with sinks: the slots a story's sentences and the sinks fill together (0: the data's memory size, which is the
    # longest story when that is under memory_size; the released code: its 50 slots, however short the stories,
    # so a task of two-sentence stories has 48 sinks there); range [0, 100000]
    sink_slots: int = 0
    init_std: float = 0.1  # weights start from N(0, init_std^2), as in the paper; range (0, 10]
    # LS: epochs without the attention softmax first (0: off); the released code: 20; range [0, 100000]
    linear_start: int = 20
    # LS ends early after this many epochs without a lower validation loss (0: never); range [0, 100000]
    linear_start_patience: int = 0
    linear_start_keep: Literal["last", "best"] = "last"  # LS weights carried on: the last, or the lowest validation loss
    linear_start_lr: float = 0.5  # LS learning rate as a fraction of --lr (the paper: 0.005 vs 0.01); range (0, 1]

def position_encoding(lengths, J, d, formula="paper"):
    """l (..., J, d), the weight of dimension k of word j, for sentences of `lengths` words padded to J.

    formula "paper" (section 4.1): l_kj = (1 − j/J_s) − (k/d)(1 − 2j/J_s), J_s each sentence's own
    length, 0 past it. formula "code" (the released MemN2N code): l_kj = 1 + 4(k − (d+1)/2)(j − (J+1)/2)/(dJ)
    with J the padded length for every sentence (padding words embed to 0, so they add nothing).
    """
    j = torch.arange(1, J + 1, device=lengths.device, dtype=torch.float32)  # (J,)
    k = torch.arange(1, d + 1, device=lengths.device, dtype=torch.float32)  # (d,)
    if formula == "code":
        l = 1 + 4 * (k - (d + 1) / 2) * (j[:, None] - (J + 1) / 2) / (d * J)  # (J, d)
        return l.expand(lengths.shape + (J, d))
    Js = lengths.clamp(min=1).float()[..., None, None]  # (..., 1, 1)
    jJ = j[:, None] / Js  # (..., J, 1): j / J
    l = (1 - jJ) - (k / d) * (1 - 2 * jJ)  # (..., J, d)
    return l * (j[:, None] <= Js)  # padding words weigh nothing


class MemN2N(nn.Module):
    """x (B, 1 + M, J) word ids (row 0 the question, rows 1..M the story, most recent first) -> (B, V) scores."""

    def __init__(self, cfg, vocab_size, memory_size, sentence_size):
        super().__init__()
        d, hops = cfg.d, cfg.hops
        self.pe_formula, self.pe_length, self.noise_mode = cfg.pe_formula, cfg.pe_length, cfg.noise_mode
        self.empty_slots = cfg.empty_slots
        self.sink_slots = cfg.sink_slots or memory_size  # sentences + sinks
        self.V, self.M, self.J, self.d, self.K = vocab_size, memory_size, sentence_size, d, hops
        self.pe, self.te, self.noise = cfg.position_encoding, cfg.temporal_encoding, cfg.noise
        self.linear_start = False  # LS: attention without softmax (set by `fit` during its first phase)
        # adjacent tying: E_0 = B = A^1, E_k = C^k = A^{k+1}, E_K = C^K = W^T
        self.E = nn.ModuleList(nn.Embedding(vocab_size, d, padding_idx=0) for _ in range(hops + 1))
        self.T = nn.Parameter(torch.empty(hops + 1, memory_size, d))  # T_k: temporal vectors of E_k
        for emb in self.E:
            nn.init.normal_(emb.weight, 0.0, cfg.init_std)
            with torch.no_grad():
                emb.weight[0].zero_()  # <pad> embeds to 0 (and padding_idx keeps its gradient 0)
        nn.init.normal_(self.T, 0.0, cfg.init_std)
        if not cfg.temporal_encoding:
            self.T.requires_grad_(False)
            with torch.no_grad():
                self.T.zero_()

    def _bags(self, words, upto=None):
        """Σ_j l_j ⊙ E_k x_j for k = 0..upto (default K): sentences (..., J) -> (..., upto + 1, d).

        One lookup in the K+1 tables side by side, (V, (K+1)d), instead of K+1 lookups.
        """
        n = (self.K if upto is None else upto) + 1
        table = torch.cat([e.weight for e in self.E[:n]], 1)  # (V, n*d)
        e = F.embedding(words, table, padding_idx=0)  # (..., J, n*d); <pad> embeds to 0 and learns nothing
        if not self.pe:
            return e.sum(-2).unflatten(-1, (n, self.d))  # bag of words, (..., n, d)
        # both formulas are l_kj = a_j + g_k b_j: two weighted sums over the words (a batched matmul)
        # instead of multiplying every word vector by l (same numbers, faster)
        J = words.shape[-1]
        j = torch.arange(1, J + 1, device=words.device, dtype=torch.float32)  # (J,)
        k = torch.arange(1, self.d + 1, device=words.device, dtype=torch.float32)  # (d,)
        if self.pe_formula == "code":  # a_j = 1, b_j = 4(j − (J+1)/2)/J, g_k = (k − (d+1)/2)/d
            a = torch.ones_like(j).expand(words.shape[:-1] + (J,))  # (..., J)
            b = (4 * (j - (J + 1) / 2) / J).expand(words.shape[:-1] + (J,))  # (..., J)
            g = (k - (self.d + 1) / 2) / self.d  # (d,)
        else:  # a_j = 1 − j/J, b_j = −(1 − 2j/J), g_k = k/d
            if self.pe_length == "padded":
                lengths = words.new_full(words.shape[:-1] + (1,), J).float()  # (..., 1): J = the padded length
            else:
                lengths = words.ne(0).sum(-1).clamp(min=1).float()[..., None]  # (..., 1): each sentence's J
            inside = (j <= lengths).float()  # (..., J): padding words weigh nothing
            a = (1 - j / lengths) * inside  # (..., J)
            b = -(1 - 2 * j / lengths) * inside  # (..., J)
            g = k / self.d  # (d,)
        sums = (torch.stack([a, b], -2) @ e).unflatten(-1, (n, self.d))  # (..., 2, n, d): Σ_j a_j e_j, Σ_j b_j e_j
        return sums[..., 0, :, :] + g * sums[..., 1, :, :]  # (..., n, d)

    def _slots(self, valid):
        """Time index t (B, S) and mask (B, S) of every memory slot (training with RN: shifted times).

        Without noise (and always at evaluation) the slots are the story rows with t_i = i.
        noise_mode "time" (the released code): the n sentences of a story take n of the times
        0..n+b−1, b ~ U{0..⌈noise·n⌉}, drawn at random and kept in order, so that the gaps act as
        b empty memories that T_A cannot lean on; S = N. noise_mode "slots": an empty memory (its
        temporal vector only) is inserted just before sentence i with probability `noise`; sentence
        i moves to t_i = i + (empties before it), the empty one takes t_i − 1, and whatever is
        pushed past the memory size falls out; S = 2N. Times past the memory size read its last vector.
        """
        B, N = valid.shape  # N <= M: the slots this batch uses
        M = self.M
        i = torch.arange(N, device=valid.device).expand(B, N)  # (B, N)
        if not (self.training and self.noise > 0):
            return i, valid
        if self.noise_mode == "time":
            n = valid.sum(1)  # (B,) sentences of each story (a prefix of the slots)
            b = (torch.rand(B, device=valid.device) * (torch.ceil(self.noise * n) + 1)).long()  # (B,) gaps
            L = N + int(torch.ceil(self.noise * n.max().float()))  # candidate times 0..L-1
            pos = torch.arange(L, device=valid.device).expand(B, L)  # (B, L)
            r = torch.rand(B, L, device=valid.device).masked_fill(pos >= (n + b)[:, None], 2.0)
            chosen = r.argsort(1).argsort(1) < n[:, None]  # (B, L): n random times among 0..n+b−1
            order = chosen.long().cumsum(1) - 1  # (B, L): slot of each chosen time (in increasing order)
            t = torch.zeros(B, N + 1, dtype=torch.long, device=valid.device)  # column N takes the unchosen
            t.scatter_(1, torch.where(chosen, order, N), pos)
            return torch.where(valid, t[:, :N], i).clamp(max=M - 1), valid
        z = torch.rand(B, N, device=valid.device) < self.noise  # an empty memory before sentence i
        t = i + z.long().cumsum(1)  # (B, N) shifted time of each sentence
        t_empty = t - 1  # (B, N) time of the empty memory before it
        keep = valid & (t < M)
        keep_empty = z & valid & (t_empty < M)
        return torch.cat([t.clamp(max=M - 1), t_empty.clamp(max=M - 1)], 1), torch.cat([keep, keep_empty], 1)

    def attend(self, x):
        """(scores (B, V), attention (B, K, M)): the answer scores and, per hop k, p^k over the story slots."""
        x = x.long()
        q, story = x[:, 0], x[:, 1:]  # (B, J), (B, M, J)
        B, M, _ = story.shape
        if M > self.M:
            raise ValueError(f"story has {M} memory slots, the model {self.M}")
        valid = story.ne(0).any(-1)  # (B, M): slots holding a sentence (a prefix: most recent first)
        N = max(1, int(valid.sum(1).max()))  # slots past every story of the batch are empty: skip them
        story, valid = story[:, :N], valid[:, :N]  # (B, N, J), (B, N)
        t, mask = self._slots(valid)  # (B, S), S = N, or 2N with RN as empty slots
        S = t.shape[1]
        bags = self._bags(story)  # (B, N, K+1, d)
        if S > N:  # RN: the empty memories have no words, only their temporal vector
            bags = torch.cat([bags, bags.new_zeros(B, S - N, self.K + 1, self.d)], 1)  # (B, S, K+1, d)
        u = self._bags(q, upto=0)[:, 0]  # u^1 = Σ_j l_j ⊙ B q_j, (B, d)
        attention = []
        for k in range(self.K):
            m = bags[:, :, k] + self.T[k][t]  # m_i = Σ_j l_j ⊙ A x_ij + T_A(i), (B, S, d)
            c = bags[:, :, k + 1] + self.T[k + 1][t]  # c_i = Σ_j l_j ⊙ C x_ij + T_C(i), (B, S, d)
            logits = torch.einsum("bsd,bd->bs", m, u)  # u^T m_i, (B, S)
            if self.linear_start:
                p = logits * mask  # LS: no softmax, empty slots still read nothing
            elif self.empty_slots == "sink":  # p_i = exp(u^T m_i) / (Σ_j exp(u^T m_j) + e), e empty slots
                empty = (self.sink_slots - mask.sum(1)).clamp(min=0).float()  # (B,) e: the slots no sentence took
                logits = logits.masked_fill(~mask, float("-inf"))
                log_z = torch.logaddexp(torch.logsumexp(logits, -1), empty.log())  # (B,); log 0 = -inf: no sink
                p = torch.nan_to_num((logits - log_z[:, None]).exp())  # (B, S): sums to 1 minus the sinks' share
            else:
                p = logits.masked_fill(~mask, float("-inf")).softmax(-1)  # p_i = softmax(u^T m_i)
                p = torch.nan_to_num(p)  # a story with no sentence reads nothing rather than NaN
            o = torch.einsum("bs,bsd->bd", p, c)  # o = Σ_i p_i c_i, (B, d)
            u = u + o  # u^{k+1} = u^k + o^k
            attention.append(F.pad(p[:, :N], (0, M - N)))  # (B, M): the skipped slots read 0
        scores = u @ self.E[self.K].weight.T  # W(o^K + u^K) with W^T = C^K, (B, V)
        return scores, torch.stack(attention, 1)  # (B, V), (B, K, M)

    def forward(self, x, y=None):
        scores, _ = self.attend(x)
        loss = F.cross_entropy(scores, y) if y is not None else None  # −log â[y], batch mean
        return scores, loss


def build(run_config):
    """The model a run folder describes (model section + data vocabulary and shapes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    return MemN2N(cfg, len(data["classes"]), data["memory_size"], data["sentence_size"])


def paper_train_config(**changes):
    """The paper's schedule for single tasks as a TrainConfig (Sukhbaatar et al. 2015, section 4.2).

    Paper: SGD, η = 0.01 halved every 25 epochs for 100 epochs, batch 32 with the cost summed
    (not averaged) over the batch, gradients of norm > 40 rescaled to 40, no momentum or decay.
    The engine averages the loss over the batch, so the same updates are lr = 0.01 × 32 and
    clip = 40 / 32 on the mean.
    """
    from deepnet.core.train import TrainConfig

    base = dict(epochs=100, batch_size=32, optimizer="sgd", lr=0.01 * 32, momentum=0.0, schedule="step",
                step_epochs=25, step_gamma=0.5, clip_grad=40 / 32, monitor="accuracy", device="cpu",
                progress=False, log_every=1000)
    return TrainConfig(**{**base, **changes})


# `deepnet train memory_network`'s recipe: the paper's above (it reaches 99.9% on task 1); the engine's
# generic rate 0.1 with momentum gives a NaN loss within 15 steps
TRAIN_CONFIG = paper_train_config(device="auto", progress=True, log_every=50)


def fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True):
    """Train with linear start, then with the softmaxes: two runs of the engine's `fit`.

    Phase 1 (LS, when model config linear_start > 0): attention without softmax, constant rate
    linear_start_lr × lr, for linear_start epochs (or until the validation loss has not fallen for
    linear_start_patience epochs, when that is > 0); folder run_dir/linear_start, whose "test" part
    is the validation part (the test set is not read for a model that is not final).
    Phase 2: softmaxes back, from phase 1's last weights (or its lowest validation loss's, with
    linear_start_keep "best"), cfg's full schedule; run_dir is then
    an ordinary run folder (config.json, best.pt, checkpoint.pt, metrics.jsonl).
    Both phases keep their folders through core/run.py, so a run killed in either phase resumes
    exactly: a finished phase 1 is not run again, its weights are read back.
    Returns phase 2's result, with "linear_start" holding phase 1's history.
    """
    mcfg = config_from_dict(Config, run_config["model"], "model config")
    run_dir = Path(run_dir)
    ls_dir = run_dir / "linear_start"
    ls_ckpt, main_ckpt = ls_dir / "checkpoint.pt", run_dir / "checkpoint.pt"
    resume = resume or continues(run_dir)  # an experiment taken up again (core/run.py's continue_runs)
    if not resume and ls_ckpt.exists():
        raise CheckpointError(f"{run_dir} already holds a run: resume it with --resume {run_dir} or choose another --out")
    if resume and not (ls_ckpt.exists() or main_ckpt.exists()):
        raise CheckpointError(f"{run_dir} holds no checkpoint: the run stopped before writing its first one, "
                              "so there is nothing to resume; start it again without --resume")
    phase1 = None
    if mcfg.linear_start > 0 and not main_ckpt.exists():
        made = not run_dir.exists()
        if not resume:  # config.json from the start, so that a run killed in phase 1 can be resumed by its folder
            write_config(run_dir, {**run_config, "train": dataclasses.asdict(cfg)})
        ls_state = load_checkpoint(ls_ckpt, system=run_config.get("system")) if ls_ckpt.exists() else None
        if ls_state is not None and ls_state.get("finished"):  # phase 1 is done: take its weights back
            load_model_state(model, ls_state["model"], str(ls_ckpt))
            phase1 = {"history": ls_state["metrics"]["history"], "best": ls_state["metrics"]["best"], "seconds": 0.0}
        else:
            ls_cfg = dataclasses.replace(cfg, epochs=mcfg.linear_start, lr=cfg.lr * mcfg.linear_start_lr,
                                         schedule="constant", warmup=0.0, monitor="loss",
                                         patience=mcfg.linear_start_patience)
            model.linear_start = True
            try:
                phase1 = engine_fit(model, dataclasses.replace(data, test=data.val), ls_cfg, ls_dir,
                                    {**run_config, "phase": "linear_start"}, resume=ls_state is not None,
                                    augment=augment)
            except BaseException:
                if made and not ls_ckpt.exists():  # stopped before any checkpoint: leave nothing behind
                    shutil.rmtree(run_dir, ignore_errors=True)
                raise
            finally:
                model.linear_start = False
        if mcfg.linear_start_keep == "best":
            best = load_checkpoint(ls_dir / "best.pt", system=run_config.get("system"))
            load_model_state(model, best["model"], str(ls_dir / "best.pt"))
    result = engine_fit(model, data, cfg, run_dir, run_config, resume=main_ckpt.exists(), augment=augment,
                        test=test)
    if phase1 is not None:
        result["linear_start"] = {"history": phase1["history"], "best": phase1["best"], "seconds": phase1["seconds"]}
        result["seconds"] += phase1["seconds"]
    return result


def evaluate_part(model, part, device):
    """`deepnet eval`: loss, accuracy and the error rate (the share of questions answered wrongly, as bAbI's
    results are reported) over a part."""
    from deepnet.core.train import evaluate

    out = evaluate(model, part, device)
    return {**out, "error_rate": 1.0 - out["accuracy"], "questions": len(part)}


# ---------------------------------------------------------------------------------------------
# Text in, answer and attention out


def encode(sentences, question, vocab, memory_size, sentence_size):
    """(x (1, 1 + M, J) ids, notes): a story (list of sentence strings, oldest first) and a question.

    notes: plain-language warnings: words outside the vocabulary (mapped to <unk>), a story
    longer than the memory (its most recent sentences kept), sentences cut to J words.
    """
    word_to_id = {w: i for i, w in enumerate(vocab)}
    story = [babi.tokenize(s) for s in sentences]
    story = [s for s in story if s]
    q = babi.tokenize(question)
    if not q:
        raise ValueError("the question has no words")
    notes = []
    unknown = sorted({w for s in story + [q] for w in s if w not in word_to_id})
    if unknown:
        notes.append(f"word(s) outside the trained vocabulary, read as {babi.UNK}: {', '.join(unknown)}")
    if len(story) > memory_size:
        notes.append(f"the story has {len(story)} sentences and the memory holds {memory_size}: "
                     f"the {memory_size} most recent are kept, the first {len(story) - memory_size} dropped")
    long = [i + 1 for i, s in enumerate(story + [q]) if len(s) > sentence_size]
    if long:
        notes.append(f"sentence(s) {long} have more than {sentence_size} words: the rest is not read")
    ex = babi.Example(story, q, babi.PAD, [])
    x, _, _ = babi.pack([ex], word_to_id, memory_size, sentence_size)
    return x, notes


@torch.no_grad()
def answer(model, sentences, question):
    """Answer a question about a story with a trained model.

    Returns {"answer", "probability", "hops": [[(sentence, weight), ...] per hop, heaviest first],
    "notes"}; sentences are those kept in memory, as given.
    """
    info = model.run_config["data"]
    vocab, M = info["classes"], info["memory_size"]
    x, notes = encode(sentences, question, vocab, M, info["sentence_size"])
    kept = [s for s in sentences if babi.tokenize(s)][-M:][::-1]  # slot order: most recent first
    model.eval()
    scores, attention = model.attend(x.to(next(model.parameters()).device))
    probs = scores[0].float().softmax(-1)
    probs[:2] = 0  # never answer <pad> or <unk>
    best = int(probs.argmax())
    hops = []
    for k in range(attention.shape[1]):
        w = attention[0, k, :len(kept)].tolist()
        hops.append(sorted(zip(kept, w), key=lambda p: -p[1]))
    return {"answer": vocab[best], "probability": float(probs[best]), "hops": hops, "notes": notes}


def read_story(path):
    """Sentences of a story file: one per line; bAbI line ids and question lines are skipped."""
    lines = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or "\t" in line or line.endswith("?"):
            continue
        head, _, rest = line.partition(" ")
        lines.append(rest if head.isdigit() and rest else line)
    if not lines:
        raise ValueError(f"{path}: no sentences")
    return lines
