"""data/synthetic_model.json is derived data: a fresh fit must give the same model.

"The same" cannot mean the same bits: the marginals come out of a least-squares fit and
the latent matrix out of bisection and an eigenvalue projection, whose last digits move
with the CPU's BLAS kernel and thread count. Each part is compared within what its
algorithm guarantees, derived below, so the check holds on any machine while a stale
file (changed fitting code, penalty, bounds, knots or copula) still fails it:

* knots and bounds are arithmetic on the calibration figures, not fitted: equal up to
  the rounding of one sum;
* a fitted marginal's parameters are known only up to the fit's *indifference region*:
  parameter sets whose costs differ by less than the optimiser can tell apart (its
  `ftol`, or the rounding of the moments) are equally valid answers. (Every fit here
  stops on `gtol` instead, a scaled gradient below 1e-12; the region that leaves,
  `1/2 g'(J'J)^-1 g`, is about 2e-18, inside the ftol one.) To first order that
  region is the ellipsoid `1/2 d'J'J d <= dF` (J the residuals' Jacobian), and a
  quantile moves across it by at most `sqrt(2 dF g'(J'J)^-1 g)` (g its gradient in the
  parameters). A parameter the fit drives onto a bound is not placed by the cost at all:
  the optimiser stops somewhere short of the bound (its steps shrink towards it). Such
  parameters (within `PINNED` of a bound in either fit: collapsed or uniform tails) are
  left out of the ellipsoid and snapped onto their bound in both fits before comparing;
* the latent matrix is recomputed from the stored marginals: bisection fixes each pair
  to 2**-39 plus the rounding of the image correlation over its slope, and the
  positive-definite repair is a projection onto a convex set (it never increases a
  difference) that stops a bounded distance from its limit.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from fraudstream.producers.calibration import (
    CALIBRATION_FILE, CLASSES, FEATURES, calibration_digest, load_calibration,
)
from fraudstream.producers.copula import (
    BISECTION_STEPS, image_correlation, nearest_correlation, pairwise_latent,
)
from fraudstream.producers.marginals import FIT_TOL, MomentFit, QuantileMarginal
from fraudstream.producers.synthetic_model import MODEL_FILE, _v_marginal, fit_model, load_model

EPS = np.finfo(np.float64).eps
U = np.linspace(0.0005, 0.9995, 999)
# The ftol test bounds the last step's cost reduction, not the remaining gap; with a
# linear rate r the gap is at most r/(1-r) times that step: 100 covers r <= 0.99.
GAP = 100.0
# The reflective trust-region method keeps iterates strictly inside the bounds and shrinks
# its steps towards them: a parameter it drives onto a bound stops short of it by an
# amount the cost does not fix (measured: up to 0.009 decades, scipy 1.17 vs 1.18). This
# only classifies a parameter as on a bound; its effect is computed (snapping), not assumed.
PINNED = 0.02
PROJECTION_TOL = 1e-10  # nearest_correlation's default stopping tolerance


def _targets(calibration: dict, cls: str, column: str) -> dict:
    if column == "Amount":
        return calibration["amount"][cls]
    return calibration["v_marginals"][cls][column]


def _snapped(marginal: QuantileMarginal, mean: float, std: float, on_bound: np.ndarray) -> np.ndarray:
    """Quantiles of `marginal` with its on-bound parameters exactly on their bounds."""
    problem = MomentFit(copy.deepcopy(marginal), mean, std)
    theta = problem.theta()
    lower, upper = problem.bounds()
    nearest = np.where(theta - lower < upper - theta, lower, upper)
    problem.apply(np.where(on_bound, nearest, theta))
    return problem.marginal.quantile(U)


def _compare(fresh: QuantileMarginal, stored: QuantileMarginal, mean: float,
             std: float) -> tuple[np.ndarray, np.ndarray]:
    """(difference, tolerance) of the two fits' quantiles at each of U, their on-bound
    parameters snapped onto the bounds in both."""
    problem = MomentFit(copy.deepcopy(fresh), mean, std)
    theta = problem.theta()
    stored_theta = MomentFit(stored, mean, std).theta()
    lower, upper = problem.bounds()
    r0 = problem.residual(theta)
    cost = 0.5 * float(r0 @ r0)
    # moments sum ~32 quadrature terms per segment and tail: their rounding, relative to
    # the target std, is what the optimiser sees as noise in the two moment residuals
    nodes = 32 * (len(fresh.p) + 1)
    eta = nodes * EPS * (1.0 + (mean / std) ** 2)
    indifferent = GAP * FIT_TOL * cost + 2.0 * np.sqrt(cost) * eta + eta * eta

    h = 1e-6  # central differences: truncation ~h**2, rounding ~eta/h, both << tolerance
    jac, grad = [], []
    for k in range(len(theta)):
        step = np.zeros_like(theta)
        step[k] = h
        r_up, q_up = problem.residual(theta + step), problem.marginal.quantile(U)
        r_dn, q_dn = problem.residual(theta - step), problem.marginal.quantile(U)
        jac.append((r_up - r_dn) / (2 * h))
        grad.append((q_up - q_dn) / (2 * h))
    problem.apply(theta)
    jac, grad = np.array(jac).T, np.array(grad)  # (residuals, params), (params, points)

    # on a bound in either fit: a flat tail may end on its bound in one fit and short of
    # it in the other; either way the cost does not place it, and snapping bounds it
    on_bound = ((np.minimum(theta - lower, upper - theta) < PINNED)
                | (np.minimum(stored_theta - lower, upper - stored_theta) < PINNED))
    spread = np.zeros(len(U))
    free = ~on_bound
    if free.any():
        # g'(J'J)^-1 g = |y|^2 for the least-norm y with J'y = g (stable when J'J is not)
        y = np.linalg.lstsq(jac[:, free].T, grad[free], rcond=None)[0]
        spread = np.sqrt(2.0 * indifferent * (y * y).sum(axis=0))
    # on-bound parameters are compared snapped onto their bounds (the free parameters'
    # response to that snap is second order, left out)
    diff = np.abs(_snapped(stored, mean, std, on_bound) - _snapped(fresh, mean, std, on_bound))
    # both fits lie in the region around the optimum: twice its half-width apart; plus
    # the rounding of the knots themselves (where no parameter moves a quantile)
    return diff, 2.0 * spread + 4 * EPS * np.abs(fresh.quantile(U))


def _latent_tolerance(marginals: list[QuantileMarginal], pairwise: np.ndarray,
                      projected: np.ndarray, converged: np.ndarray) -> float:
    """Bound on |stored latent - converged projection of this machine's bisection|."""
    k = len(marginals)
    i, j = np.triu_indices(k, 1)
    rho = pairwise[i, j]
    h = 1e-6
    slope = (image_correlation(marginals, i, j, np.minimum(rho + h, 0.9999))
             - image_correlation(marginals, i, j, np.maximum(rho - h, -0.9999))) / (2 * h)
    # image correlation: 32 x 32 quadrature products per pair, less the means' product
    ratio = np.array([abs(m.moments()[0]) / m.moments()[1] for m in marginals])
    eta = 32 * 32 * EPS * (1.0 + ratio[i] * ratio[j])
    per_pair = 2.0 * 0.9999 * 2.0 ** -BISECTION_STEPS + eta / np.maximum(slope, 1e-12)
    bisection = np.sqrt(2.0 * (per_pair ** 2).sum())  # Frobenius norm, both triangles
    # one run may stop a step earlier or later than the other: at most one stopping step
    stop = float(np.abs(projected - converged).max()) + PROJECTION_TOL * np.linalg.norm(projected)
    return bisection + stop


@pytest.mark.slow
def test_stored_model_equals_a_fresh_fit():
    stored_json = json.loads(MODEL_FILE.read_text())
    assert stored_json["calibration_sha256"] == calibration_digest(CALIBRATION_FILE)
    calibration = load_calibration()
    stored, fresh = load_model(), fit_model(calibration)
    for cls in CLASSES:
        for column, a, b in zip(FEATURES, stored[cls].marginals, fresh[cls].marginals):
            where = f"{cls} {column}"
            assert a.log_space == b.log_space, where
            for name in ("p", "x", "lo", "hi"):
                np.testing.assert_allclose(getattr(a, name), getattr(b, name),
                                           rtol=4 * EPS, atol=0, err_msg=where)
            if column == "Time":  # not fitted: the hour profile only
                np.testing.assert_allclose(a.quantile(U), b.quantile(U), rtol=16 * EPS,
                                           err_msg=where)
                continue
            fig = _targets(calibration, cls, column)
            diff, tol = _compare(b, a, fig["mean"], fig["std"])
            worst = int(np.argmax(diff - tol))
            assert (diff <= tol).all(), (
                f"{where}: quantile at u={U[worst]:.4f} differs by {diff[worst]:.3g}, "
                f"the fit determines it to {tol[worst]:.3g}")

        target = np.asarray(calibration["correlations"][cls]["matrix"], dtype=np.float64)
        marginals = stored[cls].marginals
        pairwise = pairwise_latent(marginals, target)
        projected = nearest_correlation(pairwise)
        converged = nearest_correlation(pairwise, tol=1e-14, max_iter=100_000)
        tol = _latent_tolerance(marginals, pairwise, projected, converged)
        diff = float(np.abs(stored[cls].latent - converged).max())
        assert diff <= tol, f"{cls}: latent correlation differs by {diff:.3g} (bound {tol:.3g})"


def test_the_comparison_catches_a_stale_fit():
    """Guard on the tolerance: exponents 1 % further from 1 (a changed penalty) fail it."""
    calibration = load_calibration()
    fig = _targets(calibration, "class1", "V4")
    fresh = _v_marginal(fig)
    other = copy.deepcopy(fresh)
    problem = MomentFit(other, fig["mean"], fig["std"])
    theta = problem.theta()
    theta[len(problem.tails):] *= 1.01
    problem.apply(theta)
    diff, tol = _compare(fresh, other, fig["mean"], fig["std"])
    assert (diff > tol).any()
