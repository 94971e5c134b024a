"""The linear network's alignment and test error, derived symbolically with SymPy.

The chapter on the linear network displays these steps; a test checks ``repalign.theory``
against their lambdified results. Notation: ``alpha = N/D``, ``S = ||beta*||^2 / sigma^2``
with ``||beta*|| = 1``, and ``x = |1 - alpha|`` the distance to the interpolation threshold.
Shared clean inputs, label noise, minimum-norm solutions, proportional limit (the Methods
page of the book): below the threshold ``E b1.b2 = alpha`` and
``E||b||^2 = alpha + sigma^2 alpha/(1 - alpha)``; above it ``E b1.b2 = 1`` and
``E||b||^2 = 1 + sigma^2/(alpha - 1)``.
"""

from __future__ import annotations

import sympy as sp

alpha, S, x = sp.symbols("alpha S x", positive=True)
sigma2 = 1 / S


def moments() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """(E b1.b2, E||b||^2) on each side of the threshold."""
    return {"below": (alpha, alpha + sigma2 * alpha / (1 - alpha)),
            "above": (sp.Integer(1), 1 + sigma2 / (alpha - 1))}


def cosines() -> dict[str, sp.Expr]:
    """The cosine between two members' end-to-end vectors, simplified, on each side."""
    return {side: sp.factor(sp.simplify(overlap / norm)) for side, (overlap, norm) in moments().items()}


def alignment_in_distance() -> sp.Expr:
    """A = cos^2 as a function of x = |1 - alpha| (both sides give the same function)."""
    below, above = cosines()["below"], cosines()["above"]
    from_below = sp.simplify(below.subs(alpha, 1 - x))
    from_above = sp.simplify(above.subs(alpha, 1 + x))
    if sp.simplify(from_below - from_above) != 0:
        raise AssertionError("the two sides do not give one function of |1 - alpha|")
    return sp.factor(from_below**2)


def snr_derivative() -> sp.Expr:
    """dA/dS, simplified: positive for every x > 0 (claim 1)."""
    return sp.factor(sp.diff(alignment_in_distance(), S))


def distance_derivative() -> sp.Expr:
    """dA/dx: positive for x > 0, so A grows with the distance to the threshold on both sides
    and is smallest, 0, at alpha = 1 (claim 2)."""
    return sp.factor(sp.diff(alignment_in_distance(), x))


def limits() -> dict[str, sp.Expr]:
    """A as N/D -> 0 (x -> 1), at the threshold (x -> 0), and as N/D -> infinity (x -> infinity)."""
    a = alignment_in_distance()
    return {"alpha -> 0": sp.limit(a, x, 1), "alpha -> 1": sp.limit(a, x, 0), "alpha -> oo": sp.limit(a, x, sp.oo)}


def test_errors() -> dict[str, sp.Expr]:
    """Excess test error E||b - beta*||^2 = E||b||^2 - 2 E b.beta* + 1 on each side."""
    below_norm, above_norm = moments()["below"][1], moments()["above"][1]
    # E b.beta* = E beta*^T P beta* = alpha below the threshold, 1 above it.
    return {"below": sp.simplify(below_norm - 2 * alpha + 1), "above": sp.simplify(above_norm - 2 + 1)}


# --- beyond rank one: hidden layer against outputs (repalign.theory.multi_output_alignment) -------


def multi_output_gap(outputs: int = 2) -> dict[str, sp.Expr]:
    """The outputs' CKA minus the hidden layer's, for C = ``outputs`` directions of signal ``a_i``
    and noise variance ``v`` (``d_i = a_i + v``), and the identity that signs it.

    With ``r_i = a_i / d_i``, ``hidden = sum d_i r_i^2 / sum d_i`` and ``output = sum d_i^2 r_i^2 /
    sum d_i^2``: the same r_i^2 averaged with weights d_i and d_i^2. Their difference is

        output - hidden = sum_{i<j} d_i d_j (d_i - d_j)(r_i^2 - r_j^2) / (sum d^2 sum d),

    and ``(d_i - d_j)(r_i^2 - r_j^2) = v (a_i - a_j)^2 (r_i + r_j) / (d_i d_j)``: every term is
    >= 0, and 0 only where v = 0 (no noise) or a_i = a_j. So output >= hidden, with equality
    exactly for a flat spectrum (or no noise). Raises AssertionError if SymPy does not confirm
    both identities. Returns the difference, the sum, and the factored pair term.
    """
    if not isinstance(outputs, int) or outputs < 2:
        raise ValueError(f"outputs must be an integer >= 2, got {outputs!r}")
    a = sp.symbols(f"a1:{outputs + 1}", positive=True)
    v = sp.Symbol("v", positive=True)
    d = [ai + v for ai in a]
    r = [ai / di for ai, di in zip(a, d)]
    hidden = sum(ai**2 / di for ai, di in zip(a, d)) / sum(d)
    output = sum(ai**2 for ai in a) / sum(di**2 for di in d)
    pairs = [(i, j) for i in range(outputs) for j in range(i + 1, outputs)]
    total = sum(d[i] * d[j] * (d[i] - d[j]) * (r[i] ** 2 - r[j] ** 2) for i, j in pairs) / (
        sum(di**2 for di in d) * sum(d))
    if sp.simplify(output - hidden - total) != 0:
        raise AssertionError("output - hidden is not the weighted sum of pair terms")
    pair = sp.factor((d[0] - d[1]) * (r[0] ** 2 - r[1] ** 2))
    if sp.simplify(pair - v * (a[0] - a[1]) ** 2 * (r[0] + r[1]) / (d[0] * d[1])) != 0:
        raise AssertionError("the pair term is not v (a_i - a_j)^2 (r_i + r_j) / (d_i d_j)")
    return {"difference": sp.factor(output - hidden), "sum": total, "pair": pair}
