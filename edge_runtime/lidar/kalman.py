"""Motion model: a constant-velocity Kalman filter on the ground plane (state x, y, vx, vy).

People walk at nearly constant velocity over the 0.1 s between frames; a white-noise
acceleration term (``process_noise``) absorbs turns and speed changes.
"""
from __future__ import annotations

import numpy as np

_H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])


class ConstantVelocityKalman:
    def __init__(self, xy: np.ndarray, process_noise: float, measurement_noise_m: float,
                 initial_speed_sigma: float = 1.5):
        self.state = np.array([xy[0], xy[1], 0.0, 0.0])
        self.covariance = np.diag([measurement_noise_m ** 2] * 2 + [initial_speed_sigma ** 2] * 2)
        self.q = process_noise
        self.r = np.eye(2) * measurement_noise_m ** 2

    def predict(self, dt: float) -> np.ndarray:
        f = np.eye(4)
        f[0, 2] = f[1, 3] = dt
        g = np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]]) * self.q
        q = np.zeros((4, 4))
        q[np.ix_([0, 2], [0, 2])] = g
        q[np.ix_([1, 3], [1, 3])] = g
        self.state = f @ self.state
        self.covariance = f @ self.covariance @ f.T + q
        return self.state[:2]

    def update(self, xy: np.ndarray, noise_m: float | None = None) -> None:
        """``noise_m`` overrides the measurement noise for this one update (a detection that
        merges two people measures neither of them well)."""
        innovation = xy - _H @ self.state
        r = self.r if noise_m is None else np.eye(2) * noise_m ** 2
        s = _H @ self.covariance @ _H.T + r
        gain = self.covariance @ _H.T @ np.linalg.inv(s)
        self.state = self.state + gain @ innovation
        self.covariance = (np.eye(4) - gain @ _H) @ self.covariance

    @property
    def position(self) -> np.ndarray:
        return self.state[:2]

    @property
    def velocity(self) -> np.ndarray:
        return self.state[2:]
