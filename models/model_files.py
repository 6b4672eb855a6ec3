"""A fitted conversion model as files of data: LightGBM's text model and JSON numbers.

Nothing in them is code: reading them back runs none (see `models.artifacts`)."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from models.calibration import ProbabilityCalibrator
from models.conversion import ConversionModel
from models.linear import LinearLogOdds, floats_from_json, floats_to_json

TREES_FILE = "trees.txt"
NUMBERS_FILE = "model.json"


def write_model_files(model: ConversionModel, folder: Path) -> dict[str, str]:
    """Write the fitted `model` into `folder`; returns {role: file name}."""
    check_is_fitted(model, "calibrator_")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TREES_FILE).write_text(model.booster_.model_to_string())
    numbers = {
        "params": model.get_params(),
        "best_iteration": model.best_iteration_,
        "feature_names": [str(n) for n in model.feature_names_in_],
        "linear_weight": model.linear_weight_,
        "category_levels": {
            name: [str(level) for level in dtype.categories]
            for name, dtype in model.category_dtypes_.items()
        },
        "feature_low": floats_to_json(model.feature_low_),
        "feature_high": floats_to_json(model.feature_high_),
        "calibrator": model.calibrator_.to_dict(),
        "linear": model.linear_.to_dict() if model.linear_ is not None else None,
    }
    (folder / NUMBERS_FILE).write_text(json.dumps(numbers, allow_nan=False))
    return {"trees": TREES_FILE, "numbers": NUMBERS_FILE}


def read_model_files(folder: Path) -> ConversionModel:
    """The model `write_model_files` wrote into `folder`."""
    numbers = json.loads((folder / NUMBERS_FILE).read_text())
    model = ConversionModel(**numbers["params"])
    model.booster_ = lgb.Booster(model_str=(folder / TREES_FILE).read_text())
    model.best_iteration_ = int(numbers["best_iteration"])
    model.feature_names_in_ = np.asarray(numbers["feature_names"], dtype=object)
    model.classes_ = np.array([0, 1])
    model.linear_weight_ = float(numbers["linear_weight"])
    model.category_dtypes_ = {
        name: pd.CategoricalDtype(levels, ordered=False)
        for name, levels in numbers["category_levels"].items()
    }
    model.feature_low_ = floats_from_json(numbers["feature_low"])
    model.feature_high_ = floats_from_json(numbers["feature_high"])
    model.calibrator_ = ProbabilityCalibrator.from_dict(numbers["calibrator"])
    linear = numbers["linear"]
    model.linear_ = LinearLogOdds.from_dict(linear) if linear is not None else None
    return model
