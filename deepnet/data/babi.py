"""bAbI question answering tasks v1.2 (Weston et al. 2015, "Towards AI-complete question answering").

Files, under a data root (see store.py): `babi/tasks_1-20_v1-2/{en,en-10k}/qa{N}_{name}_{train,test}.txt`,
20 tasks, `en` with 1,000 training questions per task and `en-10k` with 10,000 (the same 1,000 test
questions). The format, one line per sentence:

    1 Mary moved to the bathroom.
    2 Sandra journeyed to the bedroom.
    3 Where is Mary? <TAB>bathroom<TAB>1

Line ids count up from 1 within a story and restart at 1 with the next story. A question line
holds the question, a tab, the answer (several words joined by commas, e.g. "apple,football",
kept as one answer token as the memory-network papers do), a tab, and the ids of the supporting
sentences. Questions are not stored in the story that later questions see (as in Sukhbaatar et
al. 2015). Malformed lines raise DataError naming the file and the line number.

Examples become tensors of word ids: x (N, 1 + M, J), where row 0 is the question and rows
1..M the story's sentences, most recent first (slot 1 is the last sentence before the question),
each padded with id 0 to J words; y (N,) is the answer's id in the same vocabulary. Stories
longer than the memory size M keep their M most recent sentences.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepnet.data import fetching, store
from deepnet.data.common import ArrayDataset, Splits
from deepnet.errors import DataError

NAME = "babi"
DESCRIPTION = "bAbI QA tasks v1.2: 20 story/question/answer tasks, 1k and 10k training questions per task"
LICENCE = "CC BY 3.0 (LICENSE.txt in the archive)"
SOURCE = ("http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz (Facebook AI Research; "
          "mirror used by Keras: https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz)")
FOLDER = "babi/tasks_1-20_v1-2"

TASK_NAMES = {
    1: "single-supporting-fact", 2: "two-supporting-facts", 3: "three-supporting-facts",
    4: "two-arg-relations", 5: "three-arg-relations", 6: "yes-no-questions", 7: "counting",
    8: "lists-sets", 9: "simple-negation", 10: "indefinite-knowledge", 11: "basic-coreference",
    12: "conjunction", 13: "compound-coreference", 14: "time-reasoning", 15: "basic-deduction",
    16: "basic-induction", 17: "positional-reasoning", 18: "size-reasoning", 19: "path-finding",
    20: "agents-motivations",
}
SIZES = {"1k": "en", "10k": "en-10k"}
PAD, UNK = "<pad>", "<unk>"  # ids 0 and 1 of every vocabulary
# Version of what `parse`, `pack` and `load` make of the files. Bump it when a change here gives
# other examples or arrays for the same files: results cached from the old ones (the memory
# network's training units, experiments/_babi_units.py) are then not reused.
FORMAT = 1


def task_file(task, part, size="1k"):
    """Path of one task file relative to a data root, e.g. babi/tasks_1-20_v1-2/en/qa1_..._train.txt."""
    return f"{FOLDER}/{SIZES[size]}/qa{task}_{TASK_NAMES[task]}_{part}.txt"


# `find_root` and `locate` look for the complete 1k set; the 10k copy may lack files (see load).
FILES = tuple(task_file(t, p) for t in TASK_NAMES for p in ("train", "test"))


# Where the files come from and how a download is checked (the format: fetching.py).
# No checksum of the archive is published. The unpacked en/ and en-10k/ task files are checked
#   by tree_sha256 computed by us over the copy from a public repository's history (its en-10k
#   lacks qa3_three-supporting-facts_train.txt, left out of that check). Size: 11745123 bytes as
#   a Keras-era script expects of the same archive on S3 (informational).
_TASK_CHECKS = [
    {"dir": "en", "match": "qa*.txt", "files": 40,
     "sha256": "e30b690819df670b5cb7708a5cd3d752560acf62a7a6d3ed3c58ac748f3cbc34"},
    {"dir": "en-10k", "match": "qa*.txt", "exclude": ["qa3_three-supporting-facts_train.txt"],
     "files": 39, "sha256": "305d6193391c5c5073253cc866598e8f8587d00da5a9e19220862e5a9f943b27"},
]
DOWNLOAD = {
    "description": "bAbI question answering tasks v1.2 (20 tasks, 1k and 10k training stories)",
    "licence": LICENCE,
    "homepage": "https://research.facebook.com/downloads/babi/",
    "checksums": "no published checksum; en/ and en-10k/ task files checked by a tree SHA-256 computed by us "
                 "over a copy from a public repository",
    "options": [
        {"label": "tasks_1-20_v1-2.tar.gz", "items": [
            {"path": "babi/tasks_1-20_v1-2.tar.gz", "size": 11745123, "structure": "tar",
             "urls": ["https://dl.fbaipublicfiles.com/babi/tasks_1-20_v1-2.tar.gz",
                      "http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz"],
             "extract": {"to": FOLDER, "root": "tasks_1-20_v1-2", "checks": _TASK_CHECKS}},
        ]},
        {"label": "unpacked tasks (mirror only)", "items": [{"tree": FOLDER, "checks": _TASK_CHECKS}]},
    ],
}


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass
class Example:
    """One question about a story."""

    story: list  # sentences before the question, oldest first, each a list of lowercase words
    question: list  # the question's words
    answer: str  # one token (comma-joined when the answer has several words)
    supporting: list  # indices into `story` of the supporting sentences (0-based)
    task: int = 0
    story_id: int = 0  # index of the story within its file (questions of one story share it)


def tokenize(text):
    """Lowercase words of a sentence, punctuation dropped: 'Where is Mary?' -> ['where', 'is', 'mary']."""
    return re.findall(r"[a-z0-9]+", text.lower())


def parse(path, task=0):
    """The Examples of one bAbI file, in file order. DataError '<file>:<line>: ...' on malformed lines."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {store.fetch_advice(NAME)}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); re-extract the bAbI archive") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    return parse_lines(text.splitlines(), str(path), task)


def parse_lines(lines, where="<text>", task=0):
    """Examples from bAbI-format lines (see the module docstring); `where` names the source in errors."""
    examples = []
    story = []  # sentences so far (lists of words)
    line_to_sentence = {}  # line id -> index in `story`, for the supporting-fact ids
    last_id, story_id = 0, -1
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue

        def bad(what):
            return DataError(f"{where}:{lineno}: {what}: {raw[:80]!r}")

        head, _, rest = line.partition(" ")
        if not head.isdigit():
            raise bad("expected a line id (a number) then text")
        line_id = int(head)
        if line_id == 1:  # a new story
            story, line_to_sentence = [], {}
            story_id += 1
        elif line_id != last_id + 1:
            raise bad(f"line id {line_id} does not follow {last_id} (ids count up from 1 within a story)")
        last_id = line_id
        if "\t" in rest:
            fields = rest.split("\t")
            if len(fields) < 2 or not fields[1].strip():
                raise bad("a question line needs 'question<TAB>answer<TAB>supporting ids'")
            question = tokenize(fields[0])
            if not question:
                raise bad("empty question")
            answer = fields[1].strip().lower()
            try:
                ids = [int(s) for s in fields[2].split()] if len(fields) > 2 else []
            except ValueError:
                raise bad("supporting-fact ids must be numbers") from None
            if not story:
                raise bad("a question before any sentence of its story (a story starts at line id 1)")
            missing = [i for i in ids if i not in line_to_sentence]
            if missing:
                raise bad(f"supporting id(s) {missing} name no earlier sentence of this story")
            examples.append(Example(list(story), question, answer, [line_to_sentence[i] for i in ids], task, story_id))
        else:
            words = tokenize(rest)
            if not words:
                raise bad("empty sentence")
            line_to_sentence[line_id] = len(story)
            story.append(words)
    if not examples:
        raise DataError(f"{where}: no questions found; is this a bAbI task file?")
    return examples


# ---------------------------------------------------------------------------------------------
# Vocabulary and tensors


def build_vocab(examples):
    """Sorted word list of the stories, questions and answers, after <pad> (0) and <unk> (1)."""
    words = set()
    for ex in examples:
        for s in ex.story:
            words.update(s)
        words.update(ex.question)
        words.add(ex.answer)
    return [PAD, UNK] + sorted(words)


def pack(examples, word_to_id, memory_size, sentence_size):
    """(x, y, truncated): x (N, 1 + memory_size, sentence_size) ids, y (N,) answer ids.

    Row 0 of each example is the question; rows 1.. hold the story, most recent sentence first,
    so that slot i means "i sentences before the question" whatever the story's length (what
    temporal encoding learns). Unknown words become <unk>; words past sentence_size are cut.
    truncated: how many examples lost old sentences to the memory size.
    """
    n = len(examples)
    unk = word_to_id[UNK]
    dtype = np.int16 if len(word_to_id) < 2**15 else np.int32  # compact: the 10k-joint data is large
    x = np.zeros((n, 1 + memory_size, sentence_size), dtype=dtype)
    y = np.empty(n, dtype=np.int64)
    ids_of = {}  # id(sentence) -> its ids: the questions of one story share the sentence lists

    def ids(words):
        key = id(words)
        if key not in ids_of:
            ids_of[key] = (words, [word_to_id.get(w, unk) for w in words[:sentence_size]])
        return ids_of[key][1]

    truncated = 0
    for i, ex in enumerate(examples):
        q = ids(ex.question)
        x[i, 0, :len(q)] = q
        recent = ex.story[::-1][:memory_size]  # most recent first
        truncated += len(ex.story) > memory_size
        for slot, words in enumerate(recent, 1):
            row = ids(words)
            x[i, slot, :len(row)] = row
        y[i] = word_to_id.get(ex.answer, unk)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    return x, y, truncated


@dataclass
class BabiSplits(Splits):
    """Splits plus what answering needs: the vocabulary is `classes` (an answer is a word id)."""

    tasks: dict = field(default_factory=dict)  # part -> (N,) int64 task number of each example
    memory_size: int = 50
    sentence_size: int = 0
    truncated: dict = field(default_factory=dict)  # part -> examples whose story was cut to the memory size
    # part -> (N, memory_size) bool: the memory slots (rows 1.. of x, most recent first) holding a supporting fact
    supporting: dict = field(default_factory=dict)

    def info(self):
        return {**super().info(), "tasks": sorted({int(t) for t in self.tasks["train"].unique()}),
                "memory_size": self.memory_size, "sentence_size": self.sentence_size}


def read_task(root, task, part, size):
    """Examples of one task file; DataError saying which file is missing (the 10k copy here lacks one)."""
    path = Path(root) / task_file(task, part, size)
    if not path.is_file():
        raise DataError(f"babi: {path} not found: task {task} ({size}, {part}) is absent from this copy; "
                        f"leave the task out, or {store.fetch_advice(NAME)}")
    return parse(path, task)


def available_tasks(size="1k", root=None):
    """Tasks whose train and test files are both present for `size` (the 10k copy here lacks task 3)."""
    root = Path(root) if root is not None else store.locate(NAME, FILES)
    return [t for t in TASK_NAMES
            if all((root / task_file(t, p, size)).is_file() for p in ("train", "test"))]


def load(seed=0, tasks=(1,), size="1k", memory_size=50, val_fraction=0.1, vocab=None, sentence_size=None):
    """bAbI tasks as BabiSplits: train / val (val_fraction of each task's training stories) / test.

    tasks: task numbers (1..20); several give one joint dataset with a shared vocabulary.
    size: "1k" or "10k" training questions per task (test sets are the same 1,000).
    The validation part holds whole stories (questions of one story share its sentences, so
    splitting inside a story would leak), about val_fraction of each task's training questions.
    memory_size: the most recent sentences kept (the paper's 50), or fewer when no story is that long.
    vocab / sentence_size: given (a trained model's), they are used as they are; otherwise the
    vocabulary comes from the training and validation parts only, and J from all parts.
    """
    if size not in SIZES:
        raise DataError(f"babi: size {size!r} is not one of {', '.join(SIZES)}")
    unknown = [t for t in tasks if t not in TASK_NAMES]
    if unknown or not tasks:
        raise DataError(f"babi: tasks must be numbers 1..20, got {list(tasks)}")
    root = fetching.locate(NAME, FILES, DOWNLOAD)
    g = torch.Generator().manual_seed(seed)
    parts = {"train": [], "val": [], "test": []}
    for t in tasks:
        train, val = hold_out_stories(read_task(root, t, "train", size), val_fraction, g)
        parts["train"].extend(train)
        parts["val"].extend(val)
        parts["test"].extend(read_task(root, t, "test", size))
    notes = (f"tasks {list(tasks)} ({size}); validation: whole stories holding ~{val_fraction:.0%} of each "
             f"task's training questions, seed {seed}")
    return pack_parts(parts, NAME, notes, memory_size, vocab, sentence_size)


def hold_out_stories(examples, fraction, generator):
    """(kept, held): whole stories drawn at random until they hold `fraction` of the questions."""
    starts = [i for i, ex in enumerate(examples) if i == 0 or ex.story_id != examples[i - 1].story_id]
    bounds = list(zip(starts, starts[1:] + [len(examples)]))
    order = torch.randperm(len(bounds), generator=generator).tolist()
    target, held, n_held = fraction * len(examples), set(), 0
    for s in order:
        if n_held >= target:
            break
        held.add(s)
        n_held += bounds[s][1] - bounds[s][0]
    kept, out = [], []
    for s, (a, b) in enumerate(bounds):
        (out if s in held else kept).extend(examples[a:b])
    return kept, out


def support_slots(examples, memory_size):
    """(N, memory_size) bool: True at the slots of each question's supporting sentences (slot 0 = the most recent
    sentence, as `pack` lays stories out); a supporting sentence older than the memory holds has no slot."""
    mask = torch.zeros(len(examples), memory_size, dtype=torch.bool)
    for i, ex in enumerate(examples):
        for s in ex.supporting:
            slot = len(ex.story) - 1 - s  # sentences after it, so its row in the most-recent-first memory
            if slot < memory_size:
                mask[i, slot] = True
    return mask


def pack_parts(parts, name, notes, memory_size=50, vocab=None, sentence_size=None, licence=LICENCE):
    """BabiSplits from {train, val, test} lists of Examples (see load for vocab, sentence_size, memory_size)."""
    if vocab is None:
        vocab = build_vocab(parts["train"] + parts["val"])
    word_to_id = {w: i for i, w in enumerate(vocab)}
    if sentence_size is None:
        sentence_size = max(max((len(s) for ex in exs for s in ex.story), default=1) for exs in parts.values())
        sentence_size = max(sentence_size, max(len(ex.question) for exs in parts.values() for ex in exs))
    # a memory longer than every story only costs time: use the longest story when it is shorter
    memory_size = min(memory_size, max(len(ex.story) for exs in parts.values() for ex in exs))
    data, truncated, task_of = {}, {}, {}
    for part, exs in parts.items():
        x, y, cut = pack(exs, word_to_id, memory_size, sentence_size)
        data[part], truncated[part] = ArrayDataset(x, y), cut
        task_of[part] = torch.tensor([ex.task for ex in exs], dtype=torch.int64)
    supporting = {part: support_slots(exs, memory_size) for part, exs in parts.items()}
    return BabiSplits(
        name=name, train=data["train"], val=data["val"], test=data["test"], classes=vocab,
        input_shape=(1 + memory_size, sentence_size), licence=licence,
        notes=f"{notes}; memory {memory_size} most recent sentences",
        tasks=task_of, memory_size=memory_size, sentence_size=sentence_size, truncated=truncated,
        supporting=supporting,
    )


def load_like(info):
    """The data a run was trained on, from its config.json "data" section (tasks, size, vocabulary, shapes).

    For `deepnet eval`: a model's vocabulary and memory size are fixed, so the data must be packed with them.
    """
    return load(seed=info.get("seed", 0), tasks=tuple(info.get("tasks", (1,))), size=info.get("size", "1k"),
                memory_size=info["memory_size"], vocab=info["classes"], sentence_size=info["sentence_size"])


def find_root():
    """The data root holding the bAbI 1k files, or None."""
    return store.find(FILES)


def fetch(root=None, **kwargs):
    """Download and extract the archive (see fetching.py); returns the data root."""
    return fetching.fetch(NAME, DOWNLOAD, root=root, **kwargs)


def verify(root=None):
    """Parse every task file present (1k and 10k); returns the checks passed, DataError at the first failure."""
    root = Path(root) if root is not None else store.locate(NAME, FILES)
    missing = [f for f in FILES if not (root / f).is_file()]
    if missing:
        raise DataError(f"babi: missing under {root}: {', '.join(missing[:3])}"
                        f"{' ...' if len(missing) > 3 else ''} (extract tasks_1-20_v1-2.tar.gz there)")
    passed = [f"files: the 40 task files of en/ are present under {root / FOLDER}"]
    for size, per_task in (("1k", 1000), ("10k", 10000)):
        present = available_tasks(size, root)
        for t in present:
            counts = {p: len(read_task(root, t, p, size)) for p in ("train", "test")}
            if counts["test"] != 1000 or counts["train"] != per_task:
                raise DataError(f"babi: task {t} ({size}) has {counts['train']} train / {counts['test']} test "
                                f"questions, expected {per_task} / 1000; the file is truncated or not v1.2")
        absent = sorted(set(TASK_NAMES) - set(present))
        passed.append(f"parse: {size}: {len(present)} tasks with {per_task} train / 1000 test questions each"
                      + (f"; absent here: task(s) {absent}" if absent else ""))
    return passed
