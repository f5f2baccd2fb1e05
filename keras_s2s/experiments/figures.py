"""Plots of the studies (matplotlib, headless): BLEU by sentence length, PCA of sentence states."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    return plt


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projects `vectors [n, d]` on their first two principal components.

    Returns:
        `points [n, 2]` and the share of variance each component explains `[2]`.
    """
    if vectors.ndim != 2 or len(vectors) < 2:
        raise ValueError(f"PCA needs at least 2 vectors as [n, d]; received {vectors.shape}.")
    centered = vectors - vectors.mean(axis=0, keepdims=True)
    _, singular, right = np.linalg.svd(centered, full_matrices=False)
    variance = singular ** 2 / max(float((singular ** 2).sum()), 1e-12)
    return centered @ right[:2].T, variance[:2]


def plot_pca(points: np.ndarray, labels: Sequence[str], groups: Sequence[int],
             path: str | Path, title: str = "") -> None:
    """One panel per group of phrases, each point labelled (paper Figure 2)."""
    plt = _pyplot()
    names = sorted(set(groups))
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 5), squeeze=False)
    for ax, group in zip(axes[0], names):
        index = [i for i, g in enumerate(groups) if g == group]
        ax.scatter(points[index, 0], points[index, 1], color="tab:blue")
        for i in index:
            ax.annotate(labels[i], points[i], textcoords="offset points", xytext=(4, 4),
                        fontsize=8)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.margins(0.35)
    fig.suptitle(title or "2-D PCA of the encoder's final hidden state")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_length(rows: Sequence[dict], series: Sequence[str], path: str | Path,
                title: str = "") -> None:
    """BLEU per source-length bucket, one line per series (paper Figure 3)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    x = np.arange(len(rows))
    for name in series:
        ax.plot(x, [row[name] for row in rows], marker="o", label=name)
    ax.set_xticks(x, [row["length"] for row in rows])
    ax.set_xlabel("source sentence length (tokens)")
    ax.set_ylabel("BLEU")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "BLEU by source length")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_attention(source: Sequence[str], target: Sequence[str], weights: np.ndarray,
                   path: str | Path, title: str = "") -> None:
    """A heatmap of attention weights `[len(target), len(source)]`: source pieces across,
    output pieces down (Bahdanau et al. 2015, Figure 3)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * len(source), 1.2 + 0.4 * len(target)))
    image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), [p.replace("▁", "") or p for p in source], rotation=60,
                  ha="right")
    ax.set_yticks(range(len(target)), [p.replace("▁", "") or p for p in target])
    ax.xaxis.tick_top()
    ax.set_xlabel("source (reading order)")
    ax.set_ylabel("output")
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight")
    if title:
        ax.set_title(title, fontsize=9, pad=40)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A GitHub Markdown table of `rows` (dicts) with the given columns, in order; a None
    (a figure not measured) is "—"."""
    def cell(value) -> str:
        if value is None:
            return "—"
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"
