"""One column's distribution for the synthetic generator: a quantile function.

The statistics file gives, per class and column, a handful of quantiles plus the exact
mean, standard deviation and range. A quantile function `Q(u)` built from those knots
is what a Gaussian copula needs (`X = Q(Phi(Z))`), so each marginal is:

* the body: linear interpolation of `Q` between the published quantiles — in `log1p`
  space for Amount, whose quantiles grow geometrically (the stats notes advise
  "piecewise log-linear"; a fitted log-normal overshoots the mean);
* two tails beyond the outermost quantiles: truncated exponentials that stop exactly at
  the published min / max;
* within each body segment, `Q` runs from one knot to the next along `tau ** k`
  (`tau` the position in the segment): `k = 1` is plain linear interpolation, `k < 1`
  / `k > 1` push the segment's mass towards its upper / lower knot.

The two tail scales and the segment exponents are fitted so that the marginal's mean
and standard deviation equal the published ones, with a small penalty that keeps the
exponents at 1 unless the tails alone cannot reach the moments. The knots are never moved: the model keeps
the published quantiles (shape, skew) exactly and the moments (what a scaler or a
z-score sees) to fitting accuracy. The class-1 body needs the exponents: with 492 rows
its quantiles are sparse, and linear interpolation alone misses the mean by 0.05 std.

Moments are computed by Gauss–Legendre quadrature, per body segment in `u` and per tail
in the exponential's own variable, so fitting needs no sampling and is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.optimize import least_squares
from scipy.special import ndtr

_GL_X, _GL_W = leggauss(32)
_TAIL_SPAN = 60.0  # integrate a tail over at most 60 scales: the rest weighs < e**-60


def _gauss_legendre(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    half = 0.5 * (b - a)
    return a + half * (_GL_X + 1.0), half * _GL_W


@dataclass
class QuantileMarginal:
    """Quantile function from knots `(p, x)`, bounded by `[lo, hi]`.

    `log_space` interpolates `log1p(x)` instead of `x` (non-negative, heavy right tail).
    `lower_scale` / `upper_scale` are the tails' exponential scales in that space;
    `inf` makes a tail uniform, 0 collapses it onto the outermost knot.
    """

    p: np.ndarray
    x: np.ndarray
    lo: float
    hi: float
    log_space: bool = False
    lower_scale: float = np.inf
    upper_scale: float = np.inf
    warp: np.ndarray | None = None
    _y: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.p = np.asarray(self.p, dtype=np.float64)
        self.x = np.asarray(self.x, dtype=np.float64)
        if self.p.ndim != 1 or self.p.shape != self.x.shape or len(self.p) < 2:
            raise ValueError("quantile knots need matching 1-d p and x with 2+ points")
        if np.any(np.diff(self.p) <= 0) or self.p[0] < 0 or self.p[-1] > 1:
            raise ValueError("quantile probabilities must increase within [0, 1]")
        if np.any(np.diff(self.x) < 0):
            raise ValueError("quantile values must not decrease")
        # Published bounds are rounded differently from quantiles; never let them cross.
        self.lo = min(float(self.lo), float(self.x[0]))
        self.hi = max(float(self.hi), float(self.x[-1]))
        self._y = self._fwd(self.x)
        self.warp = (np.ones(len(self.p) - 1) if self.warp is None
                     else np.asarray(self.warp, dtype=np.float64))

    # -- transforms -------------------------------------------------------------------
    def _fwd(self, x):
        return np.log1p(x) if self.log_space else np.asarray(x, dtype=np.float64)

    def _inv(self, y):
        return np.expm1(y) if self.log_space else y

    @property
    def _lower_range(self) -> float:
        return float(self._y[0] - self._fwd(self.lo))

    @property
    def _upper_range(self) -> float:
        return float(self._fwd(self.hi) - self._y[-1])

    # -- sampling ---------------------------------------------------------------------
    @staticmethod
    def _tail_offset(t_far: np.ndarray, scale: float, span: float) -> np.ndarray:
        """Distance beyond the outermost knot for tail position `t_far` in (0, 1].

        `t_far` is the probability, within the tail, of lying *further out* than the
        result: 1 maps onto the knot, 0 onto the bound. Inverse CDF of an exponential
        with `scale`, truncated at `span`.
        """
        if span <= 0 or scale == 0:
            return np.zeros_like(t_far)
        if not np.isfinite(scale):
            return span * (1.0 - t_far)
        keep = np.exp(-span / scale)
        return -scale * np.log(t_far + (1.0 - t_far) * keep)

    def _exponents(self) -> np.ndarray:
        """Warp exponent of each body segment."""
        return self.warp

    def _body(self, u: np.ndarray) -> np.ndarray:
        p, y = self.p, self._y
        k = np.clip(np.searchsorted(p, u, side="right") - 1, 0, len(p) - 2)
        tau = np.clip((u - p[k]) / (p[k + 1] - p[k]), 0.0, 1.0)
        exps = self._exponents()
        if np.all(exps == 1.0):
            return y[k] + (y[k + 1] - y[k]) * tau
        return y[k] + (y[k + 1] - y[k]) * tau ** exps[k]

    def from_normal(self, z: np.ndarray) -> np.ndarray:
        """`Q(Phi(z))`, accurate in both tails (uses `Phi(-z)` for the upper one)."""
        z = np.asarray(z, dtype=np.float64)
        u = ndtr(z)
        v = ndtr(-z)  # 1 - u without cancellation
        y = self._body(u)
        p0, p1 = self.p[0], self.p[-1]
        low = u < p0
        if low.any():
            y[low] = self._y[0] - self._tail_offset(u[low] / p0, self.lower_scale, self._lower_range)
        high = v < 1.0 - p1
        if high.any():
            y[high] = self._y[-1] + self._tail_offset(
                v[high] / (1.0 - p1), self.upper_scale, self._upper_range
            )
        return np.clip(self._inv(y), self.lo, self.hi)

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """`Q(u)` for probabilities (moments and tests; sampling uses `from_normal`)."""
        u = np.asarray(u, dtype=np.float64)
        y = self._body(u)
        p0, p1 = self.p[0], self.p[-1]
        low = u < p0
        if low.any():
            y[low] = self._y[0] - self._tail_offset(u[low] / p0, self.lower_scale, self._lower_range)
        high = u > p1
        if high.any():
            y[high] = self._y[-1] + self._tail_offset(
                (1.0 - u[high]) / (1.0 - p1), self.upper_scale, self._upper_range
            )
        return np.clip(self._inv(y), self.lo, self.hi)

    # -- moments ----------------------------------------------------------------------
    def _tail_moments(self, anchor: float, sign: float, weight: float, scale: float,
                      span: float) -> tuple[float, float]:
        """Contribution of one tail (probability `weight`) to E[X] and E[X**2]."""
        if weight <= 0:
            return 0.0, 0.0
        if span <= 0 or scale == 0:
            x = float(self._inv(anchor))
            return weight * x, weight * x * x
        if np.isfinite(scale):
            d, w = _gauss_legendre(0.0, min(span, _TAIL_SPAN * scale))
            dens = np.exp(-d / scale) / (scale * -np.expm1(-span / scale))
            w = w * dens
        else:
            d, w = _gauss_legendre(0.0, span)
            w = w / span
        x = self._inv(anchor + sign * d)
        total = w.sum()  # renormalise the truncated quadrature
        return weight * float((w * x).sum() / total), weight * float((w * x * x).sum() / total)

    def moments(self) -> tuple[float, float]:
        """Exact (to quadrature accuracy) mean and standard deviation of the marginal."""
        m1 = m2 = 0.0
        exps = self._exponents()
        for a, b, ya, yb, e in zip(self.p[:-1], self.p[1:], self._y[:-1], self._y[1:], exps):
            # integrate over s = tau**e's natural variable: tau = t**(1/e) keeps the
            # quadrature smooth when e < 1 (an integrable kink at tau = 0 otherwise)
            t, w = _gauss_legendre(0.0, 1.0)
            if e == 1.0:
                tau, dtau = t, w
            elif e < 1.0:
                tau, dtau = t ** (1.0 / e), w * (1.0 / e) * t ** (1.0 / e - 1.0)
            else:
                tau, dtau = t, w
            x = self._inv(ya + (yb - ya) * tau ** e)
            w = dtau * (b - a)
            m1 += float((w * x).sum())
            m2 += float((w * x * x).sum())
        lo1, lo2 = self._tail_moments(self._y[0], -1.0, self.p[0], self.lower_scale, self._lower_range)
        hi1, hi2 = self._tail_moments(self._y[-1], 1.0, 1.0 - self.p[-1], self.upper_scale,
                                      self._upper_range)
        m1 += lo1 + hi1
        m2 += lo2 + hi2
        return m1, float(np.sqrt(max(m2 - m1 * m1, 0.0)))

    def fit(self, mean: float, std: float, warp: bool = True) -> "QuantileMarginal":
        """Choose tail scales (and body exponents) so that the mean and std match.

        Tail scales are searched as fractions of each tail's range (log10 in [-6, 3]); a
        tail of zero range (a bound equal to its knot) has nothing to fit. Exponents are
        searched as log10 in [-0.7, 0.7] (k in [0.2, 5]) with a penalty of 1e-3 per
        decade, so they move only when the tails cannot reach the moments, and then as
        little as they can (least-norm spread over the segments). Least squares
        on both moments relative to the target std; if the bounds make the target
        unreachable the best compromise is kept, and `moments()` tells how far it is.
        `MomentFit` holds the objective (its tests bound how far two fits may differ).
        """
        problem = MomentFit(self, mean, std, warp)
        if problem.size == 0:
            return self
        result = least_squares(problem.residual, x0=problem.start(), bounds=problem.bounds(),
                               xtol=FIT_TOL, ftol=FIT_TOL, gtol=FIT_TOL)
        problem.apply(result.x)
        return self


FIT_TOL = 1e-12  # least_squares' xtol, ftol and gtol in QuantileMarginal.fit
WARP_PENALTY = 1e-3  # residual per decade of a segment exponent
TAIL_BOUNDS = (-6.0, 3.0)  # log10 of a tail scale as a fraction of the tail's range
WARP_BOUNDS = (-0.7, 0.7)  # log10 of a segment exponent


class MomentFit:
    """The moment fit of one marginal as a least-squares problem over `theta`.

    `theta` = log10 of each fitted tail's scale (as a fraction of its range), then log10
    of each segment exponent. `residual` is the mean and std error relative to the
    target std, then the exponents' penalty. `apply` writes `theta` into the marginal.
    """

    def __init__(self, marginal: QuantileMarginal, mean: float, std: float,
                 warp: bool = True) -> None:
        self.marginal, self.mean, self.std, self.warp = marginal, mean, std, warp
        m = marginal
        self.ranges = [m._lower_range, m._upper_range]
        self.tails = [i for i, r in enumerate(self.ranges)
                      if r > 0 and (m.p[0] > 0 if i == 0 else m.p[-1] < 1)]
        self.n_warp = len(m.p) - 1 if warp else 0
        self.size = len(self.tails) + self.n_warp

    def start(self) -> np.ndarray:
        return np.concatenate([np.full(len(self.tails), -0.5), np.zeros(self.n_warp)])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        k, n = len(self.tails), self.n_warp
        return (np.concatenate([np.full(k, TAIL_BOUNDS[0]), np.full(n, WARP_BOUNDS[0])]),
                np.concatenate([np.full(k, TAIL_BOUNDS[1]), np.full(n, WARP_BOUNDS[1])]))

    def theta(self) -> np.ndarray:
        """The marginal's current parameters."""
        m = self.marginal
        scales = [m.lower_scale, m.upper_scale]
        tails = [np.log10(scales[i] / self.ranges[i]) for i in self.tails]
        warps = np.log10(m.warp) if self.warp else np.zeros(0)
        return np.concatenate([tails, warps])

    def apply(self, theta: np.ndarray) -> None:
        m = self.marginal
        for k, i in enumerate(self.tails):
            scale = self.ranges[i] * 10.0 ** theta[k]
            if i == 0:
                m.lower_scale = scale
            else:
                m.upper_scale = scale
        if self.warp:
            m.warp = 10.0 ** np.asarray(theta[len(self.tails):], dtype=np.float64)

    def residual(self, theta: np.ndarray) -> np.ndarray:
        self.apply(theta)
        mean, std = self.marginal.moments()
        penalty = WARP_PENALTY * np.asarray(theta[len(self.tails):])
        return np.concatenate([[(mean - self.mean) / self.std, (std - self.std) / self.std],
                               penalty])
