"""``report.html``: every section present, every image an embedded PNG, nothing external."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _cli_inputs import write_corpus  # noqa: E402

import cocluster_kit as ckit  # noqa: E402
from cocluster_kit import adapters  # noqa: E402
from cocluster_kit._report import SECTIONS, build_report, label_scores, write_report  # noqa: E402

FAST = {"max_epochs": 3, "pretrain_epochs": 3, "progress": False, "device": "cpu"}


class PageParser(HTMLParser):
    """Collect sections (with their images and text) and every external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current: str | None = None
        self.references: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.current = attrs["id"]
            self.sections[self.current] = {"images": [], "text": ""}
        for name in ("src", "href"):
            if name in attrs and not attrs[name].startswith(("data:", "#")):
                self.references.append(attrs[name])
        if tag == "img":
            self.sections[self.current]["images"].append(attrs["src"])
        if tag in ("script", "link", "iframe"):
            self.references.append(tag)

    def handle_endtag(self, tag):
        if tag == "section":
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.sections[self.current]["text"] += data


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def decode_png(src: str) -> np.ndarray:
    import matplotlib.image

    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    data = base64.b64decode(src[len(prefix) :], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(io.BytesIO(data), format="png")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    adata = adapters.read(write_corpus(folder))
    ckit.tl.cocluster(adata, 3, 3, random_state=0, **FAST)
    return adata


def test_every_section_and_image_is_present_and_decodable(fitted):
    adata = fitted.copy()
    page = build_report(adata)
    parser = parse(page)
    assert list(parser.sections) == list(SECTIONS)  # labels included: the corpus has labels
    assert parser.references == []  # self-contained: no external link, script or stylesheet
    figures = {
        "training": 1,
        "block-means": 1,
        "matrix": 1,
        "sizes": 1,
        "top-features": 1,
        "uncertainty": 1,
        "labels": 1,
    }
    for section, content in parser.sections.items():
        assert len(content["images"]) == figures.get(section, 0), section
        for src in content["images"]:
            image = decode_png(src)
            assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
            assert image.std() > 0  # not a blank canvas
    text = {name: content["text"] for name, content in parser.sections.items()}
    assert "30 x 24" in text["summary"] and "multinomial" in text["summary"]
    assert "max_epochs" in text["parameters"] and "random_state" in text["parameters"]
    for score in ("purity-ACC", "NMI", "ARI"):
        assert score in text["labels"]
    top_words = set(ckit.get.top_features_df(adata)["feature"])
    assert any(word in text["top-features"] for word in top_words)
    assert "below 0.5" in text["uncertainty"]


def test_no_labels_no_label_section_and_named_labels(fitted):
    adata = fitted.copy()
    adata.obs["topic"] = adata.obs.pop("label")
    parser = parse(build_report(adata))
    assert "labels" not in parser.sections
    parser = parse(build_report(adata, labels="topic"))
    assert "labels" in parser.sections and "topic" in parser.sections["labels"]["text"]
    with pytest.raises(KeyError, match="--labels nope"):
        build_report(adata, labels="nope")
    adata.obs["label"] = None  # a label column without a single label counts as absent
    assert "labels" not in parse(build_report(adata)).sections
    with pytest.raises(KeyError, match="every value of the column is missing"):
        build_report(adata, labels="label")


def test_label_scores_match_the_metrics(fitted):
    scores, table = label_scores(fitted, "label")
    expected = ckit.metrics.clustering_scores(
        fitted.obs["label"].astype(str), fitted.obs["cocluster_row"].astype(str)
    )
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value)
    assert table.to_numpy().sum() == fitted.n_obs == scores["n_labelled"]
    assert table.shape == (3, 3)
    # a missing label is left out of the scores
    adata = fitted.copy()
    adata.obs["label"] = adata.obs["label"].astype(object)
    adata.obs.iloc[0, adata.obs.columns.get_loc("label")] = None
    scores, table = label_scores(adata, "label")
    assert scores["n_labelled"] == fitted.n_obs - 1 == table.to_numpy().sum()


@pytest.mark.parametrize("monitor", ["partitions", "objective"])
def test_training_panel_shows_the_monitored_term_and_the_kept_epoch(tmp_path, monitor):
    adata = adapters.read(write_corpus(tmp_path))
    options = {**FAST, "max_epochs": 6, "warmup_epochs": 2, "min_delta": 0.0}
    ckit.tl.cocluster(adata, 3, 3, random_state=0, monitor=monitor, **options)
    history = pd.DataFrame(adata.uns["cocluster"]["history"])
    term = {"partitions": "partition_objective", "objective": "objective"}[monitor]
    full_weight = history[(history["stage"] == "train") & (history["kl_weight"] >= 1)]
    best = int(full_weight.loc[full_weight[term].idxmin(), "epoch"])
    text = " ".join(parse(build_report(adata)).sections["training"]["text"].split())
    assert f"epoch {best}, the best after the warm-up, whose weights were kept" in text
    assert ("objective without the cell level" in text) == (monitor == "partitions")
    # A result saved before monitor= existed stopped on the whole objective.
    del adata.uns["cocluster"]["params"]["monitor"]
    text = " ".join(parse(build_report(adata)).sections["training"]["text"].split())
    assert "training objective (what early stopping read)" in text
    best = int(full_weight.loc[full_weight["objective"].idxmin(), "epoch"])
    assert f"epoch {best}, the best" in text


def test_training_panel_without_a_full_weight_epoch(tmp_path):
    adata = adapters.read(write_corpus(tmp_path))
    ckit.tl.cocluster(adata, 3, 3, random_state=0, **{**FAST, "max_epochs": 2, "warmup_epochs": 4})
    text = " ".join(parse(build_report(adata)).sections["training"]["text"].split())
    assert "no epoch finished at full weight, so the last weights were kept" in text


def test_gaussian_data_with_missing_values(tmp_path):
    X, rows, _ = ckit.datasets.make_coclusters((40, 12), 2, 3, missing=0.1, random_state=0)
    adata = adapters.read(__import__("pandas").DataFrame(X, columns=[f"c{j}" for j in range(12)]))
    ckit.tl.cocluster(adata, 2, 3, random_state=0, **FAST)
    path = write_report(adata, tmp_path / "page.html")
    parser = parse(path.read_text(encoding="utf-8"))
    assert list(parser.sections) == [s for s in SECTIONS if s != "labels"]
    assert "gaussian" in parser.sections["summary"]["text"]
    assert "missing entries" in parser.sections["summary"]["text"]
    for content in parser.sections.values():
        for src in content["images"]:
            decode_png(src)
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary file left
