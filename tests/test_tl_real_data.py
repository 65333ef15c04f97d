"""tl on real data: CLASSIC3 topics from top terms, and pbmc68k_reduced cell types (slow)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scipy.io as sio
import scipy.sparse as sp

import cocluster_kit as ckit
from cocluster_kit.datasets import data_dir
from cocluster_kit.metrics import nmi

CLASSIC3 = data_dir() / "coclust" / "classic3_coclustFormat.mat"

# Words any reader would file under each CLASSIC3 collection (MEDLINE, CRANFIELD, CISI).
TOPICS = {
    "medicine": {
        "patients", "cells", "cell", "blood", "cases", "normal", "growth", "treatment",
        "children", "hormone", "human", "dna", "disease", "rats", "cancer", "tissue", "acid",
        "liver", "plasma", "renal", "serum", "protein", "tumor", "clinical",
    },
    "aeronautics": {
        "flow", "pressure", "boundary", "layer", "mach", "shock", "heat", "wing", "supersonic",
        "hypersonic", "surface", "body", "transfer", "temperature", "laminar", "velocity",
        "jet", "turbulent", "reynolds", "buckling", "aerodynamic", "plate", "equations",
    },
    "information science": {
        "library", "libraries", "information", "retrieval", "system", "systems", "research",
        "science", "scientific", "book", "books", "literature", "computer", "subject",
        "indexing", "index", "services", "search", "document", "documents", "users", "journals",
    },
}  # fmt: skip


def classic3_adata(n_terms: int = 1000) -> ad.AnnData:
    """Documents x terms counts, the ``n_terms`` terms in most documents as var_names.

    Capping the vocabulary (as TfidfVectorizer's ``max_features`` does) keeps the fit short.
    """
    stored = sio.loadmat(CLASSIC3)
    counts = sp.csr_matrix(stored["doc_term_matrix"], dtype=np.float32)
    document_frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
    kept = np.sort(np.argsort(-document_frequency, kind="stable")[:n_terms])
    adata = ad.AnnData(counts[:, kept])
    adata.var_names = [str(term).strip() for term in stored["term_labels"][kept]]
    adata.obs["collection"] = np.asarray(stored["doc_labels"]).ravel().astype(str)
    return adata


@pytest.mark.skipif(not CLASSIC3.is_file(), reason=f"{CLASSIC3} is not available")
def test_classic3_row_clusters_have_recognisable_top_terms():
    adata = classic3_adata()
    # The real model with fewer epochs than the defaults (38 pre-training, 94 training):
    # measured row NMI 0.84 (0.94 with 10 + 30 epochs on all 4303 terms).
    ckit.tl.cocluster(adata, 3, 3, random_state=0, max_epochs=10, pretrain_epochs=5, progress=False)
    assert adata.uns["cocluster"]["params"]["likelihood"] == "multinomial"
    ckit.tl.top_features(adata, n_top=20)
    table = ckit.get.top_features_df(adata)
    matched = {}
    for row_cluster, rows in table.groupby("row_cluster", observed=True):
        top_terms = set(rows.nlargest(20, "enrichment")["feature"])
        overlaps = {topic: len(top_terms & words) for topic, words in TOPICS.items()}
        topic = max(overlaps, key=overlaps.get)
        assert overlaps[topic] >= 5, (row_cluster, sorted(top_terms), overlaps)
        matched[row_cluster] = topic
    assert sorted(matched.values()) == sorted(TOPICS), matched
    assert nmi(adata.obs["collection"], adata.obs["cocluster_row"]) > 0.5
    # The plot of a 3891 x 4303 sparse matrix draws a per-cluster sample only.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = ckit.pl.blocks(adata, max_rows=300, max_cols=400, scale="log1p")
    assert figure.axes[0].get_images()[0].get_array().shape[0] <= 303
    plt.close(figure)


def test_pbmc68k_row_clusters_reach_kmeans_on_pca():
    from sklearn.cluster import KMeans

    reduced = ckit.datasets.pbmc68k_reduced()
    labels = reduced.obs["bulk_labels"]
    kmeans = KMeans(10, n_init=10, random_state=0).fit_predict(reduced.obsm["X_pca"])
    baseline = nmi(labels, kmeans)
    adata = reduced.raw.to_adata()  # log-normalised values of the 765 genes
    ckit.tl.cocluster(adata, n_row_clusters=10, n_col_clusters=8, progress=False)
    score = nmi(labels, adata.obs["cocluster_row"])
    assert score >= baseline, f"cocluster NMI {score:.3f} < KMeans on X_pca {baseline:.3f}"
