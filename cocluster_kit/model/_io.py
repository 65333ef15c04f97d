"""Save and load a fitted ``CoclusterVAE``: tensors (``weights_only``-safe) + JSON sidecar."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from .._version import __version__
from ..train import MONITORED_TERMS
from ._fit import best_epoch_bound

FORMAT_VERSION = 1
TENSORS_FILE = "model.pt"
METADATA_FILE = "model.json"
_FITTED_ARRAYS = ("row_embedding_", "column_embedding_", "block_means_")
_VIEW_ARRAYS = ("feature_shift", "feature_scale", "idf")
_MODEL_FILES = (TENSORS_FILE, METADATA_FILE)
_REQUIRED_KEYS = (
    "params",
    "config",
    "n_features_in",
    "shape",
    "row_names",
    "column_names",
    "history",
)


def _json_params(estimator) -> dict:
    params = estimator.get_params()
    params["callbacks"] = None  # functions are not data
    params["hidden"] = list(params["hidden"])
    params["decoder_hidden"] = list(params["decoder_hidden"])
    return params


def save_model(estimator, path) -> None:
    """Write ``model.pt`` and ``model.json`` into ``path`` under a temporary name, then rename.

    A failure while writing leaves an existing ``path`` as it was (see
    :func:`cocluster_kit._outputs.swap_into_place`).
    """
    from .._outputs import fresh_path, swap_into_place

    target = Path(path).absolute()
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file; give save a folder path (it writes two files).")
    if target.is_dir():
        foreign = sorted(p.name for p in target.iterdir() if p.name not in _MODEL_FILES)
        if foreign:
            raise ValueError(
                f"{target} holds files that are not a saved model ({', '.join(foreign[:3])}); "
                "saving would replace the folder, so give a new or empty folder."
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = fresh_path(target, "partial")
    staging.mkdir()  # honours the umask (mkdtemp would make it private)
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
        swap_into_place(staging, target)
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


class ModelFileError(ValueError):
    """A saved model that cannot be read; the message names the file and the fix."""


class MissingModelError(ModelFileError, FileNotFoundError):
    """A folder that holds no saved model (also a :class:`FileNotFoundError`)."""


def read_metadata(folder: Path, cls_name: str) -> dict:
    """``model.json`` of ``folder``, checked: JSON, format version, class, required keys.

    Raises
    ------
    MissingModelError
        If ``folder`` or its ``model.json`` / ``model.pt`` does not exist.
    ModelFileError
        If ``model.json`` is not valid JSON, lacks a key, was written in another format
        version, or describes another class.
    """
    if not folder.is_dir():
        raise MissingModelError(
            f"{folder}: no such folder; give the folder that {cls_name}.save wrote."
        )
    meta_path = folder / METADATA_FILE
    if not meta_path.is_file():
        raise MissingModelError(
            f"{folder} holds no saved model ({METADATA_FILE} is missing); give the folder "
            f"that {cls_name}.save wrote."
        )
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(
            f"{meta_path} is not valid JSON ({error}); the file is damaged or truncated. Save "
            "the model again, or restore the folder from a copy."
        ) from None
    if not isinstance(metadata, dict) or "format_version" not in metadata:
        raise ModelFileError(
            f"{meta_path} has no 'format_version': it was not written by {cls_name}.save; "
            "give the folder that save wrote."
        )
    version = metadata["format_version"]
    saved_by = metadata.get("package_version", "unknown")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(
            f"{meta_path}: format_version={version!r} is not an integer; the file is damaged. "
            "Save the model again."
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{meta_path}: the model was saved by cocluster-kit {saved_by} in model format "
            f"{version}, but this cocluster-kit ({__version__}) reads format {FORMAT_VERSION}; "
            "upgrade cocluster-kit (pip install -U cocluster-kit) to load it."
        )
    if version < FORMAT_VERSION:
        raise ModelFileError(
            f"{meta_path}: model format {version} (cocluster-kit {saved_by}) is older than the "
            f"format {FORMAT_VERSION} this cocluster-kit ({__version__}) reads; load it with "
            f"cocluster-kit {saved_by} and refit, or refit with this version."
        )
    if metadata.get("class") != cls_name:
        raise ModelFileError(
            f"{meta_path} holds a {metadata.get('class')!r}, not a {cls_name}; load it with "
            f"{metadata.get('class')}.load."
        )
    missing = [key for key in _REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ModelFileError(
            f"{meta_path} lacks {', '.join(map(repr, missing))}; the file is damaged. Save the "
            "model again."
        )
    if not (folder / TENSORS_FILE).is_file():
        raise MissingModelError(
            f"{folder / TENSORS_FILE} is missing (the model's weights); the folder is "
            "incomplete. Save the model again, or restore the folder from a copy."
        )
    return metadata


def read_tensors(folder: Path) -> dict:
    """``model.pt`` of ``folder`` (``weights_only``); damaged: :class:`ModelFileError`."""
    path = folder / TENSORS_FILE
    try:
        tensors = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # torch raises several types for damaged files
        raise ModelFileError(
            f"{path} cannot be read ({type(error).__name__}: {str(error)[:200]}); the file is "
            "damaged or truncated. Save the model again, or restore the folder from a copy."
        ) from None
    needed = [f"fitted.{name}" for name in _FITTED_ARRAYS]
    if not isinstance(tensors, dict) or any(key not in tensors for key in needed):
        raise ModelFileError(f"{path} does not hold a saved model's tensors; save the model again.")
    return tensors


def load_model(cls, path, *, device: str = "auto"):
    """Rebuild an estimator saved by :func:`save_model`.

    Raises
    ------
    MissingModelError
        If ``path`` is not a folder holding ``model.json`` and ``model.pt``.
    ModelFileError
        If a file is damaged, was written in a newer (or older) format, or holds another
        class; the message names the file and the fix.
    """
    from .._utils import resolve_device
    from ..module import CoclusterModule

    folder = Path(path)
    metadata = read_metadata(folder, cls.__name__)
    tensors = read_tensors(folder)
    params = metadata["params"]
    params["hidden"] = tuple(params["hidden"])
    params["decoder_hidden"] = tuple(params["decoder_hidden"])
    params.setdefault("monitor", "objective")  # saved before monitor= existed: what it used
    estimator = cls(**params)
    config = metadata["config"]
    module = CoclusterModule(**config["module"])
    try:
        module.load_state_dict(
            {k.removeprefix("module."): v for k, v in tensors.items() if k.startswith("module.")}
        )
    except RuntimeError as error:
        raise ModelFileError(
            f"{folder / TENSORS_FILE} does not match {folder / METADATA_FILE} "
            f"({str(error).splitlines()[0]}); the two files come from different saves. Save "
            "the model again."
        ) from None
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
    monitored = MONITORED_TERMS.get(params["monitor"], "objective")
    estimator.bound_ = best_epoch_bound(
        estimator.history_,
        *metadata["shape"],
        monitored=monitored,
        min_delta=float(params["min_delta"]),
    )
    rows = _rows_view(tensors, config["input_transform"], metadata["n_features_in"])
    estimator.data_ = _LoadedData(rows, metadata["shape"], config["likelihood"])
    for name in _FITTED_ARRAYS:
        setattr(estimator, name, tensors[f"fitted.{name}"].numpy())
    estimator._set_memberships(estimator.row_embedding_, estimator.column_embedding_)
    return estimator
