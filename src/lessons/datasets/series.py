"""Time series for forecasting: real daily Google (GOOG) prices shipped with matplotlib, and the
windowing that turns any series into supervised ``(past window, future value)`` pairs.

Examples:
    >>> import numpy as np
    >>> X, y = make_windows(np.arange(6.0), window=3)
    >>> X.tolist(), y.tolist()
    ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]], [3.0, 4.0, 5.0])
"""

from __future__ import annotations

import numpy as np

from lessons.checks import check_choice, check_int

__all__ = ["GOOG_COLUMNS", "chronological_split", "load_goog", "make_windows"]

#: Numeric columns of the GOOG sample data.
GOOG_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume", "adj_close")


def load_goog(column: str = "adj_close") -> tuple[np.ndarray, np.ndarray]:
    """Daily prices of Google stock, 2004-08-19 to 2008-10-14 (1,047 trading days), offline.

    The data ship inside matplotlib as ``sample_data/goog.npz`` (Yahoo! Finance daily bars; matplotlib's
    licence covers its sample data), so nothing is downloaded.

    Args:
        column: one of `GOOG_COLUMNS`; ``"adj_close"`` (the default) is the close adjusted for splits.

    Returns:
        ``(dates, values)``: ``dates`` of dtype ``datetime64[D]`` and ``values`` of dtype ``float64``,
        both of shape ``(1047,)``, in time order.

    Raises:
        ValueError: `column` is not one of `GOOG_COLUMNS`.
        FileNotFoundError: this matplotlib does not ship ``goog.npz`` (it has since 1.x; checked with 3.11).
    """
    check_choice("column", column, GOOG_COLUMNS)
    from matplotlib import cbook

    try:
        data = cbook.get_sample_data("goog.npz")
    except (FileNotFoundError, OSError) as err:  # pragma: no cover - depends on the install
        raise FileNotFoundError("matplotlib's sample data goog.npz is missing from this install") from err
    prices = data["price_data"]
    order = np.argsort(prices["date"], kind="stable")
    return prices["date"][order].astype("datetime64[D]"), prices[column][order].astype(np.float64)


def make_windows(series: np.ndarray, window: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Slice a series into overlapping supervised pairs: ``window`` past steps -> the next ``horizon``.

    Pair ``i`` is ``X[i] = series[i : i+window]`` and ``y[i] = series[i+window : i+window+horizon]``.

    Args:
        series: shape ``(N,)`` (one variable) or ``(N, F)`` (``F`` features per step).
        window: number of past steps the model sees, >= 1.
        horizon: number of future steps to predict, >= 1.

    Returns:
        ``(X, y)`` with ``X`` of shape ``(M, window)`` or ``(M, window, F)`` and ``y`` of shape ``(M,)``
        when ``horizon == 1`` (else ``(M, horizon)`` / ``(M, horizon, F)``), where
        ``M = N - window - horizon + 1``. Copies, not views.

    Raises:
        TypeError: `window` or `horizon` is not an int.
        ValueError: `series` is not 1-D or 2-D, `window` / `horizon` < 1, or the series is too short
            for one pair.
    """
    series = np.asarray(series)
    if series.ndim not in (1, 2):
        raise ValueError(f"series must be 1-D or 2-D, got shape {series.shape}")
    window, horizon = check_int("window", window, ge=1), check_int("horizon", horizon, ge=1)
    m = len(series) - window - horizon + 1
    if m < 1:
        raise ValueError(
            f"series of length {len(series)} is too short for window={window} + horizon={horizon}"
        )
    idx = np.arange(m)[:, None]
    X = series[idx + np.arange(window)]
    y = series[idx + window + np.arange(horizon)]
    if horizon == 1:
        y = y[:, 0]
    return X.copy(), y.copy()


def chronological_split(n: int, fractions: tuple[float, ...] = (0.7, 0.15, 0.15)) -> list[slice]:
    """Cut ``range(n)`` into consecutive parts (train, validation, test ...) without shuffling.

    A forecast must be tested on a later period than it was trained on; a shuffled split would let the
    model see the future.

    Args:
        n: number of samples, >= number of parts.
        fractions: positive shares that sum to 1.

    Returns:
        One `slice` per fraction, covering ``0 .. n`` in order.

    Raises:
        ValueError: a fraction is not positive, they do not sum to 1, or a part would be empty.

    Examples:
        >>> chronological_split(10, (0.8, 0.2))
        [slice(0, 8, None), slice(8, 10, None)]
    """
    if len(fractions) == 0 or any(f <= 0 for f in fractions):
        raise ValueError(f"fractions must be positive, got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {sum(fractions)}")
    bounds = np.round(np.cumsum((0.0, *fractions)) * n).astype(int)
    if np.any(np.diff(bounds) < 1):
        raise ValueError(f"n={n} is too small: a part of fractions {fractions} would be empty")
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
