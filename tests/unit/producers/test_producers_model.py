"""Building blocks of the generator: quantile marginals, NORTA copula, nearest correlation."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.producers.copula import image_correlation, latent_correlation, nearest_correlation
from fraudstream.producers.marginals import QuantileMarginal


def skewed() -> QuantileMarginal:
    return QuantileMarginal([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99],
                            [-20.0, -8.0, -2.0, -0.5, 0.4, 1.5, 2.4], lo=-60.0, hi=9.0)


def test_fit_hits_mean_and_std_and_keeps_the_knots():
    m = skewed().fit(mean=-1.3, std=4.0)
    mean, std = m.moments()
    assert abs(mean + 1.3) < 1e-4 and abs(std - 4.0) < 1e-4
    assert np.allclose(m.quantile(m.p), m.x)  # published quantiles untouched


def test_moments_agree_with_sampling():
    m = skewed().fit(mean=-1.3, std=4.0)
    draws = m.from_normal(np.random.default_rng(0).standard_normal(2_000_000))
    assert abs(draws.mean() + 1.3) < 0.02 and abs(draws.std() / 4.0 - 1) < 0.02
    assert draws.min() >= -60.0 and draws.max() <= 9.0
    for p, x in zip(m.p, m.x):  # each published quantile holds: P(X <= q_p) = p
        assert abs((draws <= x).mean() - p) < 0.002


def test_from_normal_equals_quantile_of_phi():
    from scipy.special import ndtr

    m = skewed().fit(mean=-1.3, std=4.0)
    z = np.linspace(-6, 6, 301)
    assert np.allclose(m.from_normal(z), m.quantile(ndtr(z)), rtol=1e-9, atol=1e-9)


def test_log_space_marginal_with_point_mass_at_zero():
    m = QuantileMarginal([0.05, 0.25, 0.5, 0.75, 0.99], [0.0, 5.0, 22.0, 77.0, 1000.0],
                         lo=0.0, hi=25000.0, log_space=True).fit(mean=88.0, std=250.0)
    mean, std = m.moments()
    assert abs(mean - 88.0) < 0.01 and abs(std - 250.0) < 0.01
    draws = m.from_normal(np.random.default_rng(1).standard_normal(500_000))
    assert abs((draws == 0).mean() - 0.05) < 0.002


def test_invalid_knots_are_rejected():
    with pytest.raises(ValueError):
        QuantileMarginal([0.5, 0.25], [0.0, 1.0], 0, 1)
    with pytest.raises(ValueError):
        QuantileMarginal([0.25, 0.5], [1.0, 0.0], 0, 1)


def test_norta_reaches_target_correlation_through_skewed_marginals():
    a = skewed().fit(mean=-1.3, std=4.0)
    b = QuantileMarginal([0.01, 0.5, 0.99], [-12.0, 0.0, 1.0], lo=-30.0, hi=2.0).fit(mean=-0.6, std=2.0)
    target = np.array([[1.0, 0.8], [0.8, 1.0]])
    latent = latent_correlation([a, b], target)
    assert latent[0, 1] > 0.8  # the latent correlation has to be stronger than the image
    got = image_correlation([a, b], np.array([0]), np.array([1]), np.array([latent[0, 1]]))[0]
    assert abs(got - 0.8) < 1e-3
    z = np.random.default_rng(2).multivariate_normal([0, 0], latent, size=400_000)
    sample = np.corrcoef(a.from_normal(z[:, 0]), b.from_normal(z[:, 1]))[0, 1]
    assert abs(sample - 0.8) < 0.02


def test_nearest_correlation_repairs_an_indefinite_matrix():
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    assert np.linalg.eigvalsh(bad).min() < 0
    fixed = nearest_correlation(bad)
    assert np.linalg.eigvalsh(fixed).min() > 0
    assert np.allclose(np.diag(fixed), 1.0) and np.allclose(fixed, fixed.T)
    np.linalg.cholesky(fixed)
    good = np.array([[1.0, 0.3], [0.3, 1.0]])
    assert np.array_equal(nearest_correlation(good), good)
