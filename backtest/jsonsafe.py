"""Strict JSON for run files and PostgreSQL's JSONB: one cleaner for every research result."""

from __future__ import annotations

from typing import Any

import numpy as np


def clean(value: Any) -> Any:
    """Return ``value`` with numpy scalars and arrays as Python values and NaN/inf as None, recursively.

    Dict keys become strings; tuples and arrays become lists. JSON has no NaN and JSONB rejects it.
    """
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [clean(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
