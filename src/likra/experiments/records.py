"""Reading an experiment's record (NAME.json) back: the one reader claims, markdown and table use."""

from __future__ import annotations

import math
from pathlib import Path


def load_record(path: Path) -> dict:
    """A record as its readers need it: JSON has no NaN, so an interval from one seed was written as null
    (`low`/`high`, and a mean of nothing); it comes back as NaN, which every judge and format knows.
    A damaged record is an ArtifactError naming the file, not a crash."""
    from likra.io_utils import read_json_object

    return _nan_back(read_json_object(path))


def _nan_back(obj):
    if isinstance(obj, dict):
        return {k: math.nan if v is None and k in ("mean", "low", "high") else _nan_back(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_back(v) for v in obj]
    return obj
