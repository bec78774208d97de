"""Choose a learning rate on validation with the first seed, then train further seeds with it.

Comparative claims need equal tuning effort for every model compared: each goes through
`rate_then_seeds` with the same grid and the same seeds, so each gets one run per rate on the
first seed and one run per further seed. Only validation scores choose; the test set is the
caller's to read, once per final run.
"""

import time
from dataclasses import dataclass
from typing import Any

from deepnet.errors import TrainingDiverged


@dataclass
class Sweep:
    """What `rate_then_seeds` did."""

    lr: float  # the rate the first seed chose on validation
    grid: list  # [[lr, validation score or None (diverged)], ...] of the first seed, in grid order
    tried: list  # train's second value for each rate of the grid (None: diverged)
    runs: list  # train's second value for each seed at the chosen rate (the first seed's is its grid run)


def rate_then_seeds(train, lrs, seeds, maximize=False, log=print, label=""):
    """train(lr, seeds[0]) for every lr of `lrs`; the best validation score's lr then trains the other seeds.

    train(lr, seed) -> (validation score, anything); a rate whose run raises TrainingDiverged
    loses (a rate too high for one model must not end the comparison), and ties go to the
    earlier rate of the grid. A further seed that diverges at the chosen rate is an error: the
    result would not be a mean over the seeds asked for. Each run is announced through `log`
    (`label` names the model) so that a logged `deepnet reproduce` can be followed.
    """
    def one(lr, seed, why):
        log(f"   {label + ': ' if label else ''}lr {lr:g}, seed {seed} ({why}) ...")
        t0 = time.perf_counter()
        score, out = train(lr, seed)
        log(f"   {label + ': ' if label else ''}lr {lr:g}, seed {seed}: validation {score:.4g} "
            f"({time.perf_counter() - t0:.1f} s)")
        return score, out

    grid, tried = [], []
    for lr in lrs:
        try:
            score, out = one(lr, seeds[0], f"rate {len(grid) + 1} of {len(lrs)}" if len(lrs) > 1 else "first seed")
        except TrainingDiverged as e:
            log(f"   {label + ': ' if label else ''}lr {lr:g} diverged: {e}")
            score, out = None, None
        grid.append([lr, score])
        tried.append(out)
    scored = [(s, i) for i, (_, s) in enumerate(grid) if s is not None]
    if not scored:
        raise TrainingDiverged(f"every learning rate of {list(lrs)} diverged")
    best = max(scored, key=lambda p: (p[0] if maximize else -p[0], -p[1]))[1]
    lr = grid[best][0]
    runs: list[Any] = [tried[best]] + [one(lr, seed, f"seed {i + 2} of {len(seeds)}")[1]
                                       for i, seed in enumerate(seeds[1:])]
    return Sweep(lr=lr, grid=grid, tried=tried, runs=runs)
