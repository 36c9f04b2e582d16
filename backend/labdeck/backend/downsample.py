"""Shrinking a series for display (F-SM-6) while keeping its shape.

MinMaxLTTB keeps every spike a chart must show (min/max preselection) and
then picks visually important points (LTTB), in native code; the full data
stays stored, only what is drawn is reduced.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from tsdownsample import MinMaxLTTBDownsampler

MIN_POINTS = 3  # LTTB keeps the first and last point and needs one between

FloatArray = npt.NDArray[np.float64]


def downsample(t: FloatArray, v: FloatArray, n_out: int) -> tuple[FloatArray, FloatArray, bool]:
    """(t, v, reduced): at most `n_out` points of a series sorted by `t`."""
    if n_out < MIN_POINTS:
        raise ValueError(f"n_out must be at least {MIN_POINTS}")
    if len(t) <= n_out:
        return t, v, False
    # The native code wants contiguous arrays; columns sliced from a table are not.
    t, v = np.ascontiguousarray(t), np.ascontiguousarray(v)
    index = MinMaxLTTBDownsampler().downsample(t, v, n_out=n_out)
    return t[index], v[index], True
