"""The Gaussian-kernel support vector machine: the review's example of a shallow kernel method.

Review, "Supervised learning": shallow classifiers need a good feature extractor; one can use
generic non-linear features, "as with kernel methods", but generic features such as those of
the Gaussian kernel do not let the learner generalise well far from the training examples.

The decision between classes i and j is a weighted sum of Gaussian kernels centred on the
training examples kept as support vectors (Cortes & Vapnik 1995):

    f_ij(x) = sum_s alpha_s^{ij} y_s exp(-gamma ||x - x_s||^2) + b_ij

and the class is chosen by one-vs-one votes: f_ij(x) > 0 is a vote for i, else for j; the
class with the most votes wins (ties go to the lower class id). The weights are found by
scikit-learn's SVC (libsvm's SMO solver), not by gradient descent, so this system brings its
own `fit`. The trained machine is then exported into this torch module (support vectors,
dual coefficients, intercepts, gamma as tensors): the run folder follows the same contract as
every other system, `deepnet eval` and `load_run` use it, and its votes equal SVC.predict.
LeCun et al. 1998 list 1.4% MNIST test error for an SVM with a Gaussian kernel.
"""

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from deepnet.core.config import config_from_dict
from deepnet.core.run import Run
from deepnet.core.runtime import pick_device, seed_everything
from deepnet.core.train import TrainConfig, evaluate
from deepnet.data.common import ArrayDataset
from deepnet.errors import CheckpointError, ConfigError


# Datasets `deepnet train kernel_svm` accepts (image classification sets with train/validation/test parts).
TRAINS_ON = ("digits", "mnist", "cifar10")
# its own `fit` below (one libsvm solve) on the data as loaded (the interface: deepnet/systems/__init__.py)
TRAIN_CONFIG = TrainConfig()  # only its device, seed and eval_batch_size matter: libsvm solves the rest
load_data = prepare_data = evaluate_part = None

@dataclass
class Config:
    """A soft-margin SVM with the Gaussian (RBF) kernel, one-vs-one for several classes."""

    C: float = 10.0  # soft-margin penalty: the cost of each unit of margin violation; range (0, 1e6]
    # kernel width in exp(-gamma ||x - x'||^2); 0: scikit-learn's "scale", 1 / (D var(x)); range [0, 1e6]
    gamma: float = 0.0
    # train on at most this many training examples, drawn by --seed (0: all); SMO time grows ~ n^2; range [0, 1e9]
    max_train: int = 10000
    cache_mb: float = 500.0  # libsvm's kernel cache in MB; range (0, 65536]


class KernelSVM(nn.Module):
    """Input (B, ...) pixels or features -> (B, num_classes) one-vs-one vote counts.

    Buffers (empty until trained or loaded; `_load_from_state_dict` takes their shapes from
    the checkpoint): support_vectors (S, D) in the input dtype (uint8 pixels stay uint8),
    dual_coef (K-1, S) = alpha y, intercept (K(K-1)/2,) = b in libsvm's pair order,
    n_support (K,), gamma (), scale () (1/255 for uint8 pixels, else 1).
    """

    def __init__(self, in_features, num_classes):
        super().__init__()
        self.in_features, self.num_classes = in_features, num_classes
        K = num_classes
        self.register_buffer("support_vectors", torch.zeros(0, in_features, dtype=torch.uint8))
        self.register_buffer("dual_coef", torch.zeros(K - 1, 0, dtype=torch.float64))
        self.register_buffer("intercept", torch.zeros(K * (K - 1) // 2, dtype=torch.float64))
        self.register_buffer("n_support", torch.zeros(K, dtype=torch.int64))
        self.register_buffer("gamma", torch.zeros((), dtype=torch.float64))
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))
        # the class pairs (i, j), i < j, in libsvm's order: (0,1), (0,2), ..., (1,2), ...
        pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
        self.register_buffer("pair_i", torch.tensor([p[0] for p in pairs], dtype=torch.int64), persistent=False)
        self.register_buffer("pair_j", torch.tensor([p[1] for p in pairs], dtype=torch.int64), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the number of support vectors is known only once trained: take the shapes (and the
        # dtype of the stored inputs) from the checkpoint
        for name in ("support_vectors", "dual_coef"):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.dim() == 2:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def set_from_svc(self, svc, input_dtype):
        """Copy a fitted sklearn.svm.SVC (classes 0..K-1, Gaussian kernel) into the buffers."""
        if list(svc.classes_) != list(range(self.num_classes)):
            raise ConfigError(f"the training examples hold classes {[int(c) for c in svc.classes_]}, not all of "
                              f"0..{self.num_classes - 1}: raise --max-train")
        sv = torch.from_numpy(np.asarray(svc.support_vectors_))  # (S, D) float64, as SVC saw them
        scale = 1 / 255 if input_dtype == torch.uint8 else 1.0
        if input_dtype == torch.uint8:
            sv = torch.round(sv / scale).to(torch.uint8)  # the pixel values themselves: 8x smaller
        self.support_vectors = sv
        # libsvm's own signs: sklearn negates its public dual_coef_/intercept_ for two classes
        self.dual_coef = torch.from_numpy(np.asarray(svc._dual_coef_, dtype=np.float64)).clone()  # (K-1, S)
        self.intercept = torch.from_numpy(np.asarray(svc._intercept_, dtype=np.float64)).clone()  # (K(K-1)/2,)
        self.n_support = torch.from_numpy(np.asarray(svc.n_support_, dtype=np.int64)).clone()  # (K,)
        self.gamma = torch.tensor(float(svc._gamma), dtype=torch.float64)
        self.scale = torch.tensor(scale, dtype=torch.float64)

    def _pair_coefficients(self):
        """A (S, P): A[s, p] = weight of support vector s in the decision f_p of pair p = (i, j).

        libsvm stores, for a support vector of class c, its coefficient against class d in
        dual_coef[d - 1] when d > c and dual_coef[d] when d < c.
        """
        S = self.support_vectors.shape[0]
        owner = torch.repeat_interleave(torch.arange(self.num_classes, device=self.n_support.device),
                                        self.n_support)  # (S,) class of each support vector
        A = torch.zeros(S, len(self.pair_i), dtype=torch.float64, device=self.dual_coef.device)
        for p, (i, j) in enumerate(zip(self.pair_i.tolist(), self.pair_j.tolist())):
            in_i, in_j = owner == i, owner == j
            A[in_i, p] = self.dual_coef[j - 1, in_i]  # support vectors of class i, against j
            A[in_j, p] = self.dual_coef[i, in_j]  # support vectors of class j, against i
        return A

    def decision(self, x):
        """f_ij(x) for every pair (B, K(K-1)/2), in float64 as libsvm computes it."""
        x = x.flatten(1).double() * self.scale  # (B, ...) -> (B, D), pixels to [0, 1]
        sv = self.support_vectors.double() * self.scale  # (S, D)
        d2 = (x * x).sum(1, keepdim=True) + (sv * sv).sum(1) - 2 * x @ sv.T  # ||x - x_s||^2: (B, S)
        k = torch.exp(-self.gamma * d2.clamp_min(0))  # exp(-gamma ||x - x_s||^2)
        return k @ self._pair_coefficients() + self.intercept  # f_ij = sum_s alpha_s y_s k_s + b_ij

    def forward(self, x, y=None):
        """Votes (B, K) and, given targets, the mean hinge loss of the pairs that involve the target.

        loss = mean over examples and over the K-1 pairs (i, j) holding y of max(0, 1 - s f_ij(x)),
        s = +1 when y = i and -1 when y = j: the data term SVM training minimises.
        """
        if self.support_vectors.shape[0] == 0:
            raise CheckpointError("this SVM holds no support vectors: train it first (deepnet train kernel_svm ...)")
        f = self.decision(x)  # (B, P)
        wins_i = (f > 0).double()
        votes = torch.zeros(len(f), self.num_classes, dtype=torch.float64, device=f.device)
        votes.index_add_(1, self.pair_i, wins_i)  # f_ij > 0: a vote for i
        votes.index_add_(1, self.pair_j, 1 - wins_i)  # otherwise: a vote for j
        if y is None:
            return votes, None
        s = (self.pair_i == y[:, None]).double() - (self.pair_j == y[:, None]).double()  # (B, P): +1, -1 or 0
        hinge = torch.relu(1 - s * f) * (s != 0)
        loss = hinge.sum(1).mean() / (self.num_classes - 1)
        return votes, loss


def build(run_config):
    """An untrained SVM shaped for the run's data; the weights come from its checkpoint."""
    config_from_dict(Config, run_config["model"], "model config")  # refuse unknown keys early
    data = run_config["data"]
    return KernelSVM(math.prod(data["input_shape"]), data["num_classes"])


def training_subset(n, max_train, seed):
    """Indices of the training examples the SVM sees: all, or max_train drawn by seed."""
    if max_train <= 0 or max_train >= n:
        return torch.arange(n)
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:max_train].sort().values


def train_svc(model, x, y, cfg):
    """Fit libsvm's SMO on examples x (N, ...) with labels y (N,) and load the result into `model`.

    cfg: this file's Config. Returns the number of SMO iterations, summed over the class pairs.
    """
    from sklearn.svm import SVC

    if len(torch.unique(y)) < 2:  # libsvm needs two classes to separate
        raise ConfigError(f"the {len(y)} training example(s) hold fewer than two classes: raise --max-train")
    X = x.flatten(1).double().numpy()  # (N, ...) -> (N, D) float64, as libsvm wants
    if x.dtype == torch.uint8:
        X = X / 255
    svc = SVC(C=cfg.C, kernel="rbf", gamma="scale" if cfg.gamma == 0 else cfg.gamma, cache_size=cfg.cache_mb)
    svc.fit(X, y.numpy())
    model.set_from_svc(svc, x.dtype)
    return int(np.sum(svc.n_iter_))


def fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True):
    """Train with libsvm on (a subset of) data.train, validate, test once; same return as core.train.fit.

    cfg is the engine's TrainConfig: only seed (the subset), device and eval_batch_size matter
    here. The run folder (core/run.py) holds config.json, checkpoint.pt and best.pt (the same
    machine: there is nothing to choose between epochs), metrics.jsonl. The solve is one call
    into libsvm with no state to save part-way: a run stopped during it leaves no folder and is
    started again; a finished run has nothing to resume.
    """
    if augment is not None:
        raise ConfigError("a kernel SVM is solved once, not trained on minibatches: drop --augment")
    run_config = {**run_config, "train": asdict(cfg)}
    mcfg = config_from_dict(Config, run_config["model"], "model config")
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    t_start = time.perf_counter()

    def score(part, x, y):
        r = evaluate(model, ArrayDataset(x, y), device, cfg.eval_batch_size, amp=False)
        return {f"{part}_{k}": v for k, v in r.items()}

    with Run(run_dir, run_config, resume=resume) as run:  # resume: only a run that never finished gets here
        idx = training_subset(len(data.train), mcfg.max_train, cfg.seed)
        x, y = data.train.x[idx], data.train.y[idx]
        steps = train_svc(model, x, y, mcfg)  # SMO iterations, summed over the K(K-1)/2 pairs
        model.to(device)
        best = {"epoch": 1, "step": steps, **score("train", x, y), **score("val", data.val.x, data.val.y),
                "n_train": len(idx), "n_support": int(model.n_support.sum()), "gamma": float(model.gamma),
                "seconds": time.perf_counter() - t_start}
        run.log({"event": "epoch", **best})
        run.save_best(model=model, step=steps, epoch=1, metrics={"best": best})
        run.checkpoint(model=model, step=steps, epoch=1, metrics={"history": [best], "best": best}, finished="budget")
        result_test = None
        if test:  # the test set is read once per final model
            result_test = {k[len("test_"):]: v for k, v in score("test", data.test.x, data.test.y).items()}
            run.log({"event": "test", "step": steps, "best_epoch": 1,
                     **{f"test_{k}": v for k, v in result_test.items()}})
    return {"history": [best], "best": best, "test": result_test, "steps": steps,
            "seconds": time.perf_counter() - t_start, "stopped_early": False, "device": str(device),
            "run_dir": str(run.dir)}
