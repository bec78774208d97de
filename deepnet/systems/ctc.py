"""Speech to characters with a deep bidirectional LSTM trained end to end by CTC.

The review ("Recurrent neural networks"; "The future of deep learning"): recurrent nets trained
end to end map sequences to sequences; deep bidirectional LSTMs read speech (Graves, Mohamed &
Hinton 2013). Connectionist temporal classification (Graves et al. 2006) lets such a net be
trained on transcripts alone, with no frame-level alignment:

    x_1..x_T           acoustic frames (13 MFCCs + deltas + delta-deltas, CMVN), `stack` frames
                       concatenated and strided, so T' = ceil(T / stack) steps
    h_t = BLSTM^L(x)   L fused bidirectional LSTM layers (both directions concatenated)
    y_t = softmax(W h_t + b)     a distribution over the K characters and the blank (index 0)
    p(z | x) = Σ_{π ∈ B^-1(z)} Π_t y_t(π_t)   B removes repeats, then blanks (a path π is one
                       label per step); summed over all paths by the forward-backward recursion
    loss = -ln p(z | x), averaged over the utterances of a batch  (torch's nn.CTCLoss)

Decoding (best path and prefix beam search, with a word language model) and the error rates are
written here, below the model. Padding: channel 0 of x is the valid-frame mask (data/audio.py's
pad_utterances), the LSTMs run on packed sequences, so padding never changes an utterance's
output; targets are padded with -1.
"""

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepnet.core.config import check_fields, config_from_dict
from deepnet.core.train import TrainConfig
from deepnet.errors import ConfigError, DataError

BLANK = 0

# `deepnet train ctc --data an4`: Sphinx MFCCs of CMU's AN4, characters; trained by the engine
TRAINS_ON = ("an4",)
# Chosen in development runs on AN4 (validation: held-out training speakers): 3 layers of 160 over 3 stacked
# frames, batches of 16 at rate 2e-3, still emitted only blanks after 2 epochs (validation CER 1.0); 2 layers of
# 128 over 4 stacked frames, batches of 8 (twice the updates) at 3e-3, reached validation CER 0.31 after 4 epochs.
# AdamW, one-cycle rate with 5% warm-up, clipping at 5; 20 epochs for `deepnet train` (an4_ctc's quick run: 8).
TRAIN_CONFIG = TrainConfig(epochs=20, batch_size=8, optimizer="adamw", lr=3e-3, weight_decay=0.0,
                           schedule="onecycle", warmup=0.05, clip_grad=5.0, eval_batch_size=64, log_every=20)
fit = load_data = prepare_data = None


@dataclass
class Config:
    """ctc: deep bidirectional LSTM over acoustic frames, a linear CTC output over blank + characters.

    Defaults: an4_ctc's quick model (see TRAIN_CONFIG for how it was chosen within a CPU budget).
    """

    layers: int = 2  # stacked bidirectional LSTM layers; range [1, 16]
    hidden: int = 128  # LSTM units per direction; range [1, 4096]
    dropout: float = 0.2  # dropout between LSTM layers and before the output layer; range [0, 1)
    # consecutive frames concatenated into one step, the sequence strided by as many (AN4 has at least
    # 5.3 frames per character: with 4, CTC still has a step for nearly every character and blank it needs;
    # zero_infinity drops an utterance it cannot align); range [1, 8]
    stack: int = 4

    def check(self):
        check_fields(self)


class CTCModel(nn.Module):
    """x (B, T, 1 + F) (channel 0: frame mask) and y (B, L) (ids 1..K, -1 padding) -> (log-probs (B, T', K+1), loss)."""

    def __init__(self, cfg, n_features, n_classes):
        super().__init__()
        cfg.check()
        self.cfg, self.n_features, self.n_classes = cfg, n_features, n_classes
        self.lstm = nn.LSTM(n_features * cfg.stack, cfg.hidden, cfg.layers, batch_first=True, bidirectional=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, n_classes)  # W, b over blank (0) + K characters
        self.ctc = nn.CTCLoss(blank=BLANK, reduction="sum", zero_infinity=True)

    def output_lengths(self, x):
        """Steps T' of each utterance's output: ceil(frames / stack)."""
        frames = x[..., 0].sum(1).round().long()  # (B,)
        return (frames + self.cfg.stack - 1) // self.cfg.stack

    def forward(self, x, y=None):
        s = self.cfg.stack
        frames = x[..., 0].sum(1).round().long()  # (B,) valid frames
        if bool((frames == 0).any()):
            raise ValueError("an utterance with no frames")
        T = int(frames.max())
        T = -(-T // s) * s  # a whole number of stacked steps
        feats = x[:, :, 1:]
        if feats.shape[1] < T:  # pad at the end to the multiple of `stack`
            feats = torch.cat([feats, feats.new_zeros(feats.shape[0], T - feats.shape[1], feats.shape[2])], 1)
        feats = feats[:, :T] * (torch.arange(T, device=x.device)[None] < frames[:, None])[..., None]  # padding zeroed
        B, F = feats.shape[0], feats.shape[2]
        feats = feats.reshape(B, T // s, s * F)  # (B, T', stack*F): frames stacked
        lengths = (frames + s - 1) // s  # (B,)
        packed = pack_padded_sequence(feats, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=T // s)  # (B, T', 2H)
        logp = torch.log_softmax(self.out(self.drop(h)).float(), dim=-1)  # (B, T', K+1) ln y_t(k)
        if y is None:
            return logp, None
        keep = y >= 0
        target_lengths = keep.sum(1)  # (B,)
        targets = y[keep]  # (ΣL,) concatenated, in row order
        loss = self.ctc(logp.transpose(0, 1), targets, lengths, target_lengths) / B  # -ln p(z|x), batch mean
        return logp, loss


def build(run_config):
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    model = CTCModel(cfg, int(data["input_shape"][0]) - 1, int(data["num_classes"]))
    model.alphabet = data.get("alphabet") or "".join(data["classes"][1:])
    return model


# ---------------------------------------------------------------------------------------------
# Decoding


def greedy_decode(logp, length=None):
    """Best path: the most likely label at each step, repeats collapsed, blanks dropped -> list of ids.

    logp: (T, K+1) log-probabilities (or probabilities) of one utterance; length: its valid steps.
    """
    best = torch.as_tensor(logp)[:length].argmax(-1).tolist()
    out, prev = [], BLANK
    for k in best:
        if k != prev and k != BLANK:
            out.append(k)
        prev = k
    return out


def _lae(a, b):
    """ln(e^a + e^b) of two floats, -inf-safe."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


class WordScorer:
    """Adds alpha * ln P(word | previous words) + bonus for every word a prefix completes.

    lm: an object with logprob(history tuple, word) -> ln P (ArpaLM, KneserNeyWordLM) or None;
    alphabet: the characters of ids 1..K (a space ends a word).
    """

    def __init__(self, lm, alphabet, alpha=1.0, bonus=0.0):
        self.lm, self.alphabet, self.alpha, self.bonus = lm, alphabet, alpha, bonus
        self.cache = {}

    def words(self, prefix):
        return "".join(self.alphabet[i - 1] for i in prefix).split()

    def complete(self, prefix, final=False):
        """Score of the words of `prefix` finished so far (all of them when final, with the end of sentence)."""
        key = (prefix, final)
        if key not in self.cache:
            words = self.words(prefix)
            text = "".join(self.alphabet[i - 1] for i in prefix)
            done = words if final or text.endswith(" ") else words[:-1]
            s = 0.0
            for i, w in enumerate(done):
                s += self.alpha * (self.lm.logprob(tuple(done[:i]), w) if self.lm is not None else 0.0) + self.bonus
            if final and self.lm is not None:
                s += self.alpha * self.lm.logprob(tuple(done), "</s>")
            self.cache[key] = s
        return self.cache[key]


def prefix_beam_search(logp, length=None, beam=16, scorer=None, space=None, prune=-12.0):
    """CTC prefix beam search (Graves & Jaitly 2014; Hannun et al. 2014) -> [(ids, ln p_ctc, score)], best first.

    Every prefix keeps two probabilities, of the paths that reach it ending in a blank (p_b) and in
    its last character (p_nb); at each step:
        blank:                     p_b(z)  += (p_b(z) + p_nb(z)) y_t(blank)
        the last character again:  p_nb(z) += p_nb(z) y_t(c)           (a repeat collapses)
                                   p_nb(z+c) += p_b(z) y_t(c)          (blank between: a new character)
        another character c:       p_nb(z+c) += (p_b(z) + p_nb(z)) y_t(c)
    and the `beam` prefixes of highest ln(p_b + p_nb) + word score survive. With a WordScorer the word
    score adds alpha ln P_LM(w | history) + bonus for each word a prefix completes (once its space is
    written; at the end, for the last word and the end of sentence). `space` is the id of the word
    separator: a space is not written first or twice in a row. Characters with ln y_t(c) < prune are
    not tried at step t (CTC outputs are peaky: a handful are).
    """
    lp = torch.as_tensor(logp, dtype=torch.float64)[:length].tolist()
    score = scorer.complete if scorer is not None else (lambda prefix, final=False: 0.0)
    beams = {(): (0.0, -math.inf)}  # prefix -> (ln p_b, ln p_nb)
    for row in lp:
        nxt = defaultdict(lambda: [-math.inf, -math.inf])
        chars = [c for c in range(1, len(row)) if row[c] >= prune]
        for prefix, (pb, pnb) in beams.items():
            total = _lae(pb, pnb)
            n = nxt[prefix]
            n[0] = _lae(n[0], total + row[BLANK])
            for c in chars:
                p = row[c]
                if prefix and c == prefix[-1]:
                    nxt[prefix][1] = _lae(nxt[prefix][1], pnb + p)
                    if c == space:  # a second space, after a blank: not written
                        continue
                    new = nxt[prefix + (c,)]
                    new[1] = _lae(new[1], pb + p)
                elif c == space and not prefix:
                    continue
                else:
                    new = nxt[prefix + (c,)]
                    new[1] = _lae(new[1], total + p)
        live = [(k, v) for k, v in nxt.items() if _lae(*v) > -math.inf]  # no path reaches a prefix: dropped
        ranked = sorted(live, key=lambda kv: _lae(*kv[1]) + score(kv[0]), reverse=True)
        beams = dict((k, tuple(v)) for k, v in ranked[:beam])
    final = []
    for prefix, (pb, pnb) in beams.items():
        trimmed = prefix[:-1] if space is not None and prefix and prefix[-1] == space else prefix
        p = _lae(pb, pnb)
        final.append((list(trimmed), p, p + score(trimmed, final=True)))
    return sorted(final, key=lambda f: f[2], reverse=True)


# ---------------------------------------------------------------------------------------------
# Word language models for the beam search


class ArpaLM:
    """A back-off n-gram model read from an ARPA file (log10 probabilities and back-off weights).

    logprob(history, w) = ln P(w | history):  P(w | h) if the n-gram hw is listed, else
    bow(h) P(w | h') with h' = h without its first word. Words are lowercased; a word not in
    the vocabulary is read as <unk> when the model lists it, else gets `oov_log10`.
    """

    def __init__(self, path, oov_log10=-10.0):
        self.path = Path(path)
        self.p, self.bow, self.order, self.oov = {}, {}, 0, oov_log10 * math.log(10)
        try:
            lines = self.path.read_text(encoding="utf-8", errors="strict").splitlines()
        except FileNotFoundError:
            raise DataError(f"{path}: ARPA language model not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: cannot read an ARPA language model ({e})") from None
        section, counts = None, {}
        for no, line in enumerate(lines, 1):
            s = line.strip()
            if not s:
                continue
            if s == "\\data\\":
                section = "data"
                continue
            if section is None:  # free text before the data header (AN4's file explains the format there)
                continue
            if s == "\\end\\":
                break
            m = re.fullmatch(r"\\(\d+)-grams:", s)
            if m:
                section = int(m.group(1))
                self.order = max(self.order, section)
                continue
            if section == "data":
                m = re.fullmatch(r"ngram\s+(\d+)\s*=\s*(\d+)", s)
                if m:
                    counts[int(m.group(1))] = int(m.group(2))
                continue
            if isinstance(section, int):
                f = s.split()
                try:
                    if len(f) < section + 1:
                        raise ValueError
                    logp = float(f[0])
                    words = tuple(w.lower() for w in f[1:1 + section])
                    bow = float(f[1 + section]) if len(f) > 1 + section else 0.0
                except ValueError:
                    raise DataError(f"{path}:{no}: not an ARPA {section}-gram line: {s[:60]!r}") from None
                self.p[words] = logp * math.log(10)
                self.bow[words] = bow * math.log(10)
        if not self.p:
            raise DataError(f"{path}: no n-grams found (not an ARPA file?)")
        for n, c in counts.items():
            have = sum(len(k) == n for k in self.p)
            if have != c:
                raise DataError(f"{path}: header says {c} {n}-grams, the file lists {have} (truncated?)")
        self.unk = "<unk>" if ("<unk>",) in self.p else None

    @property
    def vocab(self):
        return {k[0] for k in self.p if len(k) == 1}

    def logprob(self, history, w):
        w = w.lower()
        if (w,) not in self.p:
            if self.unk is None:
                return self.oov
            w = self.unk
        h = tuple(x.lower() if (x.lower(),) in self.p else (self.unk or x.lower()) for x in history)
        h = (("<s>",) + h)[-(self.order - 1):] if self.order > 1 else ()
        back = 0.0
        while True:
            if h + (w,) in self.p:
                return back + self.p[h + (w,)]
            if not h:
                return back + self.oov
            back += self.bow.get(h, 0.0)
            h = h[1:]


class KneserNeyWordLM:
    """A word n-gram model estimated on training transcripts with interpolated modified Kneser-Ney
    (core/kneser_ney.py). Sentences are joined by </s>, which is also the context of a first word;
    words never seen in training are <unk> (count 0: only the uniform floor's share)."""

    def __init__(self, sentences, order=3):
        from deepnet.core.kneser_ney import KneserNey

        words = sorted({w for s in sentences for w in s.split()})
        self.vocab = ["</s>", "<unk>"] + words
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        stream = [0]
        for s in sentences:
            stream += [self.ids[w] for w in s.split()] + [0]
        self.order = order
        self.kn = KneserNey(len(self.vocab), order).fit_counts(np.array(stream))
        self.cache = {}

    def logprob(self, history, w):
        key = (tuple(history[-(self.order - 1):]) if self.order > 1 else (), w)
        if key not in self.cache:
            h = [self.ids.get(x, 1) for x in key[0]]
            h = [0] * (self.order - 1 - len(h)) + h  # </s> before the first word
            p = self.kn.probs(np.array([h], dtype=np.int64).reshape(1, self.order - 1),
                              np.array([self.ids.get(w, 1)]))[0]
            self.cache[key] = math.log(p)
        return self.cache[key]


# ---------------------------------------------------------------------------------------------
# Error rates


def edit_distance(ref, hyp):
    """Levenshtein distance between two sequences (substitutions, insertions, deletions all cost 1)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def cer(refs, hyps):
    """Character error rate: Σ edit distance of characters / Σ reference characters (corpus level)."""
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps)) / max(1, sum(len(r) for r in refs))


def wer(refs, hyps):
    """Word error rate: Σ edit distance of words / Σ reference words (corpus level)."""
    return (sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps))
            / max(1, sum(len(r.split()) for r in refs)))


# ---------------------------------------------------------------------------------------------
# Whole parts, and audio in


def ids_to_text(ids, alphabet):
    """Character ids -> text, with single spaces between words (best path may write a space twice)."""
    return " ".join("".join(alphabet[i - 1] for i in ids if 1 <= i <= len(alphabet)).split())


@torch.no_grad()
def posteriors(model, part, device="cpu", batch_size=32):
    """[(log-probs (T'_i, K+1) on the CPU)] of every utterance of a part, and the reference texts."""
    model.eval()
    out, refs = [], []
    for i in range(0, len(part), batch_size):
        x, y = part.x[i:i + batch_size].to(device), part.y[i:i + batch_size]
        logp, _ = model(x)
        lengths = model.output_lengths(x).tolist()
        out += [logp[b, :lengths[b]].cpu() for b in range(len(x))]
        refs += [ids_to_text([int(k) for k in row if k >= 0], model.alphabet) for row in y]
    return out, refs


def decode(model, logps, beam=1, scorer=None, prune=-12.0):
    """Texts of a list of log-prob matrices: greedy (beam 1, no scorer) or prefix beam search."""
    space = model.alphabet.index(" ") + 1 if " " in model.alphabet else None
    if beam == 1 and scorer is None:
        return [ids_to_text(greedy_decode(lp), model.alphabet) for lp in logps]
    return [ids_to_text(prefix_beam_search(lp, beam=beam, scorer=scorer, space=space, prune=prune)[0][0],
                        model.alphabet) for lp in logps]


def evaluate_part(model, part, device):
    """`deepnet eval`: CTC loss per utterance and greedy (best-path) character and word error rates."""
    model.eval()
    with torch.no_grad():
        loss, n = 0.0, 0
        for i in range(0, len(part), 32):
            x, y = part.x[i:i + 32].to(device), part.y[i:i + 32].to(device)
            loss += float(model(x, y)[1]) * len(x)
            n += len(x)
    logps, refs = posteriors(model, part, device)
    hyps = decode(model, logps)
    return {"loss": loss / max(n, 1), "cer_greedy": cer(refs, hyps), "wer_greedy": wer(refs, hyps)}


def features_from_audio(samples, rate):
    """Mono samples at any rate -> (T, 1 + 39) frames: resampled to 16 kHz, Sphinx MFCCs, deltas, CMVN."""
    from deepnet.data import an4, audio

    samples = np.asarray(samples, dtype=np.float32)
    if rate != 16000:
        samples = audio.resample(samples, rate, 16000)
    cep = audio.sphinx_mfcc(samples, 16000)
    if len(cep) < 3:
        raise ValueError("too short to transcribe (under 30 ms of audio)")
    return torch.from_numpy(an4.features(np.asarray(cep, dtype=np.float32)))


@torch.no_grad()
def transcribe_features(model, feats, beam=1, scorer=None):
    """(T, 39) normalised features of one utterance -> its text."""
    from deepnet.data import audio

    model.eval()
    x = audio.pad_utterances([torch.as_tensor(feats, dtype=torch.float32)]).float()  # (1, T, 40)
    x = x.to(next(model.parameters()).device)
    logp, _ = model(x)
    return decode(model, [logp[0, :int(model.output_lengths(x)[0])].cpu()], beam=beam, scorer=scorer)[0]


def transcribe(model, samples, rate, beam=1, scorer=None):
    """Mono samples at any rate -> text."""
    return transcribe_features(model, features_from_audio(samples, rate), beam=beam, scorer=scorer)


def check_alphabet(model):
    if not getattr(model, "alphabet", None):
        raise ConfigError("the run's data section holds no alphabet: not a ctc run folder")
