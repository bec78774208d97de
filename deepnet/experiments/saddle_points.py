"""saddle_points: critical points of a net's cost are mostly saddles, and their cost rises with their index.

Review, "Backpropagation to train multilayer architectures": "poor local minima are rarely a
problem with large networks. Regardless of the initial conditions, the system nearly always
reaches solutions of very similar quality. Recent theoretical and empirical results strongly
suggest that local minima are not a serious issue in general. Instead, the landscape is
packed with a combinatorially large number of saddle points where the gradient is zero, and
the surface curves up in most dimensions and curves down in the remainder [...] saddle
points with only a few downward curving directions are present in very large numbers, but
almost all of them have very similar values of the objective function."

Method (after Dauphin et al. 2014, Fig. 1): a small net (one tanh hidden layer) on a small
real problem (scikit-learn's 8x8 digits averaged down to 4x4 pixels), cost E(w) = mean
cross-entropy + (lambda/2) ||w||^2 (the small L2 term keeps every critical point at finite
weights). Starting points are taken along SGD trajectories (several seeds, log-spaced steps).
From each, Newton-like steps look for a point where the gradient vanishes: Levenberg-
Marquardt on phi(w) = 0.5 ||grad E(w)||^2, whose Gauss-Newton step is

    dw = -(H^2 + mu I)^{-1} H g          (H: the exact Hessian of E, g: its gradient)

which becomes Newton's step -H^{-1} g as mu -> 0, and, like Newton's method, is attracted
to critical points of every index, saddles included. From the end of each SGD run,
saddle-free Newton (dw = -|H|^{-1} g, Dauphin et al.'s method, repelled by saddles) descends
to a minimum as well. A point counts as critical when ||g|| <= rel_tol * ||g at the start||
(rel_tol = 1e-6) within the iteration budget; starts that end elsewhere (at a minimum of
phi where g is not 0, or out of iterations) are counted and dropped.
At each one the full Hessian (computed in closed form, float64) is diagonalised; its
index is the fraction of negative eigenvalues. Points reached from several starts with the
same cost (within 1e-9) and index are one critical point (hidden-unit permutations and sign
flips give copies of the same point). The figure plots training error against index.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from deepnet.data import digits
from deepnet.errors import TrainingDiverged

NAME = "saddle_points"
CLAIM = ("Poor local minima are rare: the critical points of a net's cost are mostly saddle points, "
         "and the more downward directions a critical point has, the higher its error; minima all "
         "have similar, low error.")
SECTION = "Backpropagation to train multilayer architectures (local minima and saddle points)"
HEADLINE = ("Critical points are mostly saddles; minima are about as good", "index_error_correlation")
DATA = ["digits"]
# Dauphin et al. 2014 show the relation as a figure (training error vs index on MNIST and
# CIFAR-10), without a correlation coefficient: the claim is checked by the targets.
PAPER = {}


@dataclass
class Config:
    """saddle_points: critical points of a small tanh net on 4x4 digits, their index and their error."""

    hidden: int = 8  # tanh hidden units; range [1, 32]
    pool: int = 2  # average-pool the 8x8 digits by this factor (2: 4x4 = 16 inputs); range [1, 8]
    weight_decay: float = 3e-3  # lambda of the (lambda/2) ||w||^2 term of E; range [0, 10]
    trajectories: int = 4  # SGD runs (seeds) supplying starting points; range [1, 100]
    sgd_steps: int = 10000  # steps of each SGD run; range [1, 1000000]
    sgd_lr: float = 0.1  # its learning rate; range (0, 100]
    sgd_batch: int = 32  # its minibatch size; range [1, 100000]
    # starting points per run: step 0, then log-spaced from first_start to the end; range [1, 100]
    starts_per_trajectory: int = 10
    # the first log-spaced step (earlier points all lead to the same saddle near w = 0); range [1, 1000000]
    first_start: int = 50
    max_iter: int = 200  # Levenberg-Marquardt (and saddle-free Newton) iterations per start; range [1, 10000]
    rel_tol: float = 1e-6  # a point is critical when ||g|| <= rel_tol * ||g_start||; range (0, 1)
    seed: int = 0  # first SGD seed; range [0, 2147483647]


PROFILES = {
    "smoke": Config(hidden=4, trajectories=1, sgd_steps=300, starts_per_trajectory=3, max_iter=40),
    "quick": Config(),
    "full": Config(hidden=10, trajectories=10, sgd_steps=20000, starts_per_trajectory=14, max_iter=300),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"n_critical_points": {"op": ">=", "value": 10},
            "index_error_correlation": {"op": ">=", "value": 0.7}}


# ---------------------------------------------------------------------------------------------
# The net, its cost, gradient and exact Hessian


class SmallNet:
    """z = W2 tanh(W1 x + b1) + b2 on inputs X (N, D), labels Y (N,); parameters as one flat vector.

    w = [W1 (H, D), b1 (H,), W2 (K, H), b2 (K,)] flattened in that order (row-major).
    """

    def __init__(self, X, Y, hidden, num_classes, weight_decay):
        self.X, self.Y = X, Y
        self.N, self.D = X.shape
        self.H, self.K, self.lam = hidden, num_classes, weight_decay
        self.T = F.one_hot(Y, num_classes).double()  # (N, K) targets t
        self.shapes = [(self.H, self.D), (self.H,), (self.K, self.H), (self.K,)]
        self.P = sum(math.prod(s) for s in self.shapes)

    def unflatten(self, w):
        out, i = [], 0
        for s in self.shapes:
            n = math.prod(s)
            out.append(w[i:i + n].view(s))
            i += n
        return out

    def forward(self, w):
        W1, b1, W2, b2 = self.unflatten(w)
        h = torch.tanh(self.X @ W1.T + b1)  # y_1 = tanh(W1 x + b1): (N, H)
        z = h @ W2.T + b2  # class scores: (N, K)
        return h, z

    def cost(self, w):
        """E(w) = mean_n -log softmax(z_n)[y_n] + (lambda / 2) ||w||^2."""
        _, z = self.forward(w)
        return F.cross_entropy(z, self.Y) + 0.5 * self.lam * (w * w).sum()

    def error(self, w):
        """Training error: the fraction of training examples misclassified."""
        _, z = self.forward(w)
        return float((z.argmax(1) != self.Y).double().mean())

    def grad(self, w):
        """dE/dw by the backward pass of Figure 1d (flat, (P,))."""
        W1, b1, W2, b2 = self.unflatten(w)
        h, z = self.forward(w)
        N = self.N
        dz = (torch.softmax(z, 1) - self.T) / N  # dE/dz = (p - t) / N
        da = (dz @ W2) * (1 - h * h)  # dE/da_j = tanh'(a_j) sum_k w_jk dE/dz_k
        g = [da.T @ self.X, da.sum(0), dz.T @ h, dz.sum(0)]  # dE/dw_jk = y_j dE/dz_k
        return torch.cat([t.reshape(-1) for t in g]) + self.lam * w

    def hessian(self, w):
        """The exact Hessian d2E/dw2 (P, P) in closed form.

        With x~ = [x, 1], h~ = [h, 1], s = tanh' = 1 - h^2, S_n = diag(p_n) - p_n p_n^T, u_n = W2^T dE/dz_n:
          second layer:  d2E/dW2~[k,i] dW2~[l,i'] = sum_n S_n[k,l] h~_ni h~_ni'
          cross:         d2E/dW2~[k,i] dW1~[j,m]  = sum_n ((S_n W2)[k,j] h~_ni + [i=j] (p_n - t_n)_k) s_nj x~_nm
          first layer:   d2E/dW1~[j,m] dW1~[j',m'] = sum_n x~_nm x~_nm' (s_nj (W2^T S_n W2)[j,j'] s_nj'
                                                                    - 2 [j=j'] u_nj h_nj s_nj)
        (all divided by N), plus lambda I.
        """
        W1, b1, W2, b2 = self.unflatten(w)
        N, D, H, K = self.N, self.D, self.H, self.K
        h, z = self.forward(w)
        p = torch.softmax(z, 1)  # (N, K)
        s = 1 - h * h  # (N, H)
        one = torch.ones(N, 1, dtype=h.dtype)
        xt = torch.cat([self.X, one], 1)  # (N, D+1)
        ht = torch.cat([h, one], 1)  # (N, H+1)
        S = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (N, K, K)
        delta = p - self.T  # (N, K)
        SW2 = S @ W2  # (N, K, H)

        # second layer, indexed (k, i) with i over h~
        H22 = torch.einsum("nkl,ni,nj->kilj", S, ht, ht).reshape(K * (H + 1), K * (H + 1))
        # cross block, rows (k, i), columns (j, m) with m over x~
        A = SW2 * s[:, None, :]  # (N, K, H): (S_n W2)[k,j] s_nj
        H21 = torch.einsum("nkj,ni,nm->kijm", A, ht, xt)  # (K, H+1, H, D+1)
        diag = torch.einsum("nk,nj,nm->kjm", delta, s, xt)  # (K, H, D+1): the [i = j] term
        H21[:, torch.arange(H), torch.arange(H), :] += diag
        H21 = H21.reshape(K * (H + 1), H * (D + 1))
        # first layer, indexed (j, m)
        B = s[:, :, None] * (W2.T @ S @ W2) * s[:, None, :]  # (N, H, H)
        H11 = torch.einsum("njl,nm,nq->jmlq", B, xt, xt)  # (H, D+1, H, D+1)
        u = delta @ W2  # (N, H)
        d11 = torch.einsum("nj,nm,nq->jmq", -2 * u * h * s, xt, xt)  # (H, D+1, D+1)
        H11[torch.arange(H), :, torch.arange(H), :] += d11
        H11 = H11.reshape(H * (D + 1), H * (D + 1))

        # reorder from the blocks [W1~ (j, m)], [W2~ (k, i)] to the flat order [W1, b1, W2, b2]
        order1 = torch.cat([(torch.arange(H)[:, None] * (D + 1) + torch.arange(D)).reshape(-1),
                            torch.arange(H) * (D + 1) + D])
        order2 = torch.cat([(torch.arange(K)[:, None] * (H + 1) + torch.arange(H)).reshape(-1),
                            torch.arange(K) * (H + 1) + H]) + H * (D + 1)
        full = torch.zeros(self.P, self.P, dtype=h.dtype)
        n1 = H * (D + 1)
        full[:n1, :n1] = H11
        full[n1:, n1:] = H22
        full[n1:, :n1] = H21
        full[:n1, n1:] = H21.T
        order = torch.cat([order1, order2])
        return full[order][:, order] / N + self.lam * torch.eye(self.P, dtype=h.dtype)

    def init(self, generator):
        """Glorot-uniform weights, zero biases (flat)."""
        a1, a2 = math.sqrt(6 / (self.D + self.H)), math.sqrt(6 / (self.H + self.K))
        W1 = (torch.rand(self.H, self.D, generator=generator, dtype=torch.float64) * 2 - 1) * a1
        W2 = (torch.rand(self.K, self.H, generator=generator, dtype=torch.float64) * 2 - 1) * a2
        return torch.cat([W1.reshape(-1), torch.zeros(self.H, dtype=torch.float64), W2.reshape(-1),
                          torch.zeros(self.K, dtype=torch.float64)])


# ---------------------------------------------------------------------------------------------
# Starting points and the search for critical points


def sgd_starts(net, cfg, seed):
    """Weights along one minibatch-SGD run, at log-spaced steps (step 0 first)."""
    g = torch.Generator().manual_seed(seed)
    w = net.init(g)
    first = min(cfg.first_start, cfg.sgd_steps)
    marks = set(np.unique(np.geomspace(first, cfg.sgd_steps, cfg.starts_per_trajectory - 1).astype(int)).tolist()) | {0}
    X, Y = net.X, net.Y
    starts = []
    for step in range(cfg.sgd_steps + 1):
        if step in marks:
            starts.append((step, w.clone()))
        if step == cfg.sgd_steps:
            break
        idx = torch.randint(0, net.N, (cfg.sgd_batch,), generator=g)
        sub = SmallNet(X[idx], Y[idx], net.H, net.K, net.lam)
        w = w - cfg.sgd_lr * sub.grad(w)  # w <- w - lr dE/dw on the minibatch
        if not torch.isfinite(w).all():
            raise TrainingDiverged(f"SGD (seed {seed}) diverged at step {step + 1}: lower --sgd-lr or --weight-decay")
    return starts


def find_critical_point(net, w, max_iter, rel_tol):
    """Levenberg-Marquardt on phi = 0.5 ||g||^2 with the exact Hessian.

    The damping mu follows the usual trust-region rule on rho = actual / predicted decrease of
    phi: divided by 5 when the model predicts well (rho > 0.75), doubled when it predicts
    badly (rho < 0.25), quadrupled (and the step refused) when phi does not decrease.
    Returns (w, ||g|| / ||g_start||, iterations, converged).
    """
    g = net.grad(w)
    g0 = float(g.norm())
    phi = 0.5 * float(g @ g)
    mu = None
    for it in range(1, max_iter + 1):
        lam, Q = torch.linalg.eigh(net.hessian(w))
        gq = Q.T @ g  # the gradient in the Hessian's eigenbasis
        if mu is None:
            mu = 1e-3 * float((lam * lam).max())
        for _ in range(40):
            step_q = -lam / (lam * lam + mu) * gq  # dw = -(H^2 + mu I)^-1 H g, in the eigenbasis
            predicted = phi - 0.5 * float(((gq + lam * step_q) ** 2).sum())  # decrease the Gauss-Newton model promises
            w_new = w + Q @ step_q
            g_new = net.grad(w_new)
            phi_new = 0.5 * float(g_new @ g_new)
            rho = (phi - phi_new) / max(predicted, 1e-300)
            if rho > 0:
                w, g, phi = w_new, g_new, phi_new
                mu = mu / 5 if rho > 0.75 else (mu * 2 if rho < 0.25 else mu)
                break
            mu *= 4
        else:
            return w, float(g.norm()) / g0, it, False
        if float(g.norm()) <= rel_tol * g0:
            return w, float(g.norm()) / g0, it, True
    return w, float(g.norm()) / g0, max_iter, False


def descend_to_minimum(net, w, max_iter, rel_tol):
    """Saddle-free Newton (Dauphin et al. 2014): dw = -|H|^-1 g, with |H| = Q |Lambda| Q^T, halved until E falls.

    Negative-curvature directions are followed downhill, so saddles repel it: from the end of
    an SGD run it settles in a minimum. Returns (w, ||g|| / ||g_start||, iterations, converged).
    """
    g = net.grad(w)
    g0 = float(g.norm())
    E = float(net.cost(w))
    for it in range(1, max_iter + 1):
        lam, Q = torch.linalg.eigh(net.hessian(w))
        step = -Q @ ((Q.T @ g) / (lam.abs() + 1e-12 * float(lam.abs().max())))  # dw = -|H|^-1 g
        for _ in range(50):
            w_new = w + step
            E_new = float(net.cost(w_new))
            if E_new < E:
                break
            step = step / 2
        else:
            return w, float(g.norm()) / g0, it, False
        w, E = w_new, E_new
        g = net.grad(w)
        if float(g.norm()) <= rel_tol * g0:
            return w, float(g.norm()) / g0, it, True
    return w, float(g.norm()) / g0, max_iter, False


# ---------------------------------------------------------------------------------------------


def load_inputs(pool):
    """Digits' training part averaged down by `pool` (8x8 -> 4x4 for 2), pixels in [0, 1], float64."""
    d = digits.load(seed=0)
    x = d.train.x.double() / 255  # (N, 1, 8, 8)
    if pool > 1:
        x = F.avg_pool2d(x, pool)  # (N, 1, 8/pool, 8/pool)
    return x.flatten(1), d.train.y  # (N, D)


def run(cfg, out_dir, profile):
    X, Y = load_inputs(cfg.pool)
    net = SmallNet(X, Y, cfg.hidden, 10, cfg.weight_decay)
    found, tried = [], []
    seeds = [cfg.seed + i for i in range(cfg.trajectories)]
    for seed in seeds:
        starts = sgd_starts(net, cfg, seed)
        # Newton-like search from every starting point; saddle-free Newton from the last one
        jobs = [(step, w0, find_critical_point) for step, w0 in starts]
        jobs.append((cfg.sgd_steps, starts[-1][1], descend_to_minimum))
        for step, w0, search in jobs:
            w, rel, iters, ok = search(net, w0, cfg.max_iter, cfg.rel_tol)
            tried.append({"seed": seed, "step": step, "converged": ok, "iterations": iters, "rel_grad": rel,
                          "method": search.__name__, "start_error": net.error(w0)})
            if not ok:
                continue
            eig = torch.linalg.eigvalsh(net.hessian(w))
            found.append({"seed": seed, "step": step, "cost": float(net.cost(w)), "error": net.error(w),
                          "index": float((eig < 0).double().mean()), "n_negative": int((eig < 0).sum()),
                          "min_abs_eig": float(eig.abs().min()), "eig": eig.numpy(), "iterations": iters,
                          "method": search.__name__})

    # one entry per distinct critical point: same cost (1e-9) and same number of negative eigenvalues
    distinct = []
    for f in sorted(found, key=lambda f: f["cost"]):
        if not any(abs(f["cost"] - d["cost"]) <= 1e-9 * max(1.0, abs(d["cost"])) and f["n_negative"] == d["n_negative"]
                   for d in distinct):
            distinct.append(f)
    index = np.array([d["index"] for d in distinct])
    error = np.array([d["error"] for d in distinct])
    cost = np.array([d["cost"] for d in distinct])

    def corr(a, b):
        return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else 0.0

    minima = [d for d in distinct if d["n_negative"] == 0]
    metrics = {
        "n_starts": len(tried),
        "n_converged": len(found),
        "n_critical_points": len(distinct),
        "n_minima": len(minima),
        "n_saddles": len(distinct) - len(minima),
        "index_error_correlation": corr(index, error),
        "index_cost_correlation": corr(index, cost),
        "minima_error_mean": float(np.mean([d["error"] for d in minima])) if minima else 1.0,
        "minima_error_range": float(np.ptp([d["error"] for d in minima])) if minima else 0.0,
        "saddles_error_mean": float(np.mean([d["error"] for d in distinct if d["n_negative"] > 0]))
        if len(distinct) > len(minima) else 1.0,
        "max_index": float(index.max()) if len(index) else 0.0,
        "parameters": net.P,
        "n_train": net.N,
    }
    series = {
        "error_vs_index": [[float(i), float(e)] for i, e in zip(index, error)],
        "cost_vs_index": [[float(i), float(c)] for i, c in zip(index, cost)],
        "converged_vs_start_step": [[t["step"], float(t["converged"])] for t in tried],
        "iterations_vs_start_step": [[t["step"], t["iterations"]] for t in tried],
    }
    _plot(distinct, metrics, cfg, net, out_dir / "saddle_points.png")
    return {"metrics": metrics, "series": series, "seeds": seeds, "artifacts": ["saddle_points.png"],
            "device": "cpu"}


def _plot(distinct, m, cfg, net, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.3))
    if distinct:
        idx = np.array([d["index"] for d in distinct])
        err = np.array([d["error"] for d in distinct])
        minimum = idx == 0
        a.scatter(idx[~minimum], err[~minimum] * 100, s=22, color="tab:red", label="saddle points")
        a.scatter(idx[minimum], err[minimum] * 100, s=30, color="tab:blue", marker="s", label="minima (index 0)")
        a.legend(fontsize=8)
        for d in distinct[:: max(1, len(distinct) // 6)]:
            b.plot(np.sort(d["eig"]), lw=1, label=f"index {d['index']:.3f}, error {d['error'] * 100:.1f}%")
        b.set_yscale("symlog", linthresh=1e-4)
        b.axhline(0, color="k", lw=0.6)
        b.legend(fontsize=7)
    a.set(xlabel="index: fraction of negative Hessian eigenvalues", ylabel="training error (%)",
          title=f"{m['n_critical_points']} critical points (from {m['n_starts']} starts): "
                f"correlation {m['index_error_correlation']:.2f}")
    b.set(xlabel="eigenvalue rank", ylabel="Hessian eigenvalue (symlog)",
          title=f"spectra of some critical points ({net.P} parameters)")
    for ax in (a, b):
        ax.title.set_fontsize(9)
    fig.suptitle(f"tanh net 16-{cfg.hidden}-10 on 4x4 digits ({net.N} examples), E = cross-entropy + "
                 f"{cfg.weight_decay:g}/2 ||w||^2", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
