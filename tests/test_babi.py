"""bAbI parser, vocabulary, packing and splits, on the real files and on broken ones."""

import pytest
import torch

from deepnet.data import babi
from deepnet.errors import DataError


def test_parser_reads_a_real_task_file(data_dir):
    path = data_dir / babi.task_file(2, "train")
    examples = babi.parse(path, task=2)
    assert len(examples) == 1000
    first = examples[0]
    # qa2 train starts: 1 Mary moved to the bathroom. ... 7 Where is the football? <TAB>garden<TAB>3 6
    assert first.story[0] == ["mary", "moved", "to", "the", "bathroom"]
    assert first.question == ["where", "is", "the", "football"]
    assert first.answer == "garden"
    assert [first.story[i] for i in first.supporting] == [
        ["mary", "got", "the", "football", "there"], ["mary", "went", "back", "to", "the", "garden"]]
    assert len(first.story) == 6  # questions are not stored in the story
    assert examples[1].story_id == first.story_id and len(examples[1].story) == 12


def test_every_1k_task_parses_with_1000_questions_and_multiword_answers_stay_one_token(data_dir):
    for t in babi.TASK_NAMES:
        for part in ("train", "test"):
            assert len(babi.parse(data_dir / babi.task_file(t, part), t)) == 1000
    answers = {ex.answer for ex in babi.parse(data_dir / babi.task_file(8, "train"))}
    assert any("," in a for a in answers)  # lists-sets: "apple,football" is one answer token


@pytest.mark.parametrize("lines, message", [
    (["1 Mary went home.", "x John left."], "expected a line id"),
    (["1 Mary went home.", "3 John left."], "does not follow 1"),
    (["1 Mary went home.", "2 Where is Mary?\t\t1"], "question<TAB>answer"),
    (["1 Mary went home.", "2 Where is Mary?\thome\tone"], "must be numbers"),
    (["1 Mary went home.", "2 Where is Mary?\thome\t7"], "name no earlier sentence"),
    (["1 Mary went home.", "2 Where is Mary?\thome\t2"], "name no earlier sentence"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, lines, message):
    path = tmp_path / "qa1_broken_train.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message) as e:
        babi.parse(path)
    assert f"{path}:2:" in str(e.value)


def test_a_file_without_questions_or_missing_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("1 Mary went home.\n")
    with pytest.raises(DataError, match="no questions found"):
        babi.parse(path)
    with pytest.raises(DataError, match="file not found"):
        babi.parse(tmp_path / "absent.txt")
    path.write_bytes(b"1 Mary \xff\n")
    with pytest.raises(DataError, match="not UTF-8"):
        babi.parse(path)


def test_pack_puts_the_question_first_and_the_most_recent_sentence_in_slot_1():
    exs = babi.parse_lines(["1 Mary went to the hallway.", "2 John went to the garden.",
                            "3 Mary went to the office.", "4 Where is Mary?\toffice\t3"])
    vocab = babi.build_vocab(exs)
    w = {x: i for i, x in enumerate(vocab)}
    x, y, cut = babi.pack(exs, w, memory_size=2, sentence_size=5)
    assert x.shape == (1, 3, 5) and y.tolist() == [w["office"]]
    assert x[0, 0, :3].tolist() == [w["where"], w["is"], w["mary"]] and x[0, 0, 3:].eq(0).all()
    assert x[0, 1, 4] == w["office"] and x[0, 2, 4] == w["garden"]  # most recent first; hallway dropped
    assert cut == 1
    assert vocab[:2] == [babi.PAD, babi.UNK]
    x, _, _ = babi.pack(babi.parse_lines(["1 Frodo went to the shire.", "2 Where is Frodo?\tshire\t1"]), w, 2, 5)
    assert x[0, 1, 0] == w[babi.UNK]


def test_load_carves_whole_stories_for_validation_and_keeps_test_apart(data_dir):
    d = babi.load(tasks=(1,), seed=0)
    assert len(d.train) + len(d.val) == 1000 and len(d.test) == 1000
    assert 80 <= len(d.val) <= 120  # about 10%, in whole stories
    assert d.train.x.shape[1:] == d.input_shape == (1 + d.memory_size, d.sentence_size)
    # no story in both parts: compare each example's first sentence + story id through the raw parse
    raw = babi.parse(data_dir / babi.task_file(1, "train"), 1)
    assert len({ex.story_id for ex in raw}) == 200
    again = babi.load(tasks=(1,), seed=0)
    assert torch.equal(again.val.x, d.val.x)  # fixed by the seed
    other = babi.load(tasks=(1,), seed=1)
    assert not torch.equal(other.val.x[:50], d.val.x[:50])
    info = d.info()
    assert info["classes"] == d.classes and info["tasks"] == [1] and info["sentence_size"] == d.sentence_size


def test_joint_load_shares_one_vocabulary_and_labels_each_example_with_its_task(data_dir):
    d = babi.load(tasks=(1, 2), seed=0)
    assert sorted(d.tasks["test"].unique().tolist()) == [1, 2]
    assert (d.tasks["test"] == 2).sum() == 1000
    assert d.train.y.max() < len(d.classes)


def test_the_10k_copy_here_lacks_task_3_and_says_so(data_dir):
    present = babi.available_tasks("10k")
    if 3 in present:
        pytest.skip("this copy of en-10k is complete")
    assert len(present) == 19
    with pytest.raises(DataError, match="task 3 .*absent"):
        babi.load(tasks=(3,), size="10k")


def test_verify_parses_every_file_and_names_what_is_absent(data_dir, tmp_path):
    # the 1k files only (linked), so the test stays short; the 10k part is then reported absent
    root = tmp_path / "data"
    (root / babi.FOLDER).mkdir(parents=True)
    (root / babi.FOLDER / "en").symlink_to(data_dir / babi.FOLDER / "en")
    lines = babi.verify(root)
    assert any("1k: 20 tasks" in line for line in lines)
    assert any("10k: 0 tasks" in line and "absent here" in line for line in lines)
    (root / babi.FOLDER / "en").unlink()
    with pytest.raises(DataError, match="missing under"):
        babi.verify(root)


def test_load_like_rebuilds_a_runs_data_with_its_vocabulary(data_dir):
    d = babi.load(tasks=(1,), seed=0)
    again = babi.load_like({**d.info(), "seed": 0})
    assert again.classes == d.classes and torch.equal(again.test.x, d.test.x)


def test_supporting_sentences_are_marked_in_the_memory_slots_they_occupy(data_dir):
    data = babi.load(tasks=(2,), seed=0)
    examples = babi.parse(data_dir / babi.task_file(2, "test"), task=2)
    mask = data.supporting["test"]  # (N, M)
    assert mask.shape == (len(data.test), data.memory_size)
    vocab = data.classes
    for i in (0, 1, 57):
        ex = examples[i]
        rows = data.test.x[i, 1:]  # (M, J): the most recent sentence first
        marked = [" ".join(vocab[w] for w in rows[s].tolist() if w) for s in mask[i].nonzero().flatten().tolist()]
        assert sorted(marked) == sorted(" ".join(ex.story[s]) for s in ex.supporting)
    assert (mask.sum(1) == 2).float().mean() > 0.99  # task 2: two supporting facts, nearly always in memory
    small = babi.support_slots(examples[:1], memory_size=1)  # a supporting sentence past the memory has no slot
    assert small.sum() == (len(examples[0].story) - 1 in examples[0].supporting)
