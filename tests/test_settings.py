"""ckit.settings: defaults, validation, override(), and logging through `logging`."""

from __future__ import annotations

import logging

import pytest

import cocluster_kit as ckit

LOGGER = logging.getLogger("cocluster_kit")


def test_defaults_and_repr():
    settings = ckit.settings
    assert settings.verbosity == 1 and settings.seed == 0
    assert settings.device == "auto" and settings.progress is True
    assert "verbosity=1" in repr(settings)


def test_override_sets_and_restores_even_on_error():
    settings = ckit.settings
    with settings.override(verbosity="info", seed=7, device="cpu", progress=False):
        assert (settings.verbosity, settings.seed) == (2, 7)
        assert (settings.device, settings.progress) == ("cpu", False)
        assert LOGGER.level == logging.INFO
    assert (settings.verbosity, settings.seed, settings.device, settings.progress) == (
        1,
        0,
        "auto",
        True,
    )
    assert LOGGER.level == logging.WARNING
    with pytest.raises(RuntimeError), settings.override(seed=3):
        raise RuntimeError("inside")
    assert settings.seed == 0
    with pytest.raises(ValueError, match="device"), settings.override(seed=9, device="tpu"):
        pass
    assert settings.seed == 0  # a bad value leaves every setting as it was


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("verbosity", 5),
        ("verbosity", "loud"),
        ("verbosity", True),
        ("seed", -1),
        ("seed", 1.5),
        ("device", "tpu"),
        ("device", "cpu:1"),
        ("progress", "yes"),
    ],
)
def test_bad_values_raise(name, value):
    before = getattr(ckit.settings, name)
    with pytest.raises(ValueError, match=name):
        setattr(ckit.settings, name, value)
    assert getattr(ckit.settings, name) == before


def test_unknown_setting_and_no_new_attributes():
    with pytest.raises(ValueError, match="unknown setting"), ckit.settings.override(colour=1):
        pass
    with pytest.raises(AttributeError):
        ckit.settings.verbocity = 2


def test_verbosity_levels_gate_log_records(caplog):
    caplog.set_level(logging.DEBUG, logger="root")
    with ckit.settings.override(verbosity=0):
        LOGGER.warning("hidden warning")
        LOGGER.error("shown error")
    with ckit.settings.override(verbosity=3):
        LOGGER.debug("shown debug")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["shown error", "shown debug"]


def test_default_handler_writes_to_stderr_without_root_handlers(capsys):
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        with ckit.settings.override(verbosity="info"):
            LOGGER.info("to stderr")
    finally:
        root.handlers[:] = saved
    assert "ckit INFO: to stderr" in capsys.readouterr().err


def test_device_and_progress_defaults_reach_tl():
    import anndata as ad
    import numpy as np

    from cocluster_kit.tl._fitting import prepare_fit

    adata = ad.AnnData(np.ones((4, 3), dtype=np.float32))
    with ckit.settings.override(device="cpu", progress=False):
        kwargs = prepare_fit(adata, None, {}).model_kwargs
    assert kwargs == {"device": "cpu", "progress": False}
    assert prepare_fit(adata, None, {"progress": True}).model_kwargs["progress"] is True
