"""Features to a 2-D map: UMAP, t-SNE or PCA, optionally started from an earlier layout
(the previous epoch's, another run's) and turned to match it, so that maps of the same
digits can be compared without the picture jumping or rotating; and new digits placed
on a map by their nearest neighbours in feature space.

Chosen by measurement on the default model's 5,000-digit sample, 2 cores (bench/map_methods.py):
umap-learn with the exact nearest neighbours from torch (its own nearest-neighbour
search, pynndescent, took four of every five seconds and most of the compilation),
openTSNE's FFT-accelerated t-SNE on exact affinities, and PCA by SVD."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch

# UMAP warns that a map made from given neighbours cannot `transform` new digits: `place` does that.
warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)

METHODS = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}


@dataclass(frozen=True)
class MapSettings:
    method: str = "umap"
    seed: int = 0
    neighbors: int = 15  # UMAP's n_neighbors
    min_dist: float = 0.1  # UMAP's
    umap_epochs: int = 200
    perplexity: float = 30.0  # t-SNE's
    tsne_iterations: int = 500  # after 250 of early exaggeration

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown map method {self.method!r}; choose one of {', '.join(METHODS)}")

    def describe(self) -> str:
        if self.method == "umap":
            return (f"UMAP, {self.neighbors} neighbours, min_dist {self.min_dist}, "
                    f"{self.umap_epochs} epochs, seed {self.seed}")
        if self.method == "tsne":
            return f"t-SNE, perplexity {self.perplexity:g}, 250 + {self.tsne_iterations} iterations, seed {self.seed}"
        return "PCA, the first two components"

    def record(self) -> dict:
        return asdict(self)


class MethodMissing(ImportError):
    """UMAP's or t-SNE's library is not installed (the `maps` extra)."""


def project(features: np.ndarray, settings: MapSettings, start: np.ndarray | None = None) -> np.ndarray:
    """[N, D] features -> [N, 2] layout, centred, of unit spread; started from `start`
    ([N, 2], same digits) where given, and then turned to match it. Raises MethodMissing."""
    features = np.ascontiguousarray(features, dtype=np.float32)
    init = _standard(start if start is not None else _pca(features))
    if settings.method == "pca":
        layout = _pca(features)
    elif settings.method == "umap":
        layout = _umap(features, settings, init)
    else:
        layout = _tsne(features, settings, init)
    layout = _standard(layout)
    return align(layout, init) if start is not None or settings.method != "pca" else layout


def align(layout: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`layout` turned, reflected and scaled onto `reference` (orthogonal Procrustes):
    the shape is kept, only its pose changes."""
    a, b = layout - layout.mean(0), reference - reference.mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    turned = a @ (u @ vt)
    scale = s.sum() / max(float((a ** 2).sum()), 1e-12)
    return (turned * scale + reference.mean(0)).astype(np.float32)


def nearest(features: np.ndarray, pool: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest rows of `pool` to each row of `features` (Euclidean), nearest first:
    (indices [M, k], distances [M, k])."""
    d = torch.cdist(torch.as_tensor(features, dtype=torch.float32), torch.as_tensor(pool, dtype=torch.float32))
    dist, index = d.topk(min(k, len(pool)), largest=False)
    return index.numpy(), dist.numpy()


def place(features: np.ndarray, map_features: np.ndarray, layout: np.ndarray, k: int = 8) -> np.ndarray:
    """New digits' places on a map: the mean place of their `k` nearest map digits in
    feature space (what UMAP's own transform starts from), so any method's map takes them."""
    index, _ = nearest(features, map_features, k)
    return layout[index].mean(1)


def _standard(layout: np.ndarray) -> np.ndarray:
    centred = layout - layout.mean(0)
    return (centred / max(float(np.sqrt((centred ** 2).sum(1).mean())), 1e-12)).astype(np.float32)


def _pca(features: np.ndarray) -> np.ndarray:
    centred = features - features.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    layout = centred @ vt[:2].T
    # A component's sign is arbitrary: fix it so the same features give the same picture.
    signs = np.sign(layout[np.abs(layout).argmax(0), [0, 1]])
    return layout * np.where(signs == 0, 1, signs)


def _umap(features: np.ndarray, settings: MapSettings, init: np.ndarray) -> np.ndarray:
    umap = _library("umap", "umap-learn")  # heavy (numba): imported when a map is made, not with the app

    index, dist = nearest(features, features, settings.neighbors)
    reducer = umap.UMAP(n_neighbors=settings.neighbors, min_dist=settings.min_dist, n_epochs=settings.umap_epochs,
                        init=init * 10, random_state=settings.seed,
                        precomputed_knn=(index, dist, None), n_jobs=1)
    return reducer.fit_transform(features)


def _tsne(features: np.ndarray, settings: MapSettings, init: np.ndarray) -> np.ndarray:
    openTSNE = _library("openTSNE", "openTSNE")
    affinities = openTSNE.affinity.PerplexityBasedNN(features, perplexity=settings.perplexity, method="exact",
                                                     n_jobs=2, random_state=settings.seed)
    # openTSNE's advice: an initialisation with a small spread (std 1e-4 of the first axis).
    start = init * (1e-4 / max(float(init[:, 0].std()), 1e-12))
    embedding = openTSNE.TSNEEmbedding(start, affinities, n_jobs=2, random_state=settings.seed)
    embedding = embedding.optimize(n_iter=250, exaggeration=12, momentum=0.5)
    return np.asarray(embedding.optimize(n_iter=settings.tsne_iterations, momentum=0.8))


def _library(module: str, package: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MethodMissing(f"{package} is not installed: pip install 'digit-lab[maps]' (PCA needs nothing)") from None
