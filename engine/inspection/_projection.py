"""Two-dimensional maps of embeddings: UMAP where ``umap-learn`` is installed, else t-SNE."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

PROJECTIONS = ("auto", "tsne", "umap")


def resolve_projection(name: str) -> str:
    from engine.errors import UserError

    if name not in PROJECTIONS:
        raise UserError(f"projection must be one of {', '.join(PROJECTIONS)}, got '{name}'")
    has_umap = importlib.util.find_spec("umap") is not None
    if name == "umap" and not has_umap:
        raise UserError("projection 'umap' needs the umap-learn package (pip install umap-learn); 'tsne' needs nothing more")
    if name == "auto":
        return "umap" if has_umap else "tsne"
    return name


def project(embeddings: np.ndarray, method: str, *, seed: int = 0) -> np.ndarray:
    """[n, d] embeddings to [n, 2] coordinates (cosine geometry, as the methods compare them)."""
    n = len(embeddings)
    if n < 4:  # too few points for a neighbourhood: the first two principal axes will do
        centred = embeddings - embeddings.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        out = centred @ vt[:2].T
        return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    if method == "umap":
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), metric="cosine", random_state=seed)
        return np.asarray(reducer.fit_transform(embeddings))
    from sklearn.manifold import TSNE

    # Perplexity must stay below the number of points; a third of them keeps small episodes stable.
    tsne = TSNE(n_components=2, perplexity=min(30.0, max(2.0, (n - 1) / 3)), metric="cosine", init="pca", random_state=seed)
    return np.asarray(tsne.fit_transform(embeddings))


def silhouette(embeddings: np.ndarray, labels: list[Any]) -> float | None:
    """How well classes separate in the full embedding space (cosine; -1 to 1, higher is better)."""
    from sklearn.metrics import silhouette_score

    if len(set(labels)) < 2 or len(set(labels)) >= len(labels):
        return None
    return float(silhouette_score(embeddings, labels, metric="cosine"))
