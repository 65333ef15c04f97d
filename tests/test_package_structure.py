"""Signature conventions of the public tl / pl / get functions (scanpy's package-structure test)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import cocluster_kit as ckit

POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


def public_functions(namespace):
    return [getattr(namespace, name) for name in namespace.__all__]


def test_namespaces_export_what_the_design_lists():
    assert sorted(ckit.tl.__all__) == ["choose_k", "cocluster", "top_features"]
    assert sorted(ckit.pl.__all__) == [
        "block_means",
        "blocks",
        "choose_k",
        "history",
        "top_features",
    ]
    assert sorted(ckit.get.__all__) == ["blocks_df", "top_features_df"]
    for name in ("tl", "pl", "get", "settings", "datasets"):
        assert name in ckit.__all__


@pytest.mark.parametrize("function", public_functions(ckit.tl), ids=lambda f: f.__name__)
def test_tl_signature_conventions(function):
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    assert parameters[0].name == "adata"
    assert "copy" in signature.parameters
    copy = signature.parameters["copy"]
    assert copy.default is False and copy.kind is inspect.Parameter.KEYWORD_ONLY
    assert sum(p.kind is POSITIONAL for p in parameters) <= 3
    annotation = str(signature.return_annotation)
    assert "AnnData" in annotation and "None" in annotation
    assert "Returns" in function.__doc__ and "copy" in function.__doc__


@pytest.mark.parametrize(
    "function",
    public_functions(ckit.pl) + public_functions(ckit.get),
    ids=lambda f: f.__name__,
)
def test_pl_and_get_signature_conventions(function):
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    assert parameters[0].name == "adata"
    assert sum(p.kind is POSITIONAL for p in parameters) <= 3
    if function.__module__.startswith("cocluster_kit.pl"):
        assert "Figure" in str(signature.return_annotation)
        if "ax" in signature.parameters:
            assert signature.parameters["ax"].kind is inspect.Parameter.KEYWORD_ONLY
            assert signature.parameters["ax"].default is None
    else:
        assert "DataFrame" in str(signature.return_annotation)


def test_one_public_function_per_private_module():
    for namespace in (ckit.tl, ckit.pl, ckit.get):
        modules = [function.__module__ for function in public_functions(namespace)]
        assert len(set(modules)) == len(modules)
        assert all(module.split(".")[-1].startswith("_") for module in modules)


def test_import_stays_light():
    code = (
        "import sys, cocluster_kit as ckit; ckit.tl, ckit.pl, ckit.get, ckit.settings; "
        "print(sorted(m for m in ('matplotlib', 'seaborn', 'scanpy', 'anndata') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
