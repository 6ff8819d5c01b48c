"""Population analyses on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from motorgym.train.analysis.population import cosine_tuning, jpca, pca

DT = 0.01


def embed(latent: np.ndarray, units: int, seed: int, noise: float = 0.0) -> np.ndarray:
    """(conditions, time, k) latent trajectories through a random linear map into ``units`` units."""
    rng = np.random.default_rng(seed)
    mixing = np.linalg.qr(rng.normal(size=(units, latent.shape[-1])))[0].T  # orthonormal rows
    return latent @ mixing + noise * rng.normal(size=(*latent.shape[:2], units))


def rotations(frequency_hz: float, conditions: int = 8, steps: int = 60) -> np.ndarray:
    """Each condition starts at another phase on the unit circle and rotates at frequency_hz."""
    t = np.arange(steps) * DT
    phase = 2 * np.pi * np.arange(conditions) / conditions
    angle = phase[:, None] + 2 * np.pi * frequency_hz * t[None]
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def test_pca_finds_the_dimensionality_of_embedded_data() -> None:
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(1, 2000, 3)) * np.array([3.0, 2.0, 1.0])
    result = pca(embed(latent, 40, seed=1))
    np.testing.assert_allclose(result.explained_variance_ratio[:3], np.array([9, 4, 1]) / 14, atol=0.02)
    assert result.explained_variance_ratio[3:].sum() < 1e-10
    # Participation ratio of eigenvalues 9, 4, 1: 14^2 / (81 + 16 + 1) = 2.0.
    assert result.participation_ratio == pytest.approx(2.0, rel=0.05)


def test_pure_rotation_gives_r2_skew_near_one_and_its_frequency() -> None:
    activity = embed(rotations(2.0), 30, seed=2, noise=1e-3)
    result = jpca(activity, DT)
    assert result.r2_skew > 0.99 and result.ratio > 0.99
    assert result.rotation_frequency_hz == pytest.approx(2.0, rel=0.02)
    # The first jPC plane holds the rotation: projected trajectories keep their unit radius.
    radius = np.linalg.norm(result.project(activity), axis=-1)
    np.testing.assert_allclose(radius, 1.0, atol=0.02)


def test_pure_expansion_gives_a_low_ratio() -> None:
    t = np.arange(60) * DT
    phase = 2 * np.pi * np.arange(8) / 8
    radius = np.exp(3.0 * t)  # every condition moves straight out from the centre
    latent = np.stack([np.cos(phase)[:, None] * radius, np.sin(phase)[:, None] * radius], axis=-1)
    result = jpca(embed(latent, 30, seed=3, noise=1e-3), DT)
    assert result.r2_unconstrained > 0.95
    assert result.r2_skew < 0.05 and result.ratio < 0.05


def test_cosine_tuned_units_recover_their_preferred_directions() -> None:
    rng = np.random.default_rng(4)
    directions = np.repeat(2 * np.pi * np.arange(8) / 8, 10)  # 10 trials per target
    preferred = rng.uniform(-np.pi, np.pi, 50)
    tuned = 1.0 + 0.8 * np.cos(directions[:, None] - preferred[None]) + 0.05 * rng.normal(size=(80, 50))
    untuned = rng.normal(size=(80, 10))
    result = cosine_tuning(np.concatenate([tuned, untuned], axis=1), directions)
    error = np.angle(np.exp(1j * (result.preferred_direction_rad[:50] - preferred)))
    assert np.abs(error).max() < 0.05
    np.testing.assert_allclose(result.depth[:50], 0.8, atol=0.05)
    assert (result.r2[:50] > 0.95).all() and (result.r2[50:] < 0.7).all()
    assert result.tuned_fraction == pytest.approx(50 / 60)


def test_bad_shapes_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="conditions >= 2, time >= 3"):
        jpca(np.zeros((1, 10, 4)), DT)
    with pytest.raises(ValueError, match="at least 3 distinct"):
        cosine_tuning(np.zeros((4, 2)), np.array([0.0, 0.0, 1.0, 1.0]))


def test_smoothing_keeps_levels_and_removes_jitter() -> None:
    from motorgym.train.analysis.population import smooth_gaussian, soft_normalize

    rng = np.random.default_rng(5)
    constant = np.full((2, 50, 3), 4.0)
    np.testing.assert_allclose(smooth_gaussian(constant, 2.0), 4.0)  # edges included
    jitter = rng.normal(size=(2, 500, 3))
    assert smooth_gaussian(jitter, 2.0).std() < 0.5 * jitter.std()
    normalized = soft_normalize(np.stack([np.linspace(0, 10, 20), np.linspace(0, 0.1, 20)], axis=-1)[None], 0.1)
    assert np.ptp(normalized[..., 0]) == pytest.approx(10 / 10.1) and np.ptp(normalized[..., 1]) == pytest.approx(0.5)
