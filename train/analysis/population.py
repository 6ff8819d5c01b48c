"""Analyses of a recurrent network's hidden states, as done on motor-cortex recordings: PCA,
jPCA (Churchland et al. 2012) and directional (cosine) tuning. Plain functions on arrays.

Conventions: ``activity`` is (conditions, time, units): one condition per reach direction, the
activity averaged over its trials and aligned in time (e.g. to movement onset).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PCAResult:
    components: np.ndarray
    """(k, units) principal axes, by decreasing variance."""
    explained_variance_ratio: np.ndarray
    """(units,) fraction of the variance along every axis."""
    participation_ratio: float
    """(sum of eigenvalues)^2 / sum of squared eigenvalues: the effective dimensionality."""
    mean: np.ndarray
    """(units,) the mean removed before projecting."""

    def project(self, samples: np.ndarray, k: int | None = None) -> np.ndarray:
        """Samples (..., units) in the top ``k`` principal axes (..., k)."""
        return (samples - self.mean) @ self.components[:k].T


def pca(samples: np.ndarray) -> PCAResult:
    """PCA of (samples, units) (or (conditions, time, units), flattened) data."""
    flat = samples.reshape(-1, samples.shape[-1]).astype(np.float64)
    mean = flat.mean(axis=0)
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    eigen = singular**2 / max(len(flat) - 1, 1)
    total = eigen.sum()
    ratio = eigen / total if total > 0 else np.zeros_like(eigen)
    participation = float(total**2 / np.sum(eigen**2)) if total > 0 else 0.0
    return PCAResult(vt, ratio, participation, mean)


def smooth_gaussian(activity: np.ndarray, sigma_steps: float, axis: int = 1) -> np.ndarray:
    """Gaussian smoothing along ``axis`` (the kernel renormalised at the edges, so ends keep their level)."""
    if sigma_steps <= 0:
        return activity
    half = int(np.ceil(3 * sigma_steps))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_steps) ** 2)

    def smooth(values: np.ndarray) -> np.ndarray:
        return np.convolve(values, kernel, mode="same") / np.convolve(np.ones_like(values), kernel, mode="same")

    return np.apply_along_axis(smooth, axis, activity)


def soft_normalize(activity: np.ndarray, softening: float) -> np.ndarray:
    """Each unit (last axis) divided by its range plus ``softening``, so that strongly modulated
    units count alike and weak ones do not dominate by noise (Churchland et al. 2012 used +5 spikes/s)."""
    flat = activity.reshape(-1, activity.shape[-1])
    return activity / (flat.max(axis=0) - flat.min(axis=0) + softening)


@dataclass
class JPCAResult:
    r2_skew: float
    """Fraction of the variance of dX/dt explained by the best skew-symmetric (rotational) M."""
    r2_unconstrained: float
    """Fraction explained by the best unconstrained linear M (dX/dt = X M)."""
    ratio: float
    """r2_skew / r2_unconstrained: near 1 when the dynamics are rotational."""
    rotation_frequency_hz: float
    """Rotation frequency in the first jPC plane (the imaginary part of its eigenvalue / 2 pi)."""
    plane: np.ndarray
    """(2, dims) orthonormal basis of the first jPC plane (the rotation plane of M_skew holding the
    most variance), in the reduced (PCA) space."""
    pca: PCAResult
    """The PCA that reduced the data before the fit."""
    dims: int

    def project(self, activity: np.ndarray) -> np.ndarray:
        """(conditions, time, units) activity in the first jPC plane: (conditions, time, 2)."""
        centered = activity - activity.mean(axis=0, keepdims=True)
        return self.pca.project(centered, self.dims) @ self.plane.T


def _r2(target: np.ndarray, predicted: np.ndarray) -> float:
    residual = np.sum((target - predicted) ** 2)
    total = np.sum((target - target.mean(axis=0)) ** 2)
    return float(1 - residual / total) if total > 0 else 0.0


def _skew_basis(dims: int) -> list[np.ndarray]:
    basis = []
    for i in range(dims):
        for j in range(i + 1, dims):
            b = np.zeros((dims, dims))
            b[i, j], b[j, i] = 1.0, -1.0
            basis.append(b)
    return basis


def jpca(activity: np.ndarray, dt_s: float, dims: int = 6) -> JPCAResult:
    """jPCA of (conditions, time, units) activity sampled every ``dt_s`` seconds.

    As Churchland et al. (2012): remove the cross-condition mean at each time, reduce to the top
    ``dims`` principal components, then fit dX/dt = X M by least squares, unconstrained and with M
    skew-symmetric (a pure rotation). Derivatives are differences of successive samples, fitted
    against the midpoints.
    """
    if activity.ndim != 3 or activity.shape[0] < 2 or activity.shape[1] < 3:
        raise ValueError(f"activity must be (conditions >= 2, time >= 3, units) (got shape {activity.shape})")
    centered = activity - activity.mean(axis=0, keepdims=True)
    dims = min(dims - dims % 2, centered.shape[-1] - centered.shape[-1] % 2)
    if dims < 2:
        raise ValueError("jPCA needs at least 2 units")
    reduced_pca = pca(centered)
    x = reduced_pca.project(centered, dims)
    derivative = (np.diff(x, axis=1) / dt_s).reshape(-1, dims)
    midpoints = ((x[:, 1:] + x[:, :-1]) / 2).reshape(-1, dims)
    m_full, *_ = np.linalg.lstsq(midpoints, derivative, rcond=None)
    basis = _skew_basis(dims)
    design = np.stack([(midpoints @ b).ravel() for b in basis], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, derivative.ravel(), rcond=None)
    m_skew = sum(c * b for c, b in zip(coefficients, basis, strict=True))
    r2_full, r2_skew = _r2(derivative, midpoints @ m_full), _r2(derivative, midpoints @ m_skew)
    # M_skew's eigenvalues come in pairs +-i omega; the real and imaginary parts of an eigenvector
    # span the plane of that rotation (orthogonal and of equal length, M_skew being normal). The
    # first jPC plane is the one holding the most variance of the data (noise dimensions can carry
    # fast but tiny rotations).
    eigenvalues, eigenvectors = np.linalg.eig(m_skew)
    best_variance, plane, omega = -1.0, np.eye(2, dims), 0.0
    for k in np.flatnonzero(eigenvalues.imag > 0):
        candidate = np.stack([eigenvectors[:, k].real, eigenvectors[:, k].imag])
        candidate /= np.linalg.norm(candidate, axis=1, keepdims=True)
        variance = float(np.sum((x.reshape(-1, dims) @ candidate.T) ** 2))
        if variance > best_variance:
            best_variance, plane, omega = variance, candidate, float(eigenvalues[k].imag)
    return JPCAResult(
        r2_skew=r2_skew,
        r2_unconstrained=r2_full,
        ratio=r2_skew / r2_full if r2_full > 0 else 0.0,
        rotation_frequency_hz=omega / (2 * np.pi),
        plane=plane,
        pca=reduced_pca,
        dims=dims,
    )


@dataclass
class TuningResult:
    preferred_direction_rad: np.ndarray
    """(units,) direction of maximal activity, in (-pi, pi]."""
    depth: np.ndarray
    """(units,) modulation depth: amplitude of the cosine."""
    baseline: np.ndarray
    """(units,) mean activity."""
    r2: np.ndarray
    """(units,) fraction of the variance across directions the cosine explains."""
    tuned_fraction: float
    """Fraction of units with r2 > the threshold (0.7)."""


def cosine_tuning(activity: np.ndarray, directions_rad: np.ndarray, threshold: float = 0.7) -> TuningResult:
    """Fit activity (trials or conditions, units) = b0 + b1 cos(theta) + b2 sin(theta) per unit."""
    activity = np.asarray(activity, dtype=np.float64)
    if activity.ndim != 2 or len(activity) != len(directions_rad) or len(set(np.round(directions_rad, 9))) < 3:
        raise ValueError("activity must be (n, units) for n reach directions, at least 3 distinct")
    design = np.stack([np.ones_like(directions_rad), np.cos(directions_rad), np.sin(directions_rad)], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, activity, rcond=None)
    fitted = design @ coefficients
    total = np.sum((activity - activity.mean(axis=0)) ** 2, axis=0)
    r2 = np.where(total > 0, 1 - np.sum((activity - fitted) ** 2, axis=0) / np.where(total > 0, total, 1), 0.0)
    return TuningResult(
        preferred_direction_rad=np.arctan2(coefficients[2], coefficients[1]),
        depth=np.hypot(coefficients[1], coefficients[2]),
        baseline=coefficients[0],
        r2=r2,
        tuned_fraction=float(np.mean(r2 > threshold)),
    )


__all__ = [
    "JPCAResult",
    "PCAResult",
    "TuningResult",
    "cosine_tuning",
    "jpca",
    "pca",
    "smooth_gaussian",
    "soft_normalize",
]
