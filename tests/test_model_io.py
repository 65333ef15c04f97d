"""Saved models: the format version, and clear refusals of folders that cannot be read."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import cocluster_kit as ckit
from cocluster_kit.model import FORMAT_VERSION, MissingModelError, ModelFileError

FAST = {"max_epochs": 2, "pretrain_epochs": 1, "progress": False, "n_samples": 2}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, small_checkerboard):
    """A fitted model, and the folder it was saved to (copy it before damaging it)."""
    model = ckit.CoclusterVAE(3, 2, random_state=0, **FAST).fit(small_checkerboard[0])
    folder = tmp_path_factory.mktemp("saved") / "model"
    model.save(folder)
    return model, folder


@pytest.fixture
def copy(saved, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(saved[1], target)
    return target


def _edit_metadata(folder, **changes) -> None:
    path = folder / "model.json"
    metadata = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            metadata.pop(key)
        else:
            metadata[key] = value
    path.write_text(json.dumps(metadata))


def test_saved_model_records_its_format_and_loads(saved):
    model, folder = saved
    metadata = json.loads((folder / "model.json").read_text())
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["class"] == "CoclusterVAE"
    assert metadata["package_version"] == ckit.__version__
    loaded = ckit.CoclusterVAE.load(folder, device="cpu")
    np.testing.assert_array_equal(loaded.row_labels_, model.row_labels_)


def test_newer_format_is_refused_with_upgrade_hint(copy):
    _edit_metadata(copy, format_version=FORMAT_VERSION + 1, package_version="9.0")
    with pytest.raises(ModelFileError, match=r"model.json.*cocluster-kit 9.0.*pip install -U"):
        ckit.CoclusterVAE.load(copy)


def test_older_or_damaged_version_field_is_refused(copy):
    _edit_metadata(copy, format_version=FORMAT_VERSION - 1)
    with pytest.raises(ValueError, match=r"model.json: model format 0 .* older"):
        ckit.CoclusterVAE.load(copy)
    _edit_metadata(copy, format_version="1")
    with pytest.raises(ValueError, match="not an integer"):
        ckit.CoclusterVAE.load(copy)
    _edit_metadata(copy, format_version=None)
    with pytest.raises(ValueError, match="no 'format_version'"):
        ckit.CoclusterVAE.load(copy)


def test_other_class_is_refused(copy):
    _edit_metadata(copy, **{"class": "SpectralBiclustering"})
    with pytest.raises(
        ValueError, match=r"holds a 'SpectralBiclustering'.*SpectralBiclustering.load"
    ):
        ckit.CoclusterVAE.load(copy)


def test_missing_files_are_named(copy, tmp_path):
    with pytest.raises(MissingModelError, match="no such folder"):
        ckit.CoclusterVAE.load(tmp_path / "nowhere")
    (copy / "model.pt").unlink()
    with pytest.raises(ValueError, match=r"model.pt is missing.*Save the model again"):
        ckit.CoclusterVAE.load(copy)
    (copy / "model.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"model.json is missing"):
        ckit.CoclusterVAE.load(copy)


def test_corrupt_files_are_named(copy, saved):
    text = (copy / "model.json").read_text()
    (copy / "model.json").write_text(text[: len(text) // 2])  # truncated
    with pytest.raises(ModelFileError, match=r"model.json is not valid JSON.*damaged"):
        ckit.CoclusterVAE.load(copy)
    shutil.copy(saved[1] / "model.json", copy / "model.json")
    _edit_metadata(copy, config=None)
    with pytest.raises(ModelFileError, match=r"lacks 'config'"):
        ckit.CoclusterVAE.load(copy)
    shutil.copy(saved[1] / "model.json", copy / "model.json")
    weights = (copy / "model.pt").read_bytes()
    (copy / "model.pt").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ModelFileError, match=r"model.pt cannot be read.*damaged"):
        ckit.CoclusterVAE.load(copy)
    torch.save({"something": torch.zeros(1)}, copy / "model.pt")
    with pytest.raises(ModelFileError, match="does not hold a saved model"):
        ckit.CoclusterVAE.load(copy)


def test_weights_that_do_not_match_the_sidecar_are_refused(copy):
    tensors = torch.load(copy / "model.pt", weights_only=True)
    name = next(key for key in tensors if key.startswith("module.") and key.endswith("weight"))
    tensors[name] = torch.zeros(tensors[name].shape[0] + 1, 2)  # a layer of another size
    torch.save(tensors, copy / "model.pt")
    with pytest.raises(ModelFileError, match=r"model.pt does not match .*model.json"):
        ckit.CoclusterVAE.load(copy)


def test_failed_save_leaves_the_old_model(saved, copy):
    model = saved[0]
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    model.config_["not json"] = object()  # the sidecar cannot be written
    try:
        with pytest.raises(TypeError):
            model.save(copy)
    finally:
        del model.config_["not json"]
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before
    assert sorted(p.name for p in copy.parent.iterdir()) == ["model"]  # no leftovers
    ckit.CoclusterVAE.load(copy)


def test_save_never_replaces_a_foreign_folder(saved, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"not a saved model \(notes.txt\)"):
        saved[0].save(folder)
    assert (folder / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="is a file"):
        saved[0].save(folder / "notes.txt")
