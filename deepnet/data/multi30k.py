"""Multi30k (Elliott et al. 2016, 2017): Flickr30k image descriptions in English, German, French, Czech.

Task 1 (translation): each English description has one professional translation. Files under a
data root: `multi30k/data/task1/raw/{part}.{lang}.gz`, one sentence per line, untokenised, for the
parts train (29,000), val (1,014) and test_2016_flickr (1,000); line i of `train.en.gz` and of
`train.fr.gz` are a pair.

Task 2 (description): five independent English descriptions of each image, in
`multi30k/data/task2/raw/{part}.{k}.{lang}.gz` for k = 1..5 (line i of each file describes image i).
They are not translations of each other, so they let us ask whether sentences with similar
meaning get similar encoder representations (the review's Figure 4, right).

Sentences are kept as raw strings: the translation system learns its own subword units on the
training part (systems/seq2seq.py), and BLEU is scored on raw text against the raw references.
"""

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from deepnet.data import fetching, store
from deepnet.errors import DataError

NAME = "multi30k"
DESCRIPTION = "Multi30k task 1 (29,000 English-French/German/Czech training pairs) and task 2 (5 English captions per image)"
LICENCE = "non-commercial research and education (derived from Flickr30K)"
SOURCE = "https://github.com/multi30k/dataset (data/task1/raw, data/task2/raw)"

PARTS = {"train": 29000, "val": 1014, "test_2016_flickr": 1000}  # task 1 parts and their sizes
LANGS = ("en", "de", "fr", "cs")
TASK2_PARTS = {"train": 29000, "val": 1014, "test_2016": 1000}  # images per task 2 part (5 captions each)


def task1_file(part, lang):
    return f"multi30k/data/task1/raw/{part}.{lang}.gz"


def task2_file(part, k, lang="en"):
    return f"multi30k/data/task2/raw/{part}.{k}.{lang}.gz"


# What `find_root` requires: English and French task 1, and the English task 2 test captions.
FILES = tuple(task1_file(p, lang) for p in PARTS for lang in ("en", "fr")) + tuple(
    task2_file("test_2016", k) for k in range(1, 6))


# Where the files come from and how a download is checked (the format: fetching.py): every file
# of the repository's data/task1 and data/task2 as (path under data/, size, SHA-256 computed by us
# over the copy from GitHub multi30k/dataset; no checksums are published).
_RAW = "https://raw.githubusercontent.com/multi30k/dataset/master/data/"
_REPO_FILES = [
    ("task1/image_splits/test_2016_flickr.txt", 14756, "871e8ecafc66fb13e044ecccf669d04a865b4c58553227df86b933f0337a1563"),
    ("task1/image_splits/test_2017_flickr.txt", 26996, "7bef9b1eb747593c23a8597e830ac804d28180d1226c1d6e5bc3f08ccc561e85"),
    ("task1/image_splits/test_2017_mscoco.txt", 17505, "8f976b3c0beed9d96c918fb41e36178f1af11f0ff61d964592b80f932cb5c6d8"),
    ("task1/image_splits/test_2018_flickr.txt", 28905, "8922c98be3e2b6866cd27d90e855214c2d9437fb9ebe406cdcde0edb786b4b95"),
    ("task1/image_splits/train.txt", 427810, "97ee57e160a46c7d0e75298ebf57967e1245698a6f8806436ff07e61d1a41221"),
    ("task1/image_splits/val.txt", 14966, "db26f03eaf833ec47bfaea129ed053b68cbcfc5d1f9a09c4cdf7c88fbfea7108"),
    ("task1/raw/test_2016_flickr.cs.gz", 22572, "200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1"),
    ("task1/raw/test_2016_flickr.de.gz", 22890, "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8"),
    ("task1/raw/test_2016_flickr.en.gz", 21077, "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9"),
    ("task1/raw/test_2016_flickr.fr.gz", 22310, "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90"),
    ("task1/raw/test_2017_flickr.de.gz", 21471, "a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee"),
    ("task1/raw/test_2017_flickr.en.gz", 19138, "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074"),
    ("task1/raw/test_2017_flickr.fr.gz", 20434, "3ba671ceb2299f3304ffafefea7a833d08632fbaf0ba18546f8a2ec2391af496"),
    ("task1/raw/test_2017_mscoco.de.gz", 10230, "799e4854c25d601cb6cb6be29eabe5667734c61ace2f495e03e429031a0bc338"),
    ("task1/raw/test_2017_mscoco.en.gz", 8844, "aab300bfb4427697987e02cd0aacd44bfe8aa50456231b6474c08038bbed2b58"),
    ("task1/raw/test_2017_mscoco.fr.gz", 9751, "754f3072ba9f124569ba5258b32730fc1d214bbf8e0c6dfb2b74401676220db0"),
    ("task1/raw/test_2018_flickr.cs.gz", 25181, "7d0a9db904f94c554a8c58049a9f3a5357c27f46cc3d710d70cb0b4a2585b8c2"),
    ("task1/raw/test_2018_flickr.de.gz", 26461, "ddd0130c7d97482dc5197a02141dae8dd79f20f03586c480d675c09a32daf608"),
    ("task1/raw/test_2018_flickr.en.gz", 23514, "ef4f4844037d4c5dea75c9a8ed5fd78905967a26f67c255e230cc9780032654d"),
    ("task1/raw/test_2018_flickr.fr.gz", 25321, "fb2b83fcceb937a4f7e3e93c1c51c22aba92f1e342391e6b5ba392b16a920501"),
    ("task1/raw/train.cs.gz", 593827, "a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077"),
    ("task1/raw/train.de.gz", 637044, "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6"),
    ("task1/raw/train.en.gz", 568929, "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f"),
    ("task1/raw/train.fr.gz", 604242, "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c"),
    ("task1/raw/val.cs.gz", 22096, "b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc"),
    ("task1/raw/val.de.gz", 24681, "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a"),
    ("task1/raw/val.en.gz", 21650, "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28"),
    ("task1/raw/val.fr.gz", 23001, "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9"),
    ("task2/image_splits/test_2016_images.txt", 14756, "871e8ecafc66fb13e044ecccf669d04a865b4c58553227df86b933f0337a1563"),
    ("task2/image_splits/test_2017_images.txt", 28905, "8922c98be3e2b6866cd27d90e855214c2d9437fb9ebe406cdcde0edb786b4b95"),
    ("task2/image_splits/train_images.txt", 427810, "97ee57e160a46c7d0e75298ebf57967e1245698a6f8806436ff07e61d1a41221"),
    ("task2/image_splits/val_images.txt", 14966, "db26f03eaf833ec47bfaea129ed053b68cbcfc5d1f9a09c4cdf7c88fbfea7108"),
    ("task2/raw/test_2016.1.de.gz", 16764, "cf83315ea2e76c517fb41553ff25c7128d071397928a6b66a5d81479aeea950b"),
    ("task2/raw/test_2016.1.en.gz", 31678, "bf64274c8e1f73ba57d47409f707a640b3874a06e7e83adfb5a6d4c055bc6b29"),
    ("task2/raw/test_2016.2.de.gz", 19051, "327af090d22ddf624fe638f34e815b249bdfa033e3e48f55474e21d6b28efaa8"),
    ("task2/raw/test_2016.2.en.gz", 24829, "36c12dac199e336e74ebe91c5240a1c6cefce7af2a3f3a2054d184947932bc3c"),
    ("task2/raw/test_2016.3.de.gz", 21207, "b3236b4834c944cd42e6942da9041fee210cb2875574deefd41f130e5651a61b"),
    ("task2/raw/test_2016.3.en.gz", 20861, "2188662d22b01c5ecf7ae6a7c003b45fc83c510d34999c2340078e75088b0f1f"),
    ("task2/raw/test_2016.4.de.gz", 23024, "3843a960dc2c026d5d371c720cce830b6709d03c2f29e17b2923af11497da2c0"),
    ("task2/raw/test_2016.4.en.gz", 17667, "dcb6a0ad2ae40f54a1f9e9f20d3146c7f0a662feece2e78d2d511667bf229f08"),
    ("task2/raw/test_2016.5.de.gz", 23685, "c861f68362c443b07c8f919a9bd8c8ecd7f5fccf2b13bf4d4bd8e7fe8783880e"),
    ("task2/raw/test_2016.5.en.gz", 14428, "60e31317f0d960aed273d8ec527411935fb1ff3dee2c9cc9572259739ff193c0"),
    ("task2/raw/train.1.de.gz", 456594, "0002241b52aba5160c08d644ea0d64a9bf46a2dfffcf619c9e3cdaa55b357004"),
    ("task2/raw/train.1.en.gz", 867789, "a0e057f07a9733199c0d755d77f6d583dc6f40a3180734b1130a216e2fdf3a3b"),
    ("task2/raw/train.2.de.gz", 496731, "ac7c29258b90aec0b64d677c5bfc831fc402e6296d0aa9cc7a3433ddbff85c37"),
    ("task2/raw/train.2.en.gz", 666845, "d79dd70a9eafb2d1fe40151621278c4ae69b3c148c5052a53d7c7a41bf3ba023"),
    ("task2/raw/train.3.de.gz", 536471, "ec5e6508813814aa31311b34e26e24f903dd7701f8d0668313259b7f975d7aa0"),
    ("task2/raw/train.3.en.gz", 555423, "86e16fdcc699bcb6bca0f87c3cf1051f7de5ee3674dd588cedc5200194282749"),
    ("task2/raw/train.4.de.gz", 598066, "bcee8ac6eb47d8a7dc8cff47d9a0fbd80b4363cfda22021bacd297f9604221a4"),
    ("task2/raw/train.4.en.gz", 465845, "3771b84e010ad6197806d2a1188cb07c12149e3e0d178dd5966dee5763733686"),
    ("task2/raw/train.5.de.gz", 658679, "dccb0ca6ff25e0b1f0d385f59fb809184e0db89622d88371725e3ec46d43bfc0"),
    ("task2/raw/train.5.en.gz", 375613, "73988689307fe836994eae59735dc840c15da9775455fa76e6ed22606a042a91"),
    ("task2/raw/val.1.de.gz", 18297, "a6b9ad98bdab8882d2ac40d1bc05db89341947162c07d2d0d27e80f01897ba05"),
    ("task2/raw/val.1.en.gz", 32603, "4ce8f8ffbef4a1c066e3f35a5ffc764666c26c318a733d9bdc6349577f1c6f9c"),
    ("task2/raw/val.2.de.gz", 20082, "dbbf0f8fa54fdb4a3c64d22a1c0773ade3f775c39e4513ab5ca6d683025086dc"),
    ("task2/raw/val.2.en.gz", 25187, "4103944d652127e5af33ba2761d71cb6c0e1509c1a67d4387dc67ad768cfb752"),
    ("task2/raw/val.3.de.gz", 19518, "5eac83b577fe9bc781e60b609545123804e9dd29de4c2bd1b9e178ad8b29a1da"),
    ("task2/raw/val.3.en.gz", 21098, "6ecd848713d98faa9c6db2e9e457a778335358e6e3a4743cf4e929a0516e399a"),
    ("task2/raw/val.4.de.gz", 21542, "1c3054cfd1e47f17d8a20fcec6615cfd26d7dc2c8c4ef4625cd9db9f4e4590ea"),
    ("task2/raw/val.4.en.gz", 18091, "bfab4f0cbdac6233f206bbbfbd324dc02b258e291c3f410a69f9884171008788"),
    ("task2/raw/val.5.de.gz", 21405, "185d6cb907313e6a6eef76f09c657e5748e08ee3c7a5b26200186e171e2c8344"),
    ("task2/raw/val.5.en.gz", 14799, "4b6a6541b7b58d545eff7feead4187aeb0439a7178a7bed6951121e0ecbaee66"),
]
DOWNLOAD = {
    "description": "Multi30k tasks 1 and 2: English/German/French/Czech image descriptions",
    "licence": "non-commercial research and education (Flickr30K-derived)",
    "homepage": "https://github.com/multi30k/dataset",
    "checksums": "SHA-256 computed by us over the copy from GitHub multi30k/dataset (none is published)",
    "options": [
        {"label": "repository files (data/task1, data/task2)", "items": [
            {"path": f"multi30k/data/{rel}", "size": size, "urls": [_RAW + rel], "sha256": sha256}
            for rel, size, sha256 in _REPO_FILES]},
    ],
}


def find_root():
    return store.find(FILES)


def read_lines(path):
    """The lines of one gzipped text file (UTF-8), trailing newline removed; DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; {store.fetch_advice(NAME)}")
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a readable gzipped UTF-8 text file ({store.one_line(e)}); "
                        "re-download it with 'deepnet data fetch multi30k'") from None
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


@dataclass
class Parallel:
    """Sentence pairs of one part: src[i] translates to tgt[i] (raw, untokenised strings)."""

    src: list
    tgt: list

    def __len__(self):
        return len(self.src)


@dataclass
class Bitext:
    """The three task 1 parts of one language pair."""

    train: Parallel
    val: Parallel
    test: Parallel
    src_lang: str
    tgt_lang: str
    test_name: str = "test_2016_flickr"
    name: str = NAME  # the user's own pairs (data/user.py) carry their folder's name and path
    extra: dict = field(default_factory=dict)

    def head(self, n_train=0, n_eval=0):
        """The first n_train training pairs and n_eval validation and test pairs (0: all of that part)."""
        cut = lambda p, n: Parallel(p.src[:n], p.tgt[:n]) if n else p
        return Bitext(cut(self.train, n_train), cut(self.val, n_eval), cut(self.test, n_eval), self.src_lang,
                      self.tgt_lang, self.test_name, self.name, dict(self.extra))

    def info(self):
        return {"name": self.name, "src_lang": self.src_lang, "tgt_lang": self.tgt_lang, "test": self.test_name,
                "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)}, **self.extra}


def read_pairs(root, part, src="en", tgt="fr"):
    """Parallel sentences of one task 1 part; DataError when the two sides differ in length or a line is empty."""
    if part not in PARTS:
        raise DataError(f"multi30k: unknown part {part!r}; known: {', '.join(PARTS)}")
    for lang in (src, tgt):
        if lang not in LANGS:
            raise DataError(f"multi30k: unknown language {lang!r}; known: {', '.join(LANGS)}")
    a = read_lines(Path(root) / task1_file(part, src))
    b = read_lines(Path(root) / task1_file(part, tgt))
    if len(a) != len(b):
        raise DataError(f"multi30k {part}: {len(a)} {src} lines but {len(b)} {tgt} lines; a file is truncated "
                        "(re-download with 'deepnet data fetch multi30k')")
    for i, (s, t) in enumerate(zip(a, b), 1):
        if not s.strip() or not t.strip():
            raise DataError(f"{Path(root) / task1_file(part, src if not s.strip() else tgt)}: line {i} is empty")
    return Parallel(a, b)


def load(src="en", tgt="fr", root=None):
    """Task 1 train / val / test_2016_flickr pairs for src -> tgt (raw strings)."""
    root = Path(root) if root is not None else fetching.locate(NAME, FILES, DOWNLOAD)
    return Bitext(read_pairs(root, "train", src, tgt), read_pairs(root, "val", src, tgt),
                  read_pairs(root, "test_2016_flickr", src, tgt), src, tgt)


def load_captions(part="test_2016", lang="en", root=None):
    """Task 2: five lists of descriptions; captions[k][i] is the (k+1)-th description of image i."""
    if part not in TASK2_PARTS:
        raise DataError(f"multi30k task 2: unknown part {part!r}; known: {', '.join(TASK2_PARTS)}")
    root = Path(root) if root is not None else fetching.locate(NAME, FILES, DOWNLOAD)
    caps = [read_lines(root / task2_file(part, k, lang)) for k in range(1, 6)]
    if len({len(c) for c in caps}) != 1:
        raise DataError(f"multi30k task 2 {part}: the five caption files differ in length "
                        f"({', '.join(str(len(c)) for c in caps)}); a file is truncated")
    return caps


def verify(root=None):
    """Read every required file; check the sentence counts of the task 1 parts and the task 2 test part."""
    root = Path(root) if root is not None else store.locate(NAME, FILES)
    passed = []
    for part, n in PARTS.items():
        pairs = read_pairs(root, part, "en", "fr")
        if len(pairs) != n:
            raise DataError(f"multi30k {part}: {len(pairs)} pairs, expected {n:,}; re-download it")
        passed.append(f"task1 {part}: {n:,} English-French pairs")
    caps = load_captions("test_2016", root=root)
    if len(caps[0]) != TASK2_PARTS["test_2016"]:
        raise DataError(f"multi30k task 2 test_2016: {len(caps[0])} images, expected 1,000; re-download it")
    passed.append("task2 test_2016: 5 x 1,000 English descriptions")
    return passed
