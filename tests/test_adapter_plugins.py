"""Third-party adapters are discovered through the ``cocluster_kit.adapters`` entry points."""

from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pytest

from cocluster_kit import adapters

AdapterError = adapters.AdapterError

PLUGIN_MODULE = "ckit_dummy_plugin"

PLUGIN_SOURCE = '''
"""A dummy adapter: reads ``.dummy`` files holding one number, as a 2 x 3 matrix of it."""

import anndata as ad
import numpy as np

from cocluster_kit.adapters import Adapter


class DummyAdapter(Adapter):
    """Subclasses the package's base class: its default can_read checks the suffix."""

    name = "dummy"
    extensions = (".dummy",)
    description = "one number, as a 2 x 3 matrix"

    def read(self, source, *, scale=1.0):
        with open(source) as handle:
            value = float(handle.read()) * scale
        adata = ad.AnnData(np.full((2, 3), value, dtype=np.float32))
        adata.uns["ckit_source"] = {"adapter": "dummy", "source": str(source),
                                    "likelihood": "gaussian", "layer": "",
                                    "options": {"scale": scale}}
        return adata


class BareAdapter:
    """Matches the protocol without the base class; returns no source record."""

    name = "bare"

    def can_read(self, source):
        return False

    def read(self, source):
        return ad.AnnData(np.ones((1, 1), dtype=np.float32))


class NotAnAdapter:
    pass


class CrashingAdapter:
    name = "crashing"

    def can_read(self, source):
        raise RuntimeError("boom")

    def read(self, source):
        return [1, 2, 3]
'''

ENTRY_POINTS = f"""
[{adapters.ENTRY_POINT_GROUP}]
dummy = {PLUGIN_MODULE}:DummyAdapter
bare = {PLUGIN_MODULE}:BareAdapter
broken = {PLUGIN_MODULE}_missing:Adapter
notadapter = {PLUGIN_MODULE}:NotAnAdapter
crashing = {PLUGIN_MODULE}:CrashingAdapter
text = {PLUGIN_MODULE}:DummyAdapter
"""


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A tiny distribution on ``sys.path`` declaring adapters under the entry-point group."""
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE)
    dist_info = site / "ckit_dummy_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ckit-dummy-plugin\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, PLUGIN_MODULE, raising=False)
    importlib.invalidate_caches()
    yield site
    sys.modules.pop(PLUGIN_MODULE, None)


def test_plugin_is_not_there_before_installation():
    assert "dummy" not in adapters.available()
    with pytest.raises(AdapterError, match="unknown adapter 'dummy'"):
        adapters.get("dummy")


def test_plugin_is_listed_and_used_by_name(installed_plugin, tmp_path):
    with pytest.warns(UserWarning, match="built-in name 'text'"):
        names = adapters.available()
    assert names[:3] == ["text", "anndata", "tabular"]
    assert {"dummy", "bare", "broken", "notadapter", "crashing"} <= set(names[3:])
    assert names.count("text") == 1  # a plugin cannot take a built-in name
    source = tmp_path / "value.dummy"
    source.write_text("2.5")
    with pytest.warns(UserWarning, match="built-in name"):
        adata = adapters.read(source, adapter="dummy", scale=2.0)
    np.testing.assert_array_equal(adata.X, np.full((2, 3), 5.0, dtype=np.float32))
    assert adata.uns["ckit_source"]["options"] == {"scale": 2.0}
    assert type(adapters.get("text")).__name__ == "TextAdapter"


def test_plugin_is_chosen_when_its_can_read_accepts(installed_plugin, tmp_path):
    source = tmp_path / "value.dummy"
    source.write_text("1")
    with pytest.warns(UserWarning) as caught:
        adata = adapters.read(source)
    assert adata.uns["ckit_source"]["adapter"] == "dummy"
    # plugins are asked in name order: "bare" declines, "broken" and "crashing" are skipped
    messages = " ".join(str(warning.message) for warning in caught)
    assert "'broken'" in messages and "failed to load" in messages
    assert "'crashing': can_read raised RuntimeError" in messages


def test_broken_or_invalid_plugins_give_adapter_errors(installed_plugin, tmp_path):
    source = tmp_path / "value.dummy"
    source.write_text("1")
    with pytest.warns(UserWarning, match="built-in name"):
        with pytest.raises(AdapterError, match=r"'broken'.*failed to load.*ModuleNotFound"):
            adapters.read(source, adapter="broken")
        with pytest.raises(AdapterError, match="is not an adapter"):
            adapters.get("notadapter")
        with pytest.raises(AdapterError, match="returned a list, not an AnnData"):
            adapters.read(source, adapter="crashing")


def test_plugin_result_gets_a_minimal_source_record(installed_plugin, tmp_path):
    with pytest.warns(UserWarning, match="built-in name"):
        adata = adapters.read(tmp_path / "anything", adapter="bare")
    assert adata.uns["ckit_source"] == {
        "adapter": "bare",
        "source": str(tmp_path / "anything"),
        "likelihood": "auto",
        "layer": "",
        "options": {},
    }
    adata.write_h5ad(tmp_path / "bare.h5ad")
