"""The text adapter, adapter selection, and the clear errors of every adapter."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer

from cocluster_kit import adapters

AdapterError = adapters.AdapterError

MEDICINE = [
    "The patient's heart and blood pressure were measured after surgery.",
    "Blood cells and heart tissue of the patient showed infection.",
    "Surgery on the heart reduced the patient's blood pressure.",
    "Infection of blood cells in the patient after surgery.",
    "The heart patient received treatment for the infection.",
]
AERONAUTICS = [
    "The wing of the aircraft produced lift in the wind tunnel.",
    "Airflow over the wing and the aircraft's lift at high speed.",
    "Wind tunnel tests of aircraft wing lift and drag in 1958.",
    "Drag and lift of a swept wing at supersonic speed.",
    "The aircraft's airflow and drag measured in the tunnel.",
]
CORPUS = MEDICINE + AERONAUTICS
LABELS = ["med"] * len(MEDICINE) + ["aero"] * len(AERONAUTICS)


def _check_text_result(adata, n_documents):
    assert adata.n_obs == n_documents
    assert sp.issparse(adata.X) and adata.X.format == "csr" and adata.X.dtype == np.float32
    counts = adata.layers["counts"]
    assert sp.issparse(counts) and counts.format == "csr" and counts.dtype == np.float32
    # one vocabulary: the same nonzero pattern, and X is the TF-IDF of the counts
    assert (adata.X != 0).toarray().tolist() == (counts != 0).toarray().tolist()
    expected = TfidfTransformer(sublinear_tf=True).fit_transform(counts.astype(np.float64))
    np.testing.assert_allclose(adata.X.toarray(), expected.toarray(), rtol=1e-5, atol=1e-6)
    record = adata.uns["ckit_source"]
    assert record["adapter"] == "text"
    assert record["likelihood"] == "multinomial" and record["layer"] == "counts"


def _write_roundtrip(adata, tmp_path, name="out.h5ad"):
    import anndata as ad

    adata.write_h5ad(tmp_path / name)
    back = ad.read_h5ad(tmp_path / name)
    assert back.shape == adata.shape
    assert back.uns["ckit_source"]["adapter"] == adata.uns["ckit_source"]["adapter"]
    return back


def test_text_lines_one_document_a_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(MEDICINE) + "\n\n   \n" + "\n".join(AERONAUTICS) + "\n")
    adata = adapters.read(path)
    _check_text_result(adata, len(CORPUS))
    assert adata.obs_names[0] == "line_1" and adata.obs_names[5] == "line_8"  # blanks skipped
    terms = set(adata.var_names)
    assert {"heart", "blood", "wing", "lift"} <= terms
    assert not {"the", "of", "and", "1958"} & terms  # stop words and numbers dropped
    heart = adata.var_names.get_loc("heart")
    assert adata.layers["counts"][:, heart].toarray().ravel().tolist() == [1, 1, 1, 0, 1] + [0] * 5
    record = adata.uns["ckit_source"]
    assert record["source"] == str(path) and record["n_blank_skipped"] == 2
    assert record["options"]["min_df"] == 2 and record["options"]["stop_words"] == "english"
    back = _write_roundtrip(adata, tmp_path)
    assert back.layers["counts"].nnz == adata.layers["counts"].nnz


def test_text_min_df_keeps_rare_terms_only_when_asked(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS))
    assert "supersonic" not in adapters.read(path).var_names  # in one document only
    adata = adapters.read(path, min_df=1, max_features=5)
    assert adata.n_vars == 5 and adata.uns["ckit_source"]["options"]["max_features"] == 5


def test_text_tiny_corpus_keeps_single_document_terms(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("heart blood\nwing lift\n")
    adata = adapters.read(path)
    assert sorted(adata.var_names) == ["blood", "heart", "lift", "wing"]
    assert adata.uns["ckit_source"]["options"]["min_df"] == 1


def test_text_folder_of_files(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for number, text in enumerate(CORPUS):
        (folder / f"doc{number:02d}.txt").write_text(text)
    (folder / "empty.txt").write_text("  \n")
    (folder / "notes.md").write_text("not a document")
    with pytest.warns(UserWarning, match="skipped 1 empty"):
        adata = adapters.read(folder)
    _check_text_result(adata, len(CORPUS))
    assert adata.obs_names.tolist() == [f"doc{number:02d}" for number in range(len(CORPUS))]
    _write_roundtrip(adata, tmp_path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_text_tables_detect_text_and_label_columns(tmp_path, suffix):
    frame = pd.DataFrame(
        {
            "doc_id": [f"d{i}" for i in range(len(CORPUS))],
            "Text": CORPUS,
            "topic": LABELS,
            "year": range(len(CORPUS)),
        }
    )
    path = tmp_path / f"corpus{suffix}"
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(row) for row in frame.to_dict("records")) + "\n\n")
    else:
        frame.to_csv(path, sep="," if suffix == ".csv" else "\t", index=False)
    adata = adapters.read(path, index_col="doc_id")
    _check_text_result(adata, len(CORPUS))
    assert adata.obs_names.tolist() == frame["doc_id"].tolist()
    assert isinstance(adata.obs["label"].dtype, pd.CategoricalDtype)
    assert adata.obs["label"].tolist() == LABELS
    assert adata.obs["year"].tolist() == list(range(len(CORPUS)))
    options = adata.uns["ckit_source"]["options"]
    assert options["text_column"] == "Text" and options["label_column"] == "topic"
    _write_roundtrip(adata, tmp_path)


def test_text_explicit_columns_and_longest_string_detection(tmp_path):
    frame = pd.DataFrame(
        {
            "title": ["short"] * len(CORPUS),
            "abstract": CORPUS,
            "group": [str(i % 3 + 1) for i in range(len(CORPUS))],
        }
    )
    path = tmp_path / "papers.csv"
    frame.to_csv(path, index=False)
    # no column named like a text column: auto-selection hands the file to the tabular adapter
    # (numeric "group" becomes X); the text adapter detects the longest string column
    assert adapters.read(path).uns["ckit_source"]["adapter"] == "tabular"
    detected = adapters.read(path, adapter="text")
    assert detected.uns["ckit_source"]["options"]["text_column"] == "abstract"
    assert "label" not in detected.obs and "group" in detected.obs
    explicit = adapters.read(path, adapter="text", text_column="abstract", label_column="group")
    assert explicit.obs["label"].cat.categories.tolist() == ["1", "2", "3"]
    _check_text_result(explicit, len(CORPUS))
    none = adapters.read(path, adapter="text", text_column="abstract", label_column=False)
    assert "label" not in none.obs


def test_text_labels_in_natural_order_and_blank_rows_skipped(tmp_path):
    labels = [10, 2, 1] * 3 + [2]
    texts = list(CORPUS)
    texts[3] = "   "
    path = tmp_path / "corpus.csv"
    pd.DataFrame({"content": texts, "class": labels}).to_csv(path, index=False)
    with pytest.warns(UserWarning, match="skipped 1 rows with empty text"):
        adata = adapters.read(path)
    assert adata.n_obs == len(CORPUS) - 1 and "3" not in adata.obs_names
    assert adata.obs["label"].cat.categories.tolist() == ["1", "2", "10"]


def test_text_dataframe_and_vectorizer_overrides():
    frame = pd.DataFrame({"body": CORPUS, "label": LABELS})
    adata = adapters.read(frame, ngram_range=(1, 2), stop_words=None, min_df=1)
    assert "wind tunnel" in adata.var_names and "the" in adata.var_names
    options = adata.uns["ckit_source"]["options"]
    assert options["ngram_range"] == [1, 2] and options["stop_words"] == ""
    assert adata.uns["ckit_source"]["source"] == "<in-memory DataFrame>"
    with pytest.raises(AdapterError, match="unknown option"):
        adapters.read(frame, adapter="text", n_top_genes=5)


def test_text_encoding_option_reads_latin1(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café crème\ncafé brûlée\nthé noir\n".encode("latin-1"))
    adata = adapters.read(path, encoding="latin-1")
    assert "café" in adata.var_names


@pytest.mark.parametrize(
    ("name", "content", "adapter", "match"),
    [
        ("empty.txt", b"", None, "empty"),
        ("blank.txt", b"\n  \n\t\n", None, "corpus is empty"),
        ("binary.txt", b"abc\x00\x01\x02def", None, "binary"),
        ("latin.txt", b"caf\xe9 au lait\n", None, "not valid utf-8"),
        ("stopwords.txt", b"the and of\nis it the\n", None, "stop words"),
        ("numbers.csv", b"a,b\n1,2\n3,4\n", "text", "no text column"),
        ("bad.jsonl", b'{"text": "fine"}\n{"text": broken\n', None, "line 2 is not valid JSON"),
        ("list.jsonl", b'["text", "no object"]\n', None, "not an object"),
        ("table.csv", b"text,label\nheart blood,med\n", "tabular", "no numeric column"),
        ("words.csv", b"name,kind\nx,y\nz,w\n", "tabular", "no numeric column"),
        ("missing.csv", b"a,b\n,\n,\n", "tabular", "every value"),
        ("inf.csv", b"a,b\n1,inf\n2,3\n", "tabular", "infinite"),
        ("zeros.csv", b"a,b\n0,0\n0,\n", "tabular", "is 0"),
        ("header.csv", b"a,b\n", "tabular", "0 rows"),
        ("ragged.csv", b'a,b\n1,2\n"3,4\n', "tabular", "not a valid"),
        ("empty.parquet", b"", "tabular", "empty"),
        ("broken.parquet", b"PAR1 not really", "tabular", "not a readable parquet"),
        ("empty.h5ad", b"", "anndata", "empty"),
        ("broken.h5ad", b"not hdf5 at all", "anndata", "not a readable .h5ad"),
        ("corpus.parquet", b"PAR1", "text", "reads .txt, .csv, .tsv, .jsonl"),
        ("matrix.txt", b"1 2 3\n", "anndata", "reads .h5ad files"),
    ],
)
def test_bad_files_raise_adapter_error_naming_the_file(tmp_path, name, content, adapter, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AdapterError, match=match) as caught:
        adapters.read(path, adapter=adapter)
    assert name in str(caught.value)
    assert isinstance(caught.value, ValueError)
    # no chained traceback from deep inside a library
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@pytest.mark.parametrize("adapter", [None, "text", "anndata", "tabular"])
def test_missing_path(tmp_path, adapter):
    with pytest.raises(AdapterError, match="no such file") as caught:
        adapters.read(tmp_path / "absent.csv", adapter=adapter)
    assert "absent.csv" in str(caught.value)


def test_text_column_and_index_errors_list_the_columns(tmp_path):
    path = tmp_path / "corpus.csv"
    pd.DataFrame({"text": CORPUS, "label": LABELS}).to_csv(path, index=False)
    with pytest.raises(AdapterError, match=r"text_column='abstract' is not a column.*'label'"):
        adapters.read(path, text_column="abstract")
    with pytest.raises(AdapterError, match="label_column='kind'"):
        adapters.read(path, label_column="kind")
    with pytest.raises(AdapterError, match="index_col='id'"):
        adapters.read(path, index_col="id")
    with pytest.raises(AdapterError, match="index_col=7 is out of range"):
        adapters.read(path, index_col=7)


def test_folder_without_text_files(tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    with pytest.raises(AdapterError, match="holds no .txt file") as caught:
        adapters.read(tmp_path, adapter="text")
    assert str(tmp_path) in str(caught.value)


def test_registry_lists_and_chooses_builtins(tmp_path):
    assert adapters.available()[:3] == ["text", "anndata", "tabular"]
    assert adapters.get("tabular").name == "tabular"
    text_table = tmp_path / "docs.csv"
    pd.DataFrame({"text": CORPUS}).to_csv(text_table, index=False)
    numbers = tmp_path / "numbers.csv"
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(numbers, index=False)
    assert adapters.read(text_table).uns["ckit_source"]["adapter"] == "text"
    assert adapters.read(numbers).uns["ckit_source"]["adapter"] == "tabular"
    assert adapters.read(numbers, adapter=adapters.TabularAdapter()).n_vars == 2
    frame = pd.DataFrame({"x": [1, 2]})
    assert adapters.read(frame).uns["ckit_source"]["adapter"] == "tabular"
    assert adapters.read(pd.DataFrame({"document": CORPUS})).uns["ckit_source"]["adapter"] == (
        "text"
    )


def test_unknown_adapter_and_unreadable_source(tmp_path):
    with pytest.raises(AdapterError, match=r"unknown adapter 'loom'.*'text', 'anndata', 'tabular'"):
        adapters.read(tmp_path / "x.loom", adapter="loom")
    odd = tmp_path / "matrix.xlsx"
    odd.write_bytes(b"PK\x03\x04")
    with pytest.raises(AdapterError, match="no adapter can read it") as caught:
        adapters.read(odd)
    assert "matrix.xlsx" in str(caught.value) and "'tabular'" in str(caught.value)
    with pytest.raises(AdapterError, match="no adapter can read"):
        adapters.read(12345)
    with pytest.raises(AdapterError, match="neither an adapter name"):
        adapters.read(odd, adapter=3)


@pytest.mark.parametrize("source", [None, 3, object(), "", "a\x00b.txt", b"x.csv", [1, 2], "~nope"])
def test_can_read_never_raises(source):
    for name in ("text", "anndata", "tabular"):
        assert adapters.get(name).can_read(source) in (True, False)
