"""The ``text`` adapter: documents → TF-IDF in ``X``, term counts in ``layers["counts"]``."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import (
    Adapter,
    AdapterError,
    as_path,
    describe,
    is_dataframe,
    source_record,
    suffix_of,
)
from ._io import existing_path, finish_table, obs_frame, preview, read_delimited, read_jsonl
from ._io import read_text as read_text_file

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp
    from anndata import AnnData

TEXT_COLUMN_NAMES = ("text", "document", "content", "body")
"""Column names taken as the text column (case-insensitive, in this order of preference)."""
LABEL_COLUMN_NAMES = ("label", "labels", "class", "category", "target", "topic")
"""Column names taken as the label column (case-insensitive, in this order of preference)."""

TFIDF_DEFAULTS: dict[str, Any] = {
    "stop_words": "english",
    "min_df": 2,
    "max_df": 0.9,
    "max_features": 10000,
    "sublinear_tf": True,
    "token_pattern": r"(?u)\b(?=\w*[^\W\d_])\w\w+\b",
}
"""Defaults passed to :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.

English stop words out; a term must occur in at least 2 documents (1 below
:data:`SMALL_CORPUS` documents) and in at most 90 % of them; the 10,000 most frequent terms
are kept; term frequencies are dampened to ``1 + log(tf)``; a token has two or more word
characters, at least one of them a letter (pure numbers are dropped). Any
``TfidfVectorizer`` parameter passed to :func:`read` overrides these.
"""

SMALL_CORPUS = 10
"""Below this many documents the default ``min_df`` is 1, so that tiny corpora keep terms."""

_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_HEADER_PROBE_BYTES = 65536
_NOT_VECTORIZER_OPTIONS = ("input", "dtype")


class TextAdapter(Adapter):
    """Documents as a TF-IDF matrix, for co-clustering documents and terms.

    Reads a ``.txt`` file (one document a line, blank lines skipped), a folder of ``.txt``
    files (one document each, the file stem as its name), a ``.csv`` / ``.tsv`` / ``.jsonl``
    table or a DataFrame with a text column and an optional label column.
    """

    name = "text"
    extensions = (".txt", ".csv", ".tsv", ".jsonl")
    description = "documents (.txt lines, a folder of .txt, .csv/.tsv/.jsonl text column) → TF-IDF"

    def can_read(self, source: Any) -> bool:
        """Whether ``source`` is a corpus.

        A corpus is a ``.txt``/``.jsonl`` file, a folder with ``.txt`` files, or a
        ``.csv``/``.tsv`` file or DataFrame with a column named like a text column
        (:data:`TEXT_COLUMN_NAMES`).

        Parameters
        ----------
        source : Any
            A path or an in-memory object.

        Returns
        -------
        bool
            Never raises.
        """
        try:
            if is_dataframe(source):
                return _named_column(source.columns, TEXT_COLUMN_NAMES) is not None
            path = as_path(source)
            if path is None:
                return False
            if path.is_dir():
                return any(suffix_of(p) == ".txt" and p.is_file() for p in path.iterdir())
            suffix = suffix_of(path)
            if not path.is_file() or suffix not in self.extensions:
                return False
            if suffix in _DELIMITERS:
                with path.open("rb") as handle:
                    first_line = handle.read(_HEADER_PROBE_BYTES).split(b"\n", 1)[0]
                header = first_line.decode("utf-8", errors="replace").split(_DELIMITERS[suffix])
                names = [name.strip().strip('"').strip("'").lstrip("\ufeff") for name in header]
                return _named_column(names, TEXT_COLUMN_NAMES) is not None
            return True
        except (OSError, TypeError, ValueError, AttributeError):
            return False

    def read(
        self,
        source: Any,
        *,
        text_column: str | None = None,
        label_column: str | bool | None = None,
        index_col: str | int | None = None,
        encoding: str = "utf-8",
        **vectorizer_options: Any,
    ) -> AnnData:
        """Read a corpus into an AnnData of documents × terms.

        Parameters
        ----------
        source : str, path-like or pandas.DataFrame
            A ``.txt`` file, a folder of ``.txt`` files, a ``.csv`` / ``.tsv`` / ``.jsonl``
            file, or a DataFrame.
        text_column : str, optional
            Column holding the text (tables only). Default: the first column named ``text``,
            ``document``, ``content`` or ``body`` (any case), else the string column with the
            longest mean length.
        label_column : str or bool, optional
            Column holding reference labels (tables only). Default: the first column named
            ``label``, ``labels``, ``class``, ``category``, ``target`` or ``topic``; ``False``
            reads no labels.
        index_col : str or int, optional
            Column (name or position) holding the document names (tables only).
        encoding : str, default "utf-8"
            Text encoding of the file(s).
        **vectorizer_options
            Any :class:`~sklearn.feature_extraction.text.TfidfVectorizer` parameter; overrides
            :data:`TFIDF_DEFAULTS`.

        Returns
        -------
        anndata.AnnData
            ``X``: TF-IDF, CSR float32 (documents × terms); ``layers["counts"]``: term counts
            over the same vocabulary, CSR float32; ``var_names``: the terms;
            ``var["document_frequency"]``: documents containing each term; ``obs_names``: line
            numbers (``line_1``...), file stems or the table's index; ``obs["label"]``:
            categorical labels when a label column exists, other table columns as further
            ``obs`` columns; ``uns["ckit_source"]``: adapter, source, ``likelihood=
            "multinomial"``, ``layer="counts"`` (fit the model on the counts), the options used.

        Raises
        ------
        AdapterError
            For a missing, empty, binary or undecodable file, a table without a usable text
            column, or a corpus without a single non-blank document or vocabulary term.
        """
        name = describe(source)
        extra: dict[str, Any] = {}
        labels = None
        obs = None
        if is_dataframe(source):
            frame = finish_table(source, source, index_col=index_col)
            documents, names, labels, obs, extra = _from_table(
                frame, name, text_column=text_column, label_column=label_column
            )
        else:
            path = existing_path(
                source, adapter=self.name, extensions=self.extensions, allow_directory=True
            )
            suffix = suffix_of(path)
            if path.is_dir():
                documents, names, extra = _from_folder(path, encoding=encoding)
            elif suffix == ".txt":
                documents, names, extra = _from_lines(path, encoding=encoding)
            else:
                if suffix == ".jsonl":
                    frame = read_jsonl(path, encoding=encoding, index_col=index_col)
                else:
                    frame = read_delimited(
                        path, sep=_DELIMITERS[suffix], encoding=encoding, index_col=index_col
                    )
                documents, names, labels, obs, extra = _from_table(
                    frame, name, text_column=text_column, label_column=label_column
                )
        if not documents:
            raise AdapterError(
                f"{name}: the corpus is empty (no non-blank document). Check the file, or the "
                "text column with text_column=...",
                source=name,
            )
        tfidf, counts, terms, used_options = vectorize(documents, vectorizer_options, name)
        adata = _build(tfidf, counts, terms, names, labels, obs)
        n_empty = int(np.sum(np.diff(counts.indptr) == 0))
        if n_empty:
            warnings.warn(
                f"{name}: {n_empty} of {len(documents)} documents have no term in the vocabulary "
                "(only stop words, rare terms or numbers); they are kept as empty rows.",
                stacklevel=3,
            )
        options = {"encoding": encoding, **used_options}
        if index_col is not None:
            options["index_col"] = index_col
        adata.uns["ckit_source"] = source_record(
            self.name,
            source,
            likelihood="multinomial",
            layer="counts",
            options={**options, **extra.pop("options", {})},
            n_documents=len(documents),
            n_empty_documents=n_empty,
            **extra,
        )
        return adata


def vectorize(
    documents: list[str], options: dict[str, Any], name: str
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray, dict[str, Any]]:
    """TF-IDF and raw counts of ``documents`` over one vocabulary.

    Parameters
    ----------
    documents : list of str
        The documents.
    options : dict
        ``TfidfVectorizer`` parameters overriding :data:`TFIDF_DEFAULTS`.
    name : str
        The source, for messages.

    Returns
    -------
    tfidf : scipy.sparse.csr_matrix
        float32, documents × terms.
    counts : scipy.sparse.csr_matrix
        float32 term counts over the same vocabulary (CountVectorizer).
    terms : numpy.ndarray
        The vocabulary, in column order.
    settings : dict
        The vectorizer parameters used: :data:`TFIDF_DEFAULTS` updated with ``options``
        (``min_df`` already lowered for a small corpus).
    """
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    valid = sorted(set(TfidfVectorizer().get_params()) - set(_NOT_VECTORIZER_OPTIONS))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise AdapterError(
            f"{name}: unknown option(s) {unknown} for the 'text' adapter. It takes "
            f"text_column, label_column, index_col, encoding and the TfidfVectorizer "
            f"parameters {valid}.",
            source=name,
        )
    settings = {**TFIDF_DEFAULTS, **options}
    if "min_df" not in options and len(documents) < SMALL_CORPUS:
        settings["min_df"] = 1
    try:
        vectorizer = TfidfVectorizer(dtype=np.float32, **settings)
        tfidf = vectorizer.fit_transform(documents)
    except ValueError as error:  # sklearn's InvalidParameterError is a ValueError too
        message = str(error)
        if "empty vocabulary" in message:
            problem = (
                "no term is left after tokenising and removing stop words (the documents "
                "hold only stop words, numbers or one-letter tokens)"
            )
            fix = "Check the text column, or pass stop_words=None."
        else:
            problem = f"building the vocabulary failed ({message})"
            fix = "Adjust min_df / max_df / max_features (or the option named above)."
        raise AdapterError(f"{name}: {problem}. {fix}", source=name) from None
    analyser_options = {
        key: value
        for key, value in vectorizer.get_params().items()
        if key in CountVectorizer().get_params()
        and key not in ("min_df", "max_df", "max_features", "vocabulary", "binary", "dtype")
    }
    counter = CountVectorizer(
        vocabulary=vectorizer.vocabulary_, dtype=np.float32, **analyser_options
    )
    counts = counter.transform(documents).tocsr()
    return tfidf.tocsr().astype(np.float32), counts, vectorizer.get_feature_names_out(), settings


def _build(tfidf, counts, terms, names, labels, obs) -> AnnData:
    """Assemble the AnnData of documents × terms."""
    import anndata as ad
    import pandas as pd

    obs_table = obs if obs is not None else pd.DataFrame(index=pd.Index(names))
    obs_table.index = pd.Index([str(n) for n in names])
    if labels is not None:
        obs_table.insert(0, "label", _natural_categorical(labels))
    var = pd.DataFrame(index=pd.Index([str(t) for t in terms]))
    var["document_frequency"] = np.diff(counts.tocsc().indptr).astype(np.int64)
    adata = ad.AnnData(X=tfidf, obs=obs_table, var=var, layers={"counts": counts})
    if not adata.obs_names.is_unique:
        adata.obs_names_make_unique()
    return adata


def _from_lines(path: Path, *, encoding: str):
    """One document per non-blank line; names ``line_<number>`` (1-based)."""
    lines = read_text_file(path, encoding=encoding).splitlines()
    kept = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    documents = [line for _, line in kept]
    names = [f"line_{number}" for number, _ in kept]
    return documents, names, {"n_blank_skipped": len(lines) - len(kept)}


def _from_folder(path: Path, *, encoding: str):
    """One document per ``.txt`` file of ``path`` (not recursive); names are file stems."""
    files = sorted(p for p in path.iterdir() if p.is_file() and suffix_of(p) == ".txt")
    if not files:
        raise AdapterError(
            f"{path}: the folder holds no .txt file. Put one document per .txt file in it.",
            source=str(path),
        )
    documents, names, n_blank = [], [], 0
    for file in files:
        text = read_text_file(file, encoding=encoding) if file.stat().st_size else ""
        if not text.strip():
            n_blank += 1
            continue
        documents.append(text)
        names.append(file.stem)
    if n_blank and documents:
        warnings.warn(f"{path}: skipped {n_blank} empty or blank .txt file(s).", stacklevel=4)
    return documents, names, {"n_blank_skipped": n_blank}


def _from_table(frame: pd.DataFrame, name: str, *, text_column, label_column):
    """Documents, names, labels and other metadata from a table."""
    text_column = _choose_text_column(frame, name, text_column)
    label_column = _choose_label_column(frame, name, label_column, text_column)
    text = frame[text_column]
    blank = text.isna().to_numpy() | text.astype(str).str.strip().eq("").to_numpy()
    if blank.any() and not blank.all():
        warnings.warn(
            f"{name}: skipped {int(blank.sum())} rows with empty text in column {text_column!r}.",
            stacklevel=4,
        )
    kept = frame.loc[~blank]
    documents = kept[text_column].astype(str).tolist()
    labels = kept[label_column] if label_column else None
    others = kept.drop(columns=[c for c in (text_column, label_column) if c])
    if label_column and "label" in others.columns:
        others = others.rename(columns={"label": "label_original"})
    extra = {
        "options": {"text_column": text_column, "label_column": label_column or ""},
        "n_blank_skipped": int(blank.sum()),
    }
    return documents, kept.index.tolist(), labels, obs_frame(others), extra


def _choose_text_column(frame: pd.DataFrame, name: str, text_column: str | None) -> str:
    """The named text column (checked), else a detected one."""
    import pandas as pd

    if text_column is not None:
        if text_column not in frame.columns:
            raise AdapterError(
                f"{name}: text_column={text_column!r} is not a column; the columns are "
                f"{preview(frame.columns)}.",
                source=name,
            )
        return text_column
    named = _named_column(frame.columns, TEXT_COLUMN_NAMES)
    if named is not None:
        return named
    mean_lengths = {}
    for column in frame.columns:
        values = frame[column].dropna()
        if values.empty or not (
            pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
        ):
            continue
        if not values.map(lambda value: isinstance(value, str)).all():
            continue
        if _named_column([column], LABEL_COLUMN_NAMES) is not None:
            continue
        mean_lengths[column] = values.str.len().mean()
    if not mean_lengths:
        raise AdapterError(
            f"{name}: no text column found (no column named {'/'.join(TEXT_COLUMN_NAMES)} and "
            f"no column of strings among {preview(frame.columns)}). Pass text_column=...",
            source=name,
        )
    return max(mean_lengths, key=mean_lengths.get)


def _choose_label_column(
    frame: pd.DataFrame, name: str, label_column: str | bool | None, text_column: str
) -> str:
    """The named label column (checked), a detected one, or ``""`` for none."""
    if label_column is False:
        return ""
    if label_column is None or label_column is True:
        candidates = [c for c in frame.columns if c != text_column]
        detected = _named_column(candidates, LABEL_COLUMN_NAMES)
        if detected is None and label_column is True:
            raise AdapterError(
                f"{name}: no label column found (none named {'/'.join(LABEL_COLUMN_NAMES)}). "
                "Pass label_column=<name>.",
                source=name,
            )
        return detected or ""
    if label_column not in frame.columns or label_column == text_column:
        raise AdapterError(
            f"{name}: label_column={label_column!r} is not a column other than the text column "
            f"{text_column!r}; the columns are {preview(frame.columns)}.",
            source=name,
        )
    return label_column


def _named_column(columns, names: tuple[str, ...]) -> str | None:
    """The first of ``columns`` whose lower-cased name is in ``names``, by ``names`` order."""
    by_name = {}
    for column in columns:
        by_name.setdefault(str(column).strip().lower(), column)
    for wanted in names:
        if wanted in by_name:
            return by_name[wanted]
    return None


def _natural_categorical(values) -> pd.Categorical:
    """String labels as a categorical in natural order (``"2"`` before ``"10"``)."""
    import pandas as pd

    series = pd.Series(list(values), dtype=object)
    as_text = series.map(_label_text, na_action="ignore")
    categories = sorted(as_text.dropna().unique(), key=_natural_key)
    return pd.Categorical(as_text, categories=categories)


def _label_text(value: Any) -> str:
    """A label as text; integral floats (``3.0`` from a column with gaps) print as ``"3"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _natural_key(text: str) -> list:
    """Sort key comparing digit runs as numbers."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", text)
        if part
    ]
