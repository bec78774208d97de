"""CMU AN4 (census) speech as Sphinx MFCC features: 948 train + 130 test utterances.

Under a data root: `an4/` (feat/, etc/, LICENSE, README). Only where it comes from is here so far
(`deepnet data fetch an4`, from a mirror); its Sphinx .mfc reader will live beside it.
"""

NAME = "an4"

# Where the files come from and how a download is checked (the format: fetching.py).
# CMU publishes the audio (an4_sphere.tar.gz, 64 MB); deepnet reads the Sphinx MFCC features, for
#   which we know no canonical download: mirror only. Checked by a tree_sha256 computed by us over
#   the copy from a public repository (1,090 files: feat/, etc/, LICENSE, README).
DOWNLOAD = {
    "description": "CMU AN4 (census) speech as Sphinx MFCC features: 948 train + 130 test utterances",
    "licence": "CMU BSD-style, free for any purpose (an4/LICENSE)",
    "homepage": "http://www.speech.cs.cmu.edu/databases/an4/",
    "checksums": "no published checksum; the whole tree checked by a tree SHA-256 computed by us over a copy "
                 "from a public repository",
    "options": [
        {"label": "Sphinx feature tree (mirror only)", "items": [
            {"tree": "an4", "checks": [
                {"dir": ".", "files": 1090,
                 "sha256": "4e3e5e8c0d1410b25fb74355b3156c1c57434d7438b3527aef415ef2ccb94b2f"}]},
        ]},
    ],
}
