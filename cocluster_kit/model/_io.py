"""Save and load a fitted ``CoclusterVAE``: tensors (``weights_only``-safe) + JSON sidecar."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from .._version import __version__
from ._fit import best_epoch_bound

FORMAT_VERSION = 1
TENSORS_FILE = "model.pt"
METADATA_FILE = "model.json"
_FITTED_ARRAYS = ("row_embedding_", "column_embedding_", "block_means_")
_VIEW_ARRAYS = ("feature_shift", "feature_scale", "idf")


def _json_params(estimator) -> dict:
    params = estimator.get_params()
    params["callbacks"] = None  # functions are not data
    params["hidden"] = list(params["hidden"])
    params["decoder_hidden"] = list(params["decoder_hidden"])
    return params


def save_model(estimator, path) -> None:
    """Write ``model.pt`` and ``model.json`` into ``path`` under a temporary name, then rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tensors = {
            f"module.{k}": v.detach().cpu() for k, v in estimator.module_.state_dict().items()
        }
        for name in _FITTED_ARRAYS:
            tensors[f"fitted.{name}"] = torch.as_tensor(np.asarray(getattr(estimator, name)))
        rows_view = estimator.data_.rows
        for name in _VIEW_ARRAYS:
            value = getattr(rows_view, name)
            if value is not None:
                tensors[f"view.{name}"] = torch.as_tensor(np.asarray(value))
        torch.save(tensors, staging / TENSORS_FILE)
        metadata = {
            "format_version": FORMAT_VERSION,
            "class": type(estimator).__name__,
            "package_version": __version__,
            "params": _json_params(estimator),
            "config": estimator.config_,
            "n_features_in": int(estimator.n_features_in_),
            "shape": list(estimator.data_.shape),
            "row_names": list(estimator.row_names_),
            "column_names": list(estimator.column_names_),
            "history": estimator.history_.to_dict(orient="list"),
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(target, backup)
            os.replace(staging, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _rows_view(tensors: dict, input_transform: str, n_features: int):
    """The training row view's statistics (scaling, idf), enough to read new rows."""
    from ..data import MatrixView

    stats = {name: tensors.get(f"view.{name}") for name in _VIEW_ARRAYS}
    stats = {name: None if value is None else value.numpy() for name, value in stats.items()}
    return MatrixView(
        sp.csr_matrix((0, n_features), dtype=np.float32),
        None,
        input_transform=input_transform,
        feature_shift=stats["feature_shift"],
        feature_scale=stats["feature_scale"],
        idf=stats["idf"],
    )


class _LoadedData:
    """Stands in for the training data of a loaded model (shape and row-view statistics)."""

    def __init__(self, rows, shape, likelihood):
        self.rows = rows
        self.shape = tuple(shape)
        self.likelihood = likelihood
        self.column_shift = None if rows.feature_shift is None else rows.feature_shift.ravel()
        self.column_scale = None if rows.feature_scale is None else rows.feature_scale.ravel()


def load_model(cls, path, *, device: str = "auto"):
    """Rebuild an estimator saved by :func:`save_model`."""
    from .._utils import resolve_device
    from ..module import CoclusterModule

    folder = Path(path)
    meta_path = folder / METADATA_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{folder} holds no saved model ({METADATA_FILE} is missing); give the directory "
            "that CoclusterVAE.save wrote."
        )
    metadata = json.loads(meta_path.read_text())
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{folder} was saved in model format {version!r}, but this cocluster-kit "
            f"({__version__}) reads format {FORMAT_VERSION}; load it with the version that "
            f"saved it ({metadata.get('package_version', 'unknown')}) and refit."
        )
    if metadata.get("class") != cls.__name__:
        raise ValueError(f"{folder} holds a {metadata.get('class')}, not a {cls.__name__}.")
    tensors = torch.load(folder / TENSORS_FILE, weights_only=True, map_location="cpu")
    params = metadata["params"]
    params["hidden"] = tuple(params["hidden"])
    params["decoder_hidden"] = tuple(params["decoder_hidden"])
    estimator = cls(**params)
    config = metadata["config"]
    module = CoclusterModule(**config["module"])
    module.load_state_dict(
        {k.removeprefix("module."): v for k, v in tensors.items() if k.startswith("module.")}
    )
    target_device = resolve_device(device)
    estimator.module_ = module.to(target_device).eval()
    estimator.config_ = config
    estimator.likelihood_ = config["likelihood"]
    estimator.input_transform_ = config["input_transform"]
    estimator.device_ = str(target_device)
    estimator.n_features_in_ = metadata["n_features_in"]
    estimator.row_names_ = metadata["row_names"]
    estimator.column_names_ = metadata["column_names"]
    estimator.history_ = pd.DataFrame(metadata["history"])
    estimator.bound_ = best_epoch_bound(estimator.history_, *metadata["shape"])
    rows = _rows_view(tensors, config["input_transform"], metadata["n_features_in"])
    estimator.data_ = _LoadedData(rows, metadata["shape"], config["likelihood"])
    for name in _FITTED_ARRAYS:
        setattr(estimator, name, tensors[f"fitted.{name}"].numpy())
    estimator._set_memberships(estimator.row_embedding_, estimator.column_embedding_)
    return estimator
