"""Train all K members of an ensemble at once, on stacked weights.

Each member has its own data, loss and optimiser state; stacking only shares the work: one
batched matmul per layer for all members, one backward pass for the sum of their losses
(member k's parameters receive exactly member k's gradient). A member stops when it reaches
the tolerance, and is frozen from then on; a member whose loss becomes NaN or inf is frozen
and reported as diverged.

Stopping rule: the *excess* train loss (loss minus its minimum) falls below ``tol`` times
its initial value. For the linear network with squared loss the minimum is known exactly
(least squares); for other models it is taken as 0, so they converge only by interpolating.

Two engines give the same iterates:

- ``train_linear_gd``: full-batch gradient descent on the linear network with squared loss.
  With ``C = X^T X / N`` and ``R = X^T Y / N`` precomputed, a step costs O(K H D^2)
  whatever N is (the Methods page of the book). It runs in float64: its cost does not depend on N,
  and float32 cannot resolve an excess loss below about 1e-7 of the total.
- ``train_backprop``: any model, loss and optimiser (GD, minibatch SGD, Adam), by backpropagation
  written out (``models.gradients``).

A third trains any model with squared loss to convergence: ``train_levenberg_marquardt``,
full-batch Levenberg-Marquardt on every member's own Jacobian (``models.jacobian``, or its
normal equations from the layers' structure, ``models.normal_equations``), linearised again
only after a step it accepted. It also
stops a member at a stationary point that does not interpolate (``LM_GTOL``, ``LM_FTOL``,
``LM_XTOL``, the criteria of MINPACK's ``lmder``), so that above the interpolation threshold
"converged" means "at a minimum of the training loss", not "out of steps".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from scipy.linalg import lapack

from .models import (Architecture, gradients, has_structured_normal_equations, jacobian, layer_outputs,
                     normal_equations, row_grams)

OPTIMIZERS = ("gd", "sgd", "adam", "lm")
LOSSES = ("mse", "cross_entropy")
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults
_SYNC_EVERY = 25  # steps between checks whether every member has stopped (a host sync)


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed buffers for reuse instead of returning them to the OS.

    A training step allocates and frees the same few large tensors thousands of times. By
    default glibc hands every buffer above 128 KiB back to the OS when it is freed and takes
    it again, page by page, when the next step writes into it; for a stack of a few hundred
    small networks those page faults cost about a third of the step (benchmarks/stacking.py).
    Raising the mmap and trim thresholds keeps the memory in the heap, at the cost of holding
    on to the peak footprint. Returns whether it was applied (only glibc has ``mallopt``).
    """
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return all(mallopt(option, value) == 1 for option, value in
               ((M_MMAP_THRESHOLD, 32 * 2**20), (M_TRIM_THRESHOLD, 2**30), (M_TOP_PAD, 64 * 2**20)))


@dataclass(frozen=True)
class TrainingReport:
    """Per member: updates applied, final train loss, and how training ended."""

    steps: np.ndarray  # (K,) int
    train_loss: np.ndarray  # (K,) final value of the training objective, NaN if diverged
    converged: np.ndarray  # (K,) bool: excess loss below tol x its initial value
    diverged: np.ndarray  # (K,) bool: the loss became NaN or inf


def _per_member(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a (K,) tensor against a (K, ...) parameter."""
    return value.view(-1, *([1] * (like.dim() - 1)))


class _Tracker:
    """Which members still train, when they stopped, and why.

    The loops work on the *work set*: the members not yet set aside, ``rows`` into the stack.
    Stopped members are frozen; once at most half of the work set's input groups (``group``
    members sharing one input matrix) still train, ``shrink`` sets the stopped groups aside,
    so a stack costs what its active members cost (a stack of a whole grid holds members that
    stop after ten steps next to members that run the budget).
    Members never interact, so setting some aside changes no other member's arithmetic.
    """

    def __init__(self, members: int, tol: float | torch.Tensor, device: torch.device, group: int = 1,
                 sync_every: int = _SYNC_EVERY):
        self.group = group  # members that share their inputs leave the work set together
        self.sync_every = sync_every
        self.rows = torch.arange(members, device=device)
        self.tol = torch.as_tensor(tol, dtype=torch.float64, device=device).expand(members).clone()
        self.active = torch.ones(members, dtype=torch.bool, device=device)
        self.converged = torch.zeros_like(self.active)
        self.diverged = torch.zeros_like(self.active)
        self.steps = torch.zeros(members, dtype=torch.long, device=device)
        self.threshold = None  # tol x the initial excess loss, set by the first convergence check
        self._final = {name: getattr(self, name).clone() for name in ("converged", "diverged", "steps")}

    def observe(self, excess: torch.Tensor, *, convergence: bool = True) -> None:
        """Record the excess loss of the work set's current parameters (before the next update).

        ``convergence=False`` only looks for divergence (a minibatch loss says nothing about
        convergence on the whole training set).
        """
        excess = excess.detach()
        if self.threshold is None and convergence:
            self.threshold = self.tol.to(excess.dtype) * excess
        bad = ~torch.isfinite(excess) & self.active
        done = (excess <= self.threshold) & self.active & ~bad if convergence else torch.zeros_like(bad)
        self.diverged |= bad
        self.converged |= done
        self.active &= ~(bad | done)

    def stationary(self, which: torch.Tensor) -> None:
        """Members at a minimum that does not interpolate: converged, and stopped."""
        done = which & self.active
        self.converged |= done
        self.active &= ~done

    def stepped(self) -> None:
        self.steps += self.active

    def at_sync(self, step: int) -> bool:
        return step % self.sync_every == 0

    def finished(self, step: int) -> bool:
        return self.at_sync(step) and not bool(self.active.any())

    def _live_groups(self) -> torch.Tensor:
        return self.active.view(-1, self.group).any(dim=1)

    def worth_shrinking(self, step: int) -> bool:
        """At a sync step: at most half of the work set's groups still train (and some does)."""
        if not self.at_sync(step):
            return False
        live = self._live_groups()
        kept = int(live.sum())
        return 0 < kept and 2 * kept <= len(live)

    def shrink(self) -> torch.Tensor:
        """Set the groups whose members all stopped aside; return the mask of the work rows
        kept (the caller shrinks its own per-member tensors with it, after writing them back)."""
        keep = self._live_groups().repeat_interleave(self.group)
        self._set_aside(~keep)
        for name in ("rows", "tol", "active", "converged", "diverged", "steps", "threshold"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value[keep])
        return keep

    def _set_aside(self, which: torch.Tensor) -> None:
        rows = self.rows[which]
        for name, final in self._final.items():
            final[rows] = getattr(self, name)[which]

    def report(self, final_loss: torch.Tensor) -> TrainingReport:
        """The whole stack's report; ``final_loss`` (K,) is every member's final loss."""
        self._set_aside(torch.ones_like(self.active))
        converged, diverged, steps = (self._final[n].cpu().numpy() for n in ("converged", "diverged", "steps"))
        loss = final_loss.detach().double().cpu().numpy()
        diverged = diverged | ~np.isfinite(loss)
        return TrainingReport(steps, np.where(diverged, np.nan, loss), converged & ~diverged, diverged)


def _write_back(full: list[torch.Tensor], work: list[torch.Tensor], rows: torch.Tensor) -> None:
    """Copy the work set's members into the whole stack's tensors."""
    for f, w in zip(full, work):
        f[rows] = w.detach().to(f.dtype)


# --- linear network, gradient descent, squared loss --------------------------------------


def _groups(t: torch.Tensor, groups: int) -> torch.Tensor:
    """(K, A, C) per member -> (G, A, m C): the columns of each group's m members side by side."""
    k, a, c = t.shape
    return t.view(groups, k // groups, a, c).permute(0, 2, 1, 3).reshape(groups, a, -1)


def _members(t: torch.Tensor, members: int) -> torch.Tensor:
    """The inverse of ``_groups``: (G, D, m C) -> (K, D, C)."""
    groups, d, width = t.shape
    m = members // groups
    return t.view(groups, d, m, width // m).permute(0, 2, 1, 3).reshape(members, d, width // m)


def linear_gd_learning_rates(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A stable step size per member, ``1 / (lambda_max(C) ||b+||)``.

    ``x`` (K, N, D), or (G, N, D) shared by groups of consecutive members; ``y`` (K, N) or
    (K, N, C). At balance the loss's curvature in (W1, W2) is about ``2 ||b|| lambda_max(C)``,
    with ``b`` the end-to-end vector it converges to, the minimum-norm solution ``b+ = X^+ y``.
    """
    k, groups = len(y), len(x)
    x64, y64 = x.double(), y.double().reshape(*y.shape[:2], -1)
    gram = torch.bmm(x64.transpose(1, 2), x64) / x.shape[1]
    lam_max = torch.linalg.eigvalsh(gram)[:, -1].repeat_interleave(k // groups)
    norm = torch.linalg.matrix_norm(_members(torch.linalg.pinv(x64) @ _groups(y64, groups), k))
    missing = ~(torch.isfinite(norm) & (norm > 0))
    if bool(missing.any()):  # labels all zero, or not finite (noise beyond float range: Experiment.snr refuses it)
        raise ValueError(f"lr='auto' needs a non-zero, finite least-squares solution X^+ y for every member; member(s) "
                         f"{torch.flatnonzero(missing).tolist()} have none: their labels are all zero or not finite "
                         "(check the snr and the data)")
    return 1.0 / (lam_max * norm)


def train_linear_gd(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, *, lr: torch.Tensor,
                    steps: int, tol: float | torch.Tensor) -> TrainingReport:
    """Full-batch GD on ``1/(2N) ||X W1^T W2^T - Y||^2`` per member, in place, in float64.

    ``x`` (K, N, D), or (G, N, D) shared by groups of consecutive members, ``y`` (K, N) or
    (K, N, C), ``lr`` (K,), ``tol`` a number or (K,). A group shares ``C = X^T X / N``, so its
    members' gradients ``C B - R`` are one product ``C [B_1 ... B_m]``. The excess loss is
    ``1/2 tr((B - B+)^T C (B - B+))`` with ``B+ = C^+ R``, computed as ``1/2 tr((B - B+)^T G)``
    from the gradient ``G``: no cancellation between large terms.
    """
    keep_freed_memory()
    full = [p.detach().double().clone() for p in params]
    w1, w2 = full
    k, n = len(w1), x.shape[1]
    x, y = x.double(), y.double().reshape(k, n, -1)
    c = torch.bmm(x.transpose(1, 2), x) / n  # (G, D, D)
    r = _members(torch.bmm(x.transpose(1, 2), _groups(y, len(x))) / n, k)  # (K, D, C)
    b_min_norm = _members(torch.linalg.pinv(c, hermitian=True) @ _groups(r, len(c)), k)
    lr = lr.double().view(-1, 1, 1)
    tracker = _Tracker(k, tol, w1.device, group=k // len(x))
    for step in range(steps + 1):
        b = torch.bmm(w1.transpose(1, 2), w2.transpose(1, 2))  # (K, D, C)
        g = _members(torch.bmm(c, _groups(b, len(c))), len(b)) - r
        tracker.observe(0.5 * ((b - b_min_norm) * g).sum(dim=(1, 2)))
        if step == steps or tracker.finished(step):
            break
        if tracker.worth_shrinking(step):
            _write_back(full, (w1, w2), tracker.rows)
            keep = tracker.shrink()
            c = c[keep.view(len(c), -1)[:, 0]]  # the kept groups' C
            w1, w2, g, r, b_min_norm, lr = (t[keep] for t in (w1, w2, g, r, b_min_norm, lr))
        grad_w2 = torch.bmm(w1, g).transpose(1, 2)  # (K, C, H)
        if g.shape[-1] == 1:  # one output: an outer product, written once instead of K tiny products
            grad_w1 = w2.transpose(1, 2) * g.transpose(1, 2)  # (K, H, D)
        else:
            grad_w1 = torch.bmm(w2.transpose(1, 2), g.transpose(1, 2))
        step_size = lr * tracker.active.view(-1, 1, 1)  # 0 freezes a stopped member
        w1 = w1 - grad_w1.mul_(step_size)
        w2 = w2 - grad_w2.mul_(step_size)
        tracker.stepped()
    _write_back(full, (w1, w2), tracker.rows)
    for p, new in zip(params, full):
        p.copy_(new.to(p.dtype))
    b = torch.bmm(full[0].transpose(1, 2), full[1].transpose(1, 2))  # the final end-to-end maps
    residual = _members(torch.bmm(x, _groups(b, len(x))), k) - y
    return tracker.report(0.5 * residual.pow(2).sum(dim=(1, 2)) / n)


# --- any model, backpropagation ----------------------------------------------------------


def losses_and_output_gradients(out: torch.Tensor, y: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member training objective (K,), ``1/2`` mean squared error or mean cross-entropy,
    and its gradient with respect to ``out``.

    ``out`` (K, C, n), features first as ``models.layer_outputs`` computes it; ``y`` (K, n)
    targets (C = 1) or integer labels, or (K, n, C) targets.
    """
    n = out.shape[-1]
    if loss == "cross_entropy":
        logp = torch.log_softmax(out, dim=1)
        labels = y.long().unsqueeze(1)
        losses = -logp.gather(1, labels).squeeze(1).mean(dim=1)
        grad = logp.exp().scatter_add_(1, labels, torch.full(labels.shape, -1.0, dtype=out.dtype, device=out.device))
    else:
        grad = out - y.reshape(len(out), n, -1).transpose(1, 2).to(out.dtype)
        losses = 0.5 * grad.pow(2).sum(dim=1).mean(dim=1)
    return losses, grad / n  # not in place: member_losses may run under autograd


def member_losses(out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-member training objective (K,) of outputs ``out`` (K, n, C) (``models.forward``)."""
    return losses_and_output_gradients(out.transpose(1, 2), y, loss)[0]


def _batches(n: int, batch_size: int | None, rngs: list[np.random.Generator], device) -> "iter":
    """Endless per-member minibatch indices (K, B): each member reshuffles each epoch."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    while True:
        orders = np.stack([rng.permutation(n) for rng in rngs])
        for start in range(0, n - batch_size + 1, batch_size):
            yield torch.as_tensor(orders[:, start:start + batch_size], device=device)


@torch.no_grad()  # gradients are written out (models.gradients); nothing needs a graph
def train_backprop(arch: Architecture, params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, *,
                   loss: str, optimizer: str, lr: torch.Tensor, steps: int, tol: float | torch.Tensor,
                   weight_decay: float = 0.0, batch_size: int | None = None,
                   batch_rngs: list[np.random.Generator] | None = None) -> TrainingReport:
    """Train every member in place with GD (full batch), SGD or Adam (minibatches or full).

    ``x`` (K, N, D) or, for full batches, (G, N, D): inputs shared by each of G groups of
    consecutive members (``models.layer_outputs``). ``lr`` (K,) (Adam takes one value for all),
    ``tol`` a number or (K,). Convergence is checked on the full training set: at every step
    for full-batch training (the loss comes with the gradient), once per epoch for minibatches
    (an extra forward pass, skipped when ``tol = 0``); divergence is checked on every step's loss.
    """
    keep_freed_memory()
    k, n = len(params[0]), x.shape[1]
    full_batch = batch_size is None or batch_size >= n
    if not full_batch and len(x) != k:  # each member draws its own minibatches
        x = x.repeat_interleave(k // len(x), dim=0)
    epoch = 1 if full_batch else n // batch_size
    tracker = _Tracker(k, tol, x.device, group=k // len(x))
    check_convergence = bool((tracker.tol > 0).any())
    work = [p.detach().clone() for p in params]  # the work set's parameters
    adam = _Adam(work, lr, weight_decay) if optimizer == "adam" else None
    batches = _batches(n, batch_size, batch_rngs or [], x.device)
    stack_x, stack_y = x, y  # x, y, lr shrink with the work set

    def losses_of(ps, xs, ys) -> torch.Tensor:
        return losses_and_output_gradients(layer_outputs(arch, ps, xs)[-1], ys, loss)[0]

    for step in range(steps + 1):
        if not full_batch and step % epoch == 0 and (check_convergence or step == 0):
            tracker.observe(losses_of(work, x, y))
        index = next(batches)  # every member's draw, so each member's sequence is its own
        if index is None:
            xb, yb = x, y
        else:
            index, members = index[tracker.rows], torch.arange(len(x), device=x.device).unsqueeze(1)
            xb, yb = x[members, index], y[members, index]
        outputs = layer_outputs(arch, work, xb)
        losses, grad_out = losses_and_output_gradients(outputs[-1], yb, loss)
        tracker.observe(losses, convergence=full_batch)
        if step == steps or tracker.finished(step):
            break
        grads = gradients(arch, work, outputs, grad_out)
        if tracker.worth_shrinking(step):
            _write_back(params, work, tracker.rows)
            keep = tracker.shrink()
            shrunk = [p[keep] for p in work]
            adam = adam.shrunk(shrunk, keep) if adam is not None else None
            x = x[keep.view(len(x), -1)[:, 0]]  # the kept groups' inputs
            work, grads, y, lr = shrunk, [g[keep] for g in grads], y[keep], lr[keep]
        if adam is None:
            _gradient_step(work, grads, lr * tracker.active, weight_decay)  # lr 0 freezes a member
        else:
            adam.step(grads, tracker.active)
        tracker.stepped()
    _write_back(params, work, tracker.rows)
    return tracker.report(losses_of(params, stack_x, stack_y))


def _gradient_step(params, grads, step_size: torch.Tensor, weight_decay: float) -> None:
    """``p -= step_size_k (g + weight_decay p)``, in place (g is a fresh tensor)."""
    for p, g in zip(params, grads):
        if weight_decay:
            g.add_(p, alpha=weight_decay)
        p.sub_(g.mul_(_per_member(step_size, p)))


class _Adam:
    """Adam on the stacked weights: elementwise, so every member gets its own Adam.

    It calls torch's fused Adam kernel (``torch._fused_adam_``, what ``torch.optim.Adam(...,
    fused=True)`` runs, so the iterates are the same bit for bit) without torch.optim's
    per-step bookkeeping, which cost more than the kernel itself on the book's small networks
    (about 130 of 145 us a step). The fused kernel is about 2.5x faster than the same update
    written as tensor operations (measured on 16 stacked 784-256-10 MLPs, benchmarks/training.py).
    """

    def __init__(self, params: list[torch.Tensor], lr: torch.Tensor | float, weight_decay: float,
                 state: tuple[list, list, list] | None = None):
        if isinstance(lr, torch.Tensor):
            if not bool((lr == lr[0]).all()):
                raise ValueError("Adam takes one learning rate for all members")
            lr = float(lr[0])
        self.params, self.lr, self.weight_decay = params, lr, weight_decay
        self.exp_avgs, self.exp_avg_sqs, self.counts = state or (
            [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params],
            [torch.zeros((), dtype=torch.float32, device=p.device) for p in params])

    def step(self, grads: list[torch.Tensor], active: torch.Tensor) -> None:
        """One update of the active members; stopped members keep their weights."""
        frozen = ~active
        kept = [p[frozen].clone() for p in self.params] if bool(frozen.any()) else None
        # a guard (models.gradients returns contiguous ones): torch 2.13's fused CPU Adam gives
        # wrong steps for a transposed gradient; tests/test_training.py checks Adam against its formula
        grads = [g.contiguous() for g in grads]
        torch._foreach_add_(self.counts, 1)
        torch._fused_adam_(self.params, grads, self.exp_avgs, self.exp_avg_sqs, [], self.counts, amsgrad=False,
                           lr=self.lr, beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], weight_decay=self.weight_decay,
                           eps=ADAM_EPS, maximize=False)
        if kept is not None:
            for p, old in zip(self.params, kept):
                p[frozen] = old

    def shrunk(self, params: list[torch.Tensor], keep: torch.Tensor) -> "_Adam":
        """The same Adam on the kept members' parameters ``params``, with their moments and step count."""
        state = ([m[keep] for m in self.exp_avgs], [v[keep] for v in self.exp_avg_sqs],
                 [c.clone() for c in self.counts])
        return _Adam(params, self.lr, self.weight_decay, state)


# --- any model, squared loss, Levenberg-Marquardt ----------------------------------------

# A member stops, converged, when its loss is below tol x its initial value (it interpolates),
# or at a minimum that does not interpolate: by MINPACK lmder's criteria (no parameter's
# Jacobian column has a cosine above LM_GTOL with the residual; a step lowered the loss, and
# was predicted to, by a relative LM_FTOL at most; the step is below LM_XTOL of the parameters'
# norm), or on a plateau: the loss fell by less than a relative LM_PLATEAU over the last
# LM_WINDOW iterations. The plateau is where saturating (tanh) units drift towards a minimum at
# infinite weights, lowering the loss by ever less; a ReLU network instead stops where a kink
# passes through a training point and no step lowers the loss (LM_XTOL).
LM_GTOL, LM_FTOL, LM_XTOL = 1e-8, 1e-12, 1e-12
LM_PLATEAU, LM_WINDOW = 1e-3, 50
LM_START_DAMPING = 1e-3  # times the largest diagonal entry of J^T J (Nielsen's tau)


def _flat(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.reshape(len(p), -1) for p in params], dim=1)


def _unflat(theta: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    sizes = [p[0].numel() for p in like]
    return [t.reshape(p.shape) for t, p in zip(torch.split(theta, sizes, dim=1), like)]


def _residuals(arch: Architecture, params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor):
    """Layer outputs and each member's residual (K, C n) scaled by 1/sqrt(n), so that the loss
    of ``losses_and_output_gradients`` (1/2 mean squared error) is half its squared norm."""
    outputs = layer_outputs(arch, params, x)
    out = outputs[-1]
    r = out - y.reshape(len(out), out.shape[-1], -1).transpose(1, 2)
    return outputs, r.reshape(len(out), -1) / out.shape[-1] ** 0.5


def _gram(jac: torch.Tensor) -> torch.Tensor:
    """Per member, the smaller of ``J J^T`` (fewer residuals than parameters: below the threshold)
    and ``J^T J``: the undamped system of ``_damped_step``."""
    return row_grams(jac if jac.shape[1] < jac.shape[2] else jac.transpose(1, 2))


def _cholesky_solve(system: torch.Tensor, rhs: torch.Tensor, which: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``system^-1 rhs`` per member (``system`` symmetric, overwritten), and whether it is positive
    definite (else the solution is 0). On the CPU one LAPACK call per member of ``which`` (the
    others are not solved): several times faster than torch's batched Cholesky for these sizes
    (``benchmarks/``)."""
    if system.device.type != "cpu":
        factor, info = torch.linalg.cholesky_ex(system)
        return torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1), info == 0
    matrices, vectors = system.numpy(), rhs.numpy()
    solution, solved = np.zeros_like(vectors), np.zeros(len(vectors), dtype=bool)
    for i in which.nonzero().flatten().tolist():
        factor, info = lapack.dpotrf(matrices[i], lower=1, overwrite_a=1)
        if info == 0:
            solution[i], solved[i] = lapack.dpotrs(factor, vectors[i], lower=1)[0], True
    return torch.from_numpy(solution), torch.from_numpy(solved)


class _Linearisation(NamedTuple):
    """Each member's residuals linearised at its parameters: its Jacobian (kept only for the
    kernel form of ``_damped_step``, else None), its ``_gram``, its gradient ``J^T r`` and the
    norms of its Jacobian's columns."""

    jac: torch.Tensor | None
    gram: torch.Tensor
    gradient: torch.Tensor
    column_norms: torch.Tensor

    def rows(self, which: torch.Tensor) -> "_Linearisation":
        return _Linearisation(*(None if t is None else t[which] for t in self))

    def updated(self, at: torch.Tensor, new: "_Linearisation") -> "_Linearisation":
        """This linearisation with the members ``at`` replaced by ``new``'s, in place."""
        for old, value in zip(self, new):
            if old is not None:
                old[at] = value
        return self


def _linearised(arch: Architecture, params: list[torch.Tensor], outputs: list[torch.Tensor],
                r: torch.Tensor) -> _Linearisation:
    """Every member's ``_Linearisation`` at ``params``, for the residuals ``r`` as ``_residuals``
    scales them; above the threshold of a one-hidden-layer network with several outputs without
    forming J (``models.normal_equations``: its sum over the samples, once instead of once per
    output, pays there; with one output it cost more than it saved, measured)."""
    scale = outputs[-1].shape[-1] ** -0.5
    if arch.n_out > 1 and r.shape[1] >= arch.n_parameters and has_structured_normal_equations(arch):
        gram, gradient = normal_equations(arch, params, outputs, r, scale)
        return _Linearisation(None, gram, gradient, gram.diagonal(dim1=1, dim2=2).sqrt())
    jac = jacobian(arch, params, outputs, scale=scale).flatten(1, 2)
    gram, kernel = _gram(jac), jac.shape[1] < jac.shape[2]
    column_norms = torch.linalg.vector_norm(jac, dim=1) if kernel else gram.diagonal(dim1=1, dim2=2).sqrt()
    return _Linearisation(jac if kernel else None, gram, _transposed_times(jac, r), column_norms)


def _damped_step(lin: _Linearisation, r: torch.Tensor, damping: torch.Tensor,
                 which: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The step ``-(J^T J + damping I)^-1 J^T r`` per member of ``which`` (the others may not be
    solved) and whether its solve succeeded, in the form of ``lin.gram``: the kernel form
    ``-J^T (J J^T + damping I)^-1 r`` when there are fewer residuals than parameters (``lin.jac``
    kept), else the normal equations."""
    system = lin.gram.clone()
    system.diagonal(dim1=1, dim2=2).add_(damping.unsqueeze(-1))
    kernel = lin.jac is not None
    solution, solved = _cholesky_solve(system, r if kernel else lin.gradient, which)
    return -(_transposed_times(lin.jac, solution) if kernel else solution), solved


def _chosen(accept: torch.Tensor, new: list[torch.Tensor], old: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per member, the new tensors where the step was accepted, else the old ones."""
    return [torch.where(_per_member(accept, a), a, b) for a, b in zip(new, old)]


def _transposed_times(jac: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``J^T v`` per member, (K, P), as a product and a sum: ``bmm`` takes another path for one
    member than for several, and a member's steps would then depend on the stack it trains in."""
    return (jac * v.unsqueeze(-1)).sum(dim=1)


@torch.no_grad()
def train_levenberg_marquardt(arch: Architecture, params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, *,
                              steps: int, tol: float | torch.Tensor, plateau: float = LM_PLATEAU) -> TrainingReport:
    """Levenberg-Marquardt on ``1/2`` mean squared error for every member, in place, in float64.

    ``x`` (K, N, D) or (G, N, D) shared by groups of consecutive members, ``y`` (K, N) targets
    or (K, N, C) one-hot targets, ``steps`` the most iterations (rejected trial steps count),
    ``tol`` a number or (K,), ``plateau`` the relative fall of the loss over LM_WINDOW
    iterations below which a member that does not interpolate stops. Each member keeps its own damping: it shrinks after a step that
    lowers the loss as the linear model predicted and grows after one that does not (Nielsen's
    rule), so a member moves between Gauss-Newton and short gradient steps on its own.
    """
    keep_freed_memory()
    k = len(params[0])
    full = [p.detach().double().clone() for p in params]
    x, y = x.double(), y.double()
    stack_x, stack_y = x, y  # x and y shrink with the work set
    tracker = _Tracker(k, tol, x.device, group=k // len(x), sync_every=1)
    work = [p.clone() for p in full]  # the work set's parameters
    damping, growth = None, torch.full((k,), 2.0, dtype=torch.float64, device=x.device)
    history = []  # the work set's losses of the last LM_WINDOW iterations
    outputs, r = _residuals(arch, work, x, y)  # then carried over from each accepted trial
    lin = _linearised(arch, work, outputs, r)
    moved = torch.zeros(k, dtype=torch.bool, device=x.device)  # members whose linearisation is out of date
    for step in range(steps + 1):
        loss = 0.5 * r.pow(2).sum(dim=1)
        tracker.observe(loss)  # interpolation: below tol x the initial loss
        history = (history + [loss])[-LM_WINDOW - 1:]
        if len(history) > LM_WINDOW:
            tracker.stationary(history[0] - loss <= plateau * loss)
        if moved.any():  # a rejected or stopped member kept its parameters, hence its linearisation
            at = moved.nonzero().squeeze(1)
            inputs = outputs[0].repeat_interleave(len(work[0]) // len(outputs[0]), dim=0)[at]
            lin = lin.updated(at, _linearised(arch, [p[at] for p in work], [inputs] + [o[at] for o in outputs[1:]],
                                              r[at]))
        column_norms = lin.column_norms
        cosine = (lin.gradient.abs() / (column_norms * r.norm(dim=1, keepdim=True))).nan_to_num(0.0).amax(dim=1)
        tracker.stationary(cosine <= LM_GTOL)
        if damping is None:
            damping = LM_START_DAMPING * column_norms.pow(2).amax(dim=1)
        if step == steps or tracker.finished(step):
            break
        if tracker.worth_shrinking(step):
            _write_back(full, work, tracker.rows)
            keep = tracker.shrink()
            x = x[keep.view(len(x), -1)[:, 0]]
            work, y, r, loss, lin = [p[keep] for p in work], y[keep], r[keep], loss[keep], lin.rows(keep)
            outputs = [x.transpose(1, 2)] + [o[keep] for o in outputs[1:]]
            history = [h[keep] for h in history]
            damping, growth, moved = damping[keep], growth[keep], moved[keep]
        theta = _flat(work)
        delta, solved = _damped_step(lin, r, damping, tracker.active)
        trial = _unflat(theta + delta, work)
        trial_outputs, trial_r = _residuals(arch, trial, x, y)
        new_loss = 0.5 * trial_r.pow(2).sum(dim=1)
        predicted = 0.5 * (damping * delta.pow(2).sum(dim=1) - (lin.gradient * delta).sum(dim=1))
        actual = loss - new_loss
        ratio = actual / predicted
        accept = solved & torch.isfinite(new_loss) & (ratio > 0) & tracker.active
        tracker.stationary(accept & (actual <= LM_FTOL * loss) & (predicted <= LM_FTOL * loss) & (ratio <= 2))
        tracker.stationary(solved & (delta.norm(dim=1) <= LM_XTOL * theta.norm(dim=1)))
        lower = torch.clamp(1 - (2 * ratio - 1) ** 3, min=1 / 3).nan_to_num(1 / 3)  # Nielsen's factor
        damping = torch.where(accept, damping * lower, damping * growth)
        growth = torch.where(accept, torch.full_like(growth, 2.0), growth * 2)
        work, outputs[1:], (r,) = (_chosen(accept, new, old) for new, old in
                                   ((trial, work), (trial_outputs[1:], outputs[1:]), ((trial_r,), (r,))))
        moved = accept
        tracker.stepped()
    _write_back(full, work, tracker.rows)
    for p, new in zip(params, full):
        p.copy_(new.to(p.dtype))
    return tracker.report(0.5 * _residuals(arch, full, stack_x, stack_y)[1].pow(2).sum(dim=1))
