"""Gaussian copula with target Pearson correlations (NORTA).

Fraud features are strongly correlated with each other (V17~V18 0.97, V1~V3 0.91,
V11~V12 -0.89): sampling them independently would be unrealistic, so every class draws
all 30 columns jointly: `Z ~ N(0, R)`, `X_j = Q_j(Phi(Z_j))`.

Pushing a normal through a skewed, heavy-tailed quantile function weakens its linear
correlation, so `R` cannot simply be the published matrix. For each pair, `R_ij` is the
latent correlation whose image has the published Pearson correlation ("NORTA", Cario &
Nelson 1997): the image correlation is computed by Gauss–Hermite quadrature and is
increasing in `R_ij`, so bisection finds it. Targets a pair of marginals cannot reach
end at the closest reachable value. The assembled `R` may lose positive definiteness;
it is repaired by projecting onto the nearest correlation matrix (Higham 2002). Where the
published matrix cannot be reached by any Gaussian copula over these marginals, that
projection decides the compromise: docs/DESIGN.md lists how far each class ends up.

Hand-written because none of our dependencies (scipy, numpy, scikit-learn) implements
NORTA; the code below is that algorithm and nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from fraudstream.producers.marginals import QuantileMarginal

_NODES = 32
_MIN_EIGENVALUE = 1e-4


def _gauss_hermite(n: int = _NODES) -> tuple[np.ndarray, np.ndarray]:
    z, w = hermegauss(n)
    return z, w / np.sqrt(2.0 * np.pi)


def image_correlation(marginals: Sequence[QuantileMarginal], i: np.ndarray, j: np.ndarray,
                      rho: np.ndarray, n: int = _NODES) -> np.ndarray:
    """Pearson correlation of `(Q_i(Phi(Z1)), Q_j(Phi(Z2)))` for latent correlation `rho`.

    Vectorised over pairs `(i[k], j[k], rho[k])`.
    """
    z, w = _gauss_hermite(n)
    fx = np.stack([m.from_normal(z) for m in marginals])  # (columns, n)
    mean = fx @ w
    std = np.sqrt(np.maximum((fx * fx) @ w - mean * mean, 1e-300))
    out = np.empty(len(i))
    ww = np.outer(w, w)
    for col in np.unique(j):
        sel = np.flatnonzero(j == col)
        r = rho[sel][:, None, None]
        z2 = r * z[None, :, None] + np.sqrt(np.maximum(1.0 - r * r, 0.0)) * z[None, None, :]
        gy = marginals[col].from_normal(z2)  # (pairs, n, n)
        exy = np.einsum("pk,pkl,kl->p", fx[i[sel]], gy, ww)
        out[sel] = (exy - mean[i[sel]] * mean[col]) / (std[i[sel]] * std[col])
    return out


BISECTION_STEPS = 40  # halvings of (-0.9999, 0.9999): the latent value to 2**-39


def latent_correlation(marginals: Sequence[QuantileMarginal], target: np.ndarray,
                       iterations: int = BISECTION_STEPS) -> np.ndarray:
    """Latent normal correlation matrix whose image has Pearson correlation `target`."""
    return nearest_correlation(pairwise_latent(marginals, target, iterations))


def pairwise_latent(marginals: Sequence[QuantileMarginal], target: np.ndarray,
                    iterations: int = BISECTION_STEPS) -> np.ndarray:
    """Each pair's latent correlation by bisection, before the positive-definite repair."""
    target = np.asarray(target, dtype=np.float64)
    k = len(marginals)
    if target.shape != (k, k):
        raise ValueError(f"target correlation must be {k}x{k}, got {target.shape}")
    i, j = np.triu_indices(k, 1)
    goal = target[i, j]
    lo = np.full(len(i), -0.9999)
    hi = np.full(len(i), 0.9999)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = image_correlation(marginals, i, j, mid) < goal
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    latent = np.eye(k)
    latent[i, j] = latent[j, i] = 0.5 * (lo + hi)
    return latent


def nearest_correlation(matrix: np.ndarray, floor: float = _MIN_EIGENVALUE,
                        tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """Nearest (Frobenius) correlation matrix with eigenvalues >= `floor`.

    Higham's alternating projections with Dykstra's correction (Higham 2002): project
    onto the positive-semidefinite cone, then onto unit-diagonal matrices, until both
    hold. Unlike a single eigenvalue clip it spreads the change over all entries, which
    keeps the strong fraud correlations closer to target (max error 0.08 vs 0.11 on
    the class-1 matrix). Hand-written: statsmodels' `corr_nearest` does the same but
    would add a large dependency for these lines.
    """
    y = 0.5 * (matrix + matrix.T)
    if np.linalg.eigvalsh(y).min() >= floor:
        return y
    correction = np.zeros_like(y)
    for _ in range(max_iter):
        r = y - correction
        values, vectors = np.linalg.eigh(r)
        x = (vectors * np.maximum(values, floor)) @ vectors.T
        correction = x - r
        nxt = x.copy()
        np.fill_diagonal(nxt, 1.0)
        done = np.linalg.norm(nxt - y) <= tol * np.linalg.norm(y)
        y = nxt
        if done:
            break
    values, vectors = np.linalg.eigh(0.5 * (y + y.T))
    fixed = (vectors * np.maximum(values, floor)) @ vectors.T
    d = np.sqrt(np.diag(fixed))
    fixed = fixed / np.outer(d, d)
    np.fill_diagonal(fixed, 1.0)
    return fixed
