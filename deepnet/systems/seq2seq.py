"""Encoder-decoder translation with deep LSTMs, with or without attention.

The review ("Recurrent neural networks"): an English "encoder" network reads a sentence one
word at a time into a "thought vector", the final state of its hidden units, which then
initialises a French "decoder" network that outputs a probability distribution for the first
word of the translation; the chosen word is fed back in as the next input, and so on until a
full stop (Sutskever et al. 2014, Cho et al. 2014). Such networks do better when they learn to
focus on one part of the source at a time (attention, Bahdanau et al. 2015).

    source x_1..x_S (subword ids, then <eos>)      target y_1..y_T (then <eos>)
    s_j = BiLSTM(E_src x_j)                        encoder states (B, S, H): forward and backward
                                                   halves of H/2 each (or one direction of H)
    (h_0, c_0) = final encoder states              the thought vector starts the decoder
    h_t = LSTM(E_tgt y_{t-1}, h_{t-1})             decoder (teacher forcing: y_{t-1} is the true
                                                   previous word in training, y_0 = <bos>)
    no attention:   o_t = h_t
    attention:      a_tj = softmax_j(v^T tanh(W h_t + U s_j)),  c_t = Σ_j a_tj s_j
                    o_t = tanh(W_c [h_t; c_t])
    P(y_t | y_<t, x) = softmax(W_o o_t + b_o)

The attention score is Bahdanau et al.'s additive one (core/attention.py), applied to the
decoder's current state h_t rather than the previous one, and without feeding o_t back into the
next step (the placement of Luong et al. 2015): then the decoder LSTM runs over the whole target
sentence as one fused kernel in training. The plain model differs only in having no attention:
the same encoder, decoder and sizes. `reverse_source` reads the source backwards (Sutskever et
al. 2014's trick for a one-direction encoder).

Words become subword units (SentencePiece unigram model, Kudo 2018) learned on the training
part, one model per language; the units' text round-trips exactly (up to repeated spaces, which
13a tokenisation ignores anyway), so translations are scored
with BLEU on detokenised text against raw references. The tokenizer models travel inside the
run's config.json (base64), so a run folder is self-contained.

Padding: the encoder runs on packed sequences (each sentence's states end at its own length),
attention gives padded positions weight 0, and the loss ignores padded targets, so padding never
changes a sentence's result (tests/test_seq2seq.py).
"""

import base64
import dataclasses
import io
from dataclasses import asdict, dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepnet.core.attention import AdditiveAttention, DotAttention
from deepnet.core.beam import beam_search, pad_ids
from deepnet.core.config import check_fields, config_from_dict
from deepnet.core.train import TrainConfig
from deepnet.errors import ConfigError

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # ids reserved in every tokenizer

# `deepnet train seq2seq --data multi30k`: English -> French (task 1), subword units learned on its training part
# (load_data, prepare_data below), trained by the engine (the interface: systems/__init__.py)
TRAINS_ON = ("multi30k",)
# `deepnet train seq2seq`'s recipe: translation_multi30k's (AdamW, one-cycle rate with 5% warm-up, clipping
# at 1), whose rate 3e-3 was chosen on Multi30k validation loss
TRAIN_CONFIG = TrainConfig(epochs=2, batch_size=64, optimizer="adamw", lr=3e-3, weight_decay=0.01,
                           schedule="onecycle", warmup=0.05, clip_grad=1.0, eval_batch_size=128)
fit = None


@dataclass
class Config:
    """seq2seq: deep LSTM encoder -> thought vector -> deep LSTM decoder, optional attention.

    The default sizes are translation_multi30k's quick model (chosen there on validation to fit
    CPU budgets: 39.8 test BLEU with attention after 2 epochs); its full profile is deeper.
    """

    attention: Literal["additive", "dot", "none"] = "additive"  # how the decoder looks at the source
    embed: int = 128  # word (subword) embedding size, source and target; range [1, 65536]
    # decoder state size; a bidirectional encoder has hidden/2 per direction (so it must be even); range [2, 65536]
    hidden: int = 256
    layers: int = 1  # stacked LSTM layers in encoder and decoder; range [1, 32]
    dropout: float = 0.1  # dropout on embeddings, between layers and before the output layer; range [0, 1)
    bidirectional: bool = True  # encoder reads both ways (final states of both halves start the decoder)
    reverse_source: bool = False  # feed the source backwards (Sutskever et al. 2014)
    attn_size: int = 128  # additive attention's hidden size; range [1, 65536]
    # target distribution: 1 - ε on the reference, ε spread over all words; range [0, 1)
    label_smoothing: float = 0.1
    # training sentences are cut to this many subwords, <eos> included (decoding is not); range [2, 4096]
    max_len: int = 64
    # source subword vocabulary size learned by `deepnet train` (prepare_data); the sizes a model was built with
    # are those of its tokenizers, kept in the run's data section; range [128, 100000]
    src_vocab: int = 4000
    tgt_vocab: int = 4000  # target subword vocabulary size, likewise; range [128, 100000]

    def check(self):
        check_fields(self)  # each field's own range, declared beside it (Seq2Seq() checks a Config it is given)
        if self.bidirectional and self.hidden % 2:
            raise ConfigError(f"--hidden must be even with a bidirectional encoder (--bidirectional), got {self.hidden}")


# ---------------------------------------------------------------------------------------------
# Subword units


def train_tokenizer(sentences, vocab_size):
    """A SentencePiece unigram model learned on `sentences` (raw strings) -> its serialised bytes."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, normalization_rule_name="identity", pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
        num_threads=1, minloglevel=2, hard_vocab_limit=False)  # identity: no Unicode normalisation, exact round trip
    return buf.getvalue()


class Tokenizer:
    """Text <-> subword ids of one language, from a serialised SentencePiece model."""

    def __init__(self, model_bytes):
        import sentencepiece as spm

        self.model_bytes = bytes(model_bytes)
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(self.model_bytes)
        except (RuntimeError, OSError) as e:
            raise ConfigError(f"damaged tokenizer model in the run's config ({e})") from None

    def __len__(self):
        return self.sp.get_piece_size()

    def encode(self, text):
        """Subword ids of one sentence followed by <eos>."""
        return self.sp.encode(text) + [EOS]

    def pieces(self, ids):
        return [self.sp.id_to_piece(int(i)) for i in ids]

    def decode(self, ids):
        """Text of ids, stopping at the first <eos>."""
        ids = list(ids)
        if EOS in ids:
            ids = ids[:ids.index(EOS)]
        return self.sp.decode([int(i) for i in ids])

    def to_b64(self):
        return base64.b64encode(self.model_bytes).decode("ascii")

    @classmethod
    def from_b64(cls, s):
        try:
            return cls(base64.b64decode(s, validate=True))
        except (ValueError, TypeError) as e:
            raise ConfigError(f"damaged tokenizer model in the run's config ({e})") from None


def pad_batch(seqs, max_len=None):
    """Lists of ids -> (N, L) int64 padded with PAD; longer than max_len: the first max_len - 1 ids and <eos>."""
    return pad_ids(seqs, PAD, EOS, max_len)


# ---------------------------------------------------------------------------------------------
# Model


class Seq2Seq(nn.Module):
    """Source ids (B, S) and target ids (B, T) (0-padded, each ending in <eos>) -> (logits (B, T', V), loss)."""

    def __init__(self, cfg, src_vocab, tgt_vocab):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        H, E, L = cfg.hidden, cfg.embed, cfg.layers
        self.src_embed = nn.Embedding(src_vocab, E, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, E, padding_idx=PAD)
        self.encoder = nn.LSTM(E, H // 2 if cfg.bidirectional else H, L, batch_first=True,
                               dropout=cfg.dropout if L > 1 else 0.0, bidirectional=cfg.bidirectional)
        self.decoder = nn.LSTM(E, H, L, batch_first=True, dropout=cfg.dropout if L > 1 else 0.0)
        if cfg.attention == "additive":
            self.attn = AdditiveAttention(H, H, cfg.attn_size)
        elif cfg.attention == "dot":
            self.attn = DotAttention(H, H)
        else:
            self.attn = None
        self.combine = nn.Linear(2 * H, H) if self.attn is not None else None  # W_c
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(H, tgt_vocab)  # W_o, b_o

    # -- encoder ---------------------------------------------------------------------------

    def encode(self, src):
        """src (B, S) -> states (B, S', H), decoder start (h, c) each (L, B, H), mask (B, S') (True = word).

        S' is the longest sentence of this batch: columns of padding only are dropped first.
        """
        lengths = (src != PAD).sum(1)  # (B,)
        if bool((lengths == 0).any()):
            raise ValueError("an empty source sentence (at least <eos> is expected)")
        S = int(lengths.max())
        src = src[:, :S]
        if self.cfg.reverse_source:  # x_1..x_n -> x_n..x_1 within each sentence's length, padding left in place
            ar = torch.arange(S, device=src.device)
            rev = lengths[:, None] - 1 - ar  # (B, S)
            src = src.gather(1, torch.where(rev >= 0, rev, ar))
        e = self.drop(self.src_embed(src))  # (B, S, E)
        packed = pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=S)  # (B, S, H)
        if self.cfg.bidirectional:  # (2L, B, H/2), directions interleaved per layer -> (L, B, H)
            L, B = self.cfg.layers, src.shape[0]
            h = h.view(L, 2, B, -1).permute(0, 2, 1, 3).reshape(L, B, -1)  # [forward; backward] halves
            c = c.view(L, 2, B, -1).permute(0, 2, 1, 3).reshape(L, B, -1)
        return out, (h.contiguous(), c.contiguous()), src != PAD

    # -- decoder ---------------------------------------------------------------------------

    def decode(self, inp, state, enc, mask, projected=None):
        """Decoder inputs inp (B, T) -> (logits (B, T, V), state, attention (B, T, S) or None)."""
        e = self.drop(self.tgt_embed(inp))  # (B, T, E)
        h, state = self.decoder(e, state)  # (B, T, H)
        if self.attn is None:
            o, a = h, None
        else:
            ctx, a = self.attn(h, enc, mask, projected)  # (B, T, H), (B, T, S)
            o = torch.tanh(self.combine(torch.cat([h, ctx], dim=-1)))  # o_t = tanh(W_c [h_t; c_t])
        return self.out(self.drop(o)), state, a

    def forward(self, src, tgt):
        """Teacher-forced training step: mean cross-entropy per target subword (padding ignored)."""
        enc, state, mask = self.encode(src)
        T = int((tgt != PAD).sum(1).max())
        tgt = tgt[:, :T]
        bos = torch.full_like(tgt[:, :1], BOS)
        inp = torch.cat([bos, tgt[:, :-1]], dim=1)  # (B, T): <bos> y_1 .. y_{T-1}
        logits, _, _ = self.decode(inp, state, enc, mask)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), tgt.flatten(), ignore_index=PAD,
                               label_smoothing=self.cfg.label_smoothing)  # (B*T, V) vs (B*T,)
        return logits, loss

    def _start(self, src):
        enc, state, mask = self.encode(src)
        projected = self.attn.project_keys(enc) if self.attn is not None else None
        return enc, state, mask, projected

    @staticmethod
    def _limits(mask, max_len):
        """Most words to write for each sentence: max_len, else twice its source length plus 10 (a
        per-sentence limit, so that a sentence's translation never depends on its batch-mates)."""
        if max_len:
            return [max_len] * mask.shape[0]
        return (mask.sum(1) * 2 + 10).tolist()

    @torch.no_grad()
    def greedy(self, src, max_len=None):
        """The most likely next word at each step -> (list of id lists without <eos>, attention list)."""
        enc, state, mask, projected = self._start(src)
        B = src.shape[0]
        limits = self._limits(mask, max_len)
        y = torch.full((B, 1), BOS, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        words, attns = [], []
        for _ in range(max(limits)):
            logits, state, a = self.decode(y, state, enc, mask, projected)
            y = logits[:, -1].float().argmax(-1, keepdim=True)  # (B, 1)
            words.append(y[:, 0])
            if a is not None:
                attns.append(a[:, 0])
            done |= y[:, 0] == EOS
            if bool(done.all()):
                break
        words = torch.stack(words, 1).tolist()  # (B, T)
        att = torch.stack(attns, 1) if attns else None  # (B, T, S)
        out, out_att = [], []
        for b, ids in enumerate(words):
            ids = ids[:limits[b]]
            n = ids.index(EOS) if EOS in ids else len(ids)
            out.append(ids[:n])
            out_att.append(att[b, :min(n + 1, limits[b])].cpu() if att is not None else None)  # words (+ <eos>)
        return out, out_att

    @torch.no_grad()
    def beam_search(self, src, beam=5, alpha=1.0, max_len=None):
        """Beam search (core/beam.py): keep the `beam` best partial translations of each sentence, finished
        hypotheses scored log P / length^alpha -> (id lists, attention list) like greedy."""
        if beam < 1:
            raise ValueError(f"beam must be at least 1, got {beam}")
        enc, state, mask, projected = self._start(src)
        B, K = src.shape[0], beam
        limits = self._limits(mask, max_len)
        rep = lambda t, dim=0: t.repeat_interleave(K, dim)  # (B, ...) -> (B*K, ...), beams of a sentence adjacent
        enc, mask = rep(enc), rep(mask)
        projected = rep(projected) if projected is not None else None

        def step(y, st):
            logits, st, a = self.decode(y[:, None], st, enc, mask, projected)  # (B*K, 1, V)
            return torch.log_softmax(logits[:, -1].float(), dim=-1), st, (a[:, 0] if a is not None else None)

        def reorder(st, rows):
            return tuple(s[:, rows] for s in st)  # (L, B*K, H)

        return beam_search(step, reorder, tuple(rep(s, 1) for s in state), B, K, limits, BOS, EOS, alpha,
                           src.device)

    @torch.no_grad()
    def sentence_vectors(self, src, kind="final"):
        """Encoder representations of sentences (B, H): the top layer's final state (the thought vector,
        "final") or the mean of the encoder states over the words ("mean")."""
        enc, (h, _), mask = self.encode(src)
        if kind == "final":
            return h[-1]
        m = mask[..., None].to(enc.dtype)  # (B, S, 1)
        return (enc * m).sum(1) / m.sum(1)


def build(run_config):
    cfg = config_from_dict(Config, run_config["model"], "model config")
    tok = run_config["data"]["tokenizers"]
    model = Seq2Seq(cfg, tok["src_vocab"], tok["tgt_vocab"])
    model.src_tok = Tokenizer.from_b64(tok["src"])
    model.tgt_tok = Tokenizer.from_b64(tok["tgt"])
    return model


# ---------------------------------------------------------------------------------------------
# Text in, text out


def translate(model, sentences, beam=1, alpha=1.0, batch_size=100, device=None):
    """Translate raw sentences with a loaded run (a model with src_tok/tgt_tok).

    Returns one dict per sentence: text, ids, unknown (source subwords never seen in training, read as
    <unk>), source pieces, target pieces and attention (T+1, S) or None.
    Sentences are batched in order of length (less padding) and returned in input order.
    """
    if not sentences:
        return []
    model.eval()
    device = device or next(model.parameters()).device
    src_ids = [model.src_tok.encode(s) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: len(src_ids[i]))
    results = [None] * len(sentences)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        src = pad_batch([src_ids[i] for i in chunk]).to(device)
        if beam == 1:
            ids, att = model.greedy(src)
        else:
            ids, att = model.beam_search(src, beam, alpha)
        for i, w, a in zip(chunk, ids, att):
            n_src = len(src_ids[i])
            ended = a is None or a.shape[0] > len(w)  # False when cut at the length limit
            results[i] = {"text": model.tgt_tok.decode(w), "ids": w, "unknown": src_ids[i].count(UNK),
                          "src_pieces": model.src_tok.pieces(src_ids[i]),
                          "tgt_pieces": model.tgt_tok.pieces(w) + (["</s>"] if ended else []),
                          "attention": a[:, :n_src] if a is not None else None}
    return results


@torch.no_grad()
def evaluate_part(model, part, device, batch_size=100):
    """`deepnet eval`: the loss per target subword (teacher forced), token accuracy, and corpus BLEU of greedy
    translations (sacrebleu, 13a, cased) against the references, both decoded from the part's subword ids (so
    with the tokenizer's normalisation: the experiments score against the raw references instead)."""
    from deepnet.core.train import evaluate

    out = evaluate(model, part, device, batch_size, metrics=token_accuracy)
    model.eval()
    hyps, refs = [], []
    for i in range(0, len(part), batch_size):
        src = part.x[i:i + batch_size].to(device)
        ids, _ = model.greedy(src)
        hyps += [model.tgt_tok.decode(w) for w in ids]
        refs += [model.tgt_tok.decode([int(t) for t in row if t != PAD]) for row in part.y[i:i + batch_size]]
    return {**out, "bleu_greedy": bleu(hyps, refs), "sentences": len(part)}


def bleu(hypotheses, references, lowercase=False):
    """Corpus BLEU (sacrebleu, 13a tokenisation) of detokenised hypotheses against one raw reference each."""
    import sacrebleu

    return sacrebleu.corpus_bleu(hypotheses, [references], lowercase=lowercase).score


def bleu_tokenised(hypotheses, references, lang="fr"):
    """Corpus BLEU as the Multi30k shared-task systems report it: both sides punctuation-normalised,
    Moses-tokenised (sacremoses) and lowercased, then scored by sacrebleu with no tokenisation of
    its own. Higher than `bleu` on the same output: tokenised punctuation and clitics count as words."""
    import sacrebleu
    from sacremoses import MosesPunctNormalizer, MosesTokenizer

    norm, tok = MosesPunctNormalizer(lang=lang), MosesTokenizer(lang=lang)

    def prep(text):
        return tok.tokenize(norm.normalize(text), escape=False, return_str=True).lower()

    return sacrebleu.corpus_bleu([prep(h) for h in hypotheses], [[prep(r) for r in references]],
                                 tokenize="none").score


def bleu_signature(lowercase=False):
    from sacrebleu.metrics import BLEU

    metric = BLEU(lowercase=lowercase)
    metric.corpus_score(["a"], [["a"]])  # the signature names the reference count once something was scored
    return str(metric.get_signature())


# ---------------------------------------------------------------------------------------------
# A bitext as ids, and what a run folder keeps of it (the translation experiments train on these)


def make_splits(bitext, src_tok, tgt_tok, max_len):
    """Bitext of raw strings -> Splits of (N, S) source and (N, T) target id tensors, padded with 0."""
    from deepnet.data import multi30k
    from deepnet.data.common import ArrayDataset, Splits

    def part(p):
        return ArrayDataset(pad_batch([src_tok.encode(s) for s in p.src], max_len),
                            pad_batch([tgt_tok.encode(s) for s in p.tgt], max_len))

    return Splits(name="multi30k", train=part(bitext.train), val=part(bitext.val), test=part(bitext.test),
                  classes=[], input_shape=(), licence=multi30k.LICENCE,
                  notes=f"task 1 {bitext.src_lang}->{bitext.tgt_lang}; subword ids, cut to {max_len}")


def token_accuracy(logits, tgt):
    """Share of non-padding target subwords predicted exactly (logits (B, T', V) vs tgt (B, T >= T'))."""
    tgt = tgt[:, :logits.shape[1]]
    keep = tgt != PAD
    hit = (logits.argmax(-1) == tgt) & keep
    return {"accuracy": hit.sum().float() / keep.sum().clamp(min=1)}


def run_config_for(cfg, src_tok, tgt_tok, bitext):
    return {"system": "seq2seq", "model": asdict(cfg),
            "data": {**bitext.info(), "tokenizers": {"src": src_tok.to_b64(), "tgt": tgt_tok.to_b64(),
                                                     "src_vocab": len(src_tok), "tgt_vocab": len(tgt_tok)}}}


def load_data(name, seed, train_cfg=None):
    """`deepnet train`'s data: Multi30k task 1 English -> French sentence pairs (its own fixed parts; seed unused)."""
    from deepnet.data import multi30k

    return multi30k.load()


def prepare_data(bitext, cfg):
    """Learn the subword units on the training part, then turn every part into padded id tensors."""
    src_tok, tgt_tok = make_tokenizers(bitext, cfg.src_vocab, cfg.tgt_vocab)
    splits = make_splits(bitext, src_tok, tgt_tok, cfg.max_len)
    # the run folder keeps the tokenizers (build() needs them) and the bitext's record
    return dataclasses.replace(splits, extra=run_config_for(cfg, src_tok, tgt_tok, bitext)["data"])


def make_tokenizers(bitext, src_vocab, tgt_vocab):
    """One subword model per language, learned on the training part only."""

    def learn(sentences, size, flag):
        try:
            return Tokenizer(train_tokenizer(sentences, size))
        except RuntimeError as e:  # every character is a unit (coverage 1.0): fewer units than characters fail
            if "smaller than required_chars" not in str(e):
                raise
            need = len(set("".join(sentences))) + 4  # the characters (space included) and <pad> <unk> <bos> <eos>
            raise ConfigError(f"{flag} {size} is smaller than the {need} characters and special units of the "
                              f"training text: raise it") from None

    return (learn(bitext.train.src, src_vocab, "--src-vocab"), learn(bitext.train.tgt, tgt_vocab, "--tgt-vocab"))


def alignment_text(result, top=2):
    """One line per output subword: the source subwords it attended most, with their weights."""
    a = result["attention"]  # (T+1, S)
    lines = []
    for t, piece in enumerate(result["tgt_pieces"]):
        w = a[t]
        best = w.argsort(descending=True)[:top].tolist()
        lines.append(f"  {piece:>14s} <- " + ", ".join(f"{result['src_pieces'][j]} {float(w[j]):.2f}" for j in best))
    return "\n".join(lines)
