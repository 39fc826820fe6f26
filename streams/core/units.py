"""Units and array types used across the pipeline, defined once.

Times are epoch milliseconds (UTC) everywhere in the pipeline; arrays are numpy columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

MINUTE_MS = 60_000
"""One minute in milliseconds: bars are 1-minute bars keyed by their open time."""
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
B = npt.NDArray[np.bool_]
Array = npt.NDArray[Any]

__all__ = ["B", "DAY_MS", "F64", "HOUR_MS", "I32", "I64", "MINUTE_MS", "Array"]
