"""The batched Kalman filter against ByteTrack's per-track formulas."""
import numpy as np
import pytest

from finetrack_ros.tracker.kalman import KalmanFilter

SP, SV = 1 / 20, 1 / 160


def test_initiate_noise_matches_bytetrack():
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 0.5, 80.0]]))
    h = 80.0
    std = [2 * SP * h, 2 * SP * h, 1e-2, 2 * SP * h, 10 * SV * h, 10 * SV * h, 1e-5, 10 * SV * h]
    np.testing.assert_allclose(mean[0], [100, 50, 0.5, 80, 0, 0, 0, 0])
    np.testing.assert_allclose(cov[0], np.diag(np.square(std)))


def test_predict_is_constant_velocity_with_height_scaled_noise():
    kf = KalmanFilter()
    mean = np.array([[10.0, 20.0, 0.5, 100.0, 1.0, -2.0, 0.0, 3.0]])
    cov = np.eye(8)[None]
    new_mean, new_cov = kf.predict(mean, cov)
    np.testing.assert_allclose(new_mean[0], [11, 18, 0.5, 103, 1, -2, 0, 3])
    f = np.eye(8) + np.eye(8, k=4)
    q = np.diag(np.square([SP * 100, SP * 100, 1e-2, SP * 100, SV * 100, SV * 100, 1e-5,
                           SV * 100]))
    np.testing.assert_allclose(new_cov[0], f @ np.eye(8) @ f.T + q)


def _update_reference(mean, cov, z):
    """DeepSORT/ByteTrack KalmanFilter.update for one track (Cholesky solve)."""
    import scipy.linalg

    h_mat = np.eye(4, 8)
    std = [SP * mean[3], SP * mean[3], 1e-1, SP * mean[3]]
    s = h_mat @ cov @ h_mat.T + np.diag(np.square(std))
    chol = scipy.linalg.cho_factor(s, lower=True)
    gain = scipy.linalg.cho_solve(chol, (cov @ h_mat.T).T).T
    return mean + (z - h_mat @ mean) @ gain.T, cov - gain @ s @ gain.T


def test_batched_update_equals_per_track_reference():
    rng = np.random.default_rng(1)
    kf = KalmanFilter()
    z0 = np.column_stack([rng.uniform(0, 500, 5), rng.uniform(0, 500, 5),
                          rng.uniform(0.3, 0.6, 5), rng.uniform(40, 200, 5)])
    means, covs = kf.initiate(z0)
    means, covs = kf.predict(means, covs)
    z = z0 + rng.normal(0, 2, z0.shape)
    new_means, new_covs = kf.update(means, covs, z)
    for i in range(5):
        ref_mean, ref_cov = _update_reference(means[i], covs[i], z[i])
        np.testing.assert_allclose(new_means[i], ref_mean, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(new_covs[i], ref_cov, rtol=1e-10, atol=1e-12)
    # the correction pulls the mean towards the measurement and shrinks the covariance
    assert np.all(np.abs(new_means[:, :4] - z) <= np.abs(means[:, :4] - z) + 1e-12)
    assert np.all(np.diagonal(new_covs, axis1=1, axis2=2) < np.diagonal(covs, axis1=1, axis2=2))


def test_velocity_converges_on_a_moving_box():
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[0.0, 0.0, 0.5, 100.0]]))
    for step in range(1, 30):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, np.array([[5.0 * step, 0.0, 0.5, 100.0]]))
    assert mean[0, 4] == pytest.approx(5.0, abs=0.05)
