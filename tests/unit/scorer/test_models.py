"""ScoringModel computes the shared score definition to 1e-6 on every forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.core.model_bundle import ModelBundle
from fraudstream.scorer.errors import ModelError
from fraudstream.scorer.models import ScoringModel
from tests.unit.scorer.support import make_bundle, raw_rows, reference_scores


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return ModelBundle.from_bytes(make_bundle(version=7, seed=2).to_bytes())


@pytest.mark.parametrize("mode", ["numpy", "call", "predict"])
def test_scores_match_reference_and_the_bundles_definition(bundle, mode) -> None:
    x = raw_rows(500, seed=4)
    sm = ScoringModel.from_bundle(bundle, mode=mode)
    assert sm.forward.name == mode and sm.version == 7
    got = sm.score(x)
    ref = reference_scores(bundle, x)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, bundle.scores(x), rtol=1e-6, atol=1e-6)


def test_unknown_score_kind_is_refused(bundle) -> None:
    odd = ModelBundle.from_bytes(bundle.to_bytes())
    odd.score_kind = "mae"
    with pytest.raises(ModelError, match="score kind"):
        ScoringModel.from_bundle(odd)


def test_wrong_feature_count_is_refused() -> None:
    from tests.unit.scorer.support import build_model

    b = make_bundle(model=build_model(n=29))
    with pytest.raises(ModelError, match="30 features"):
        ScoringModel.from_bundle(b)


def test_hybrid_bundles_are_scored_by_their_trees_without_keras() -> None:
    from tests.unit.scorer.support import make_hybrid_bundle

    bundle = make_hybrid_bundle(version=9, seed=3)
    sm = ScoringModel.from_bundle(bundle)
    assert sm.forward.name == "trees" and sm.version == 9
    assert bundle._model is None  # the Keras model was never loaded
    x = raw_rows(500, seed=4)
    # the scorer runs the bundle's own NumPy functions: the same bits
    assert np.array_equal(sm.score(x), bundle.scores(x))
    assert sm.score(x[:0]).shape == (0,)
