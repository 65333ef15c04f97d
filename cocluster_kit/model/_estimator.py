"""``CoclusterVAE``: the scikit-learn estimator over the three-level model."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator

from .._utils import is_positive_int, resolve_device, resolve_seed
from ._fitted import FittedMixin
from ._validation import (
    check_trainable,
    prepare_matrix,
    resolve_input_transform,
    resolve_likelihood,
)

logger = logging.getLogger("cocluster_kit")

# Parameters that do not change the result: a checkpoint resumes whatever they are.
_NOT_IN_CHECKPOINT_FINGERPRINT = ("callbacks", "progress", "device")


class CoclusterVAE(FittedMixin, BaseEstimator):
    """Co-clustering with a three-level variational model (rows, columns, cells).

    A VAE with a learnable Gaussian-mixture prior on the rows, another on the columns, a
    joint VAE on cells conditioned on both, and a mutual-information cross-loss coupling the
    two partitions (``METHOD.md``). Trained with minibatches of rows, columns and the cells of
    their block; the matrix is never densified.

    Parameters
    ----------
    n_row_clusters
        ``K``, the number of row clusters.
    n_col_clusters
        ``L``, the number of column clusters (default: ``n_row_clusters``).
    n_cell_clusters
        ``B``, components of the cell-level mixture (default: ``min(K * L, 64)``).
    likelihood
        ``"auto"`` (rule in :func:`~cocluster_kit.model.resolve_likelihood`: log-normalised
        counts (log expression) → gaussian, other sparse non-negative values (binary too) →
        multinomial, dense binary → bernoulli, dense counts → negative_binomial, else
        gaussian) or one of ``"gaussian"``, ``"bernoulli"``, ``"poisson"``,
        ``"negative_binomial"``, ``"multinomial"``.
    input_transform
        What the encoders read: ``"auto"`` (standardised values for Gaussian data, TF-IDF
        with L2 normalisation for counts and binary data), ``"tfidf"``, ``"standardize"``,
        ``"none"``.
    estimator
        Gradient estimator: ``"elbo"`` (default: the closed-form VaDE bound), ``"iwae"`` or
        ``"dreg"`` (importance-weighted bounds, METHOD.md §2). Choice: on the ablation
        benchmark (``benchmarks/RESULTS.md``) ``dreg`` and ``iwae`` gained no consistent
        accuracy over ``elbo`` and took 1.6–2.7 times as long per fit (about 5 times on
        Reuters R52).
    prior_gradient
        For ``dreg``: ``"gdreg"`` (generalized DReG for mixture means and scales) or
        ``"iwae"``.
    n_samples
        Latent samples ``S`` per item: importance samples for ``iwae`` / ``dreg``, averaged
        draws for ``elbo``. Default (None): 1 for ``elbo``, 4 for ``iwae`` and ``dreg``.
    latent_dim
        Latent size of the row and column sides.
    cell_latent_dim
        Latent size of the cell level.
    hidden
        Hidden widths of the row and column encoders.
    decoder_hidden
        Hidden widths of the row and column decoders; empty (default) for a linear decoder,
        which keeps each latent direction a readable profile over the features and does not
        memorise noise on small matrices.
    joint
        Train the cell level (METHOD.md §6).
    cell_reads_value
        Whether the cell encoder reads ``x_ij`` besides ``z_i, z_j``.
    cell_weight
        Weight of the cell level's bound (scaled to the whole matrix) in the objective.
    joint_gradient
        How much of the cell level's gradient flows back into the row and column latents it
        reads: 0 (default) reads them as given, 1 is the full joint gradient of METHOD.md §6.
        Choice: summed over all ``n * m`` cells, the cell level outweighs both sides and,
        coupled fully, pulls the row and column latents away from their clusters (measured on
        the planted benchmark: row NMI 1.0 with 0, 0.0 with 1).
    critic
        Add the InfoNCE critics (METHOD.md §5).
    critic_weight
        ``lambda_c``.
    scale_trick
        Decoder reads ``f * mu + sigma * eps`` (METHOD.md §4).
    mi
        Cross-loss coupling the partitions (METHOD.md §7): ``"auto"`` (``"variance"`` for
        Gaussian data, ``"weighted"`` otherwise), ``"weighted"`` (data-weighted MI, any
        ``K, L``), ``"deepcc"`` (needs ``K == L``), ``"variance"`` (share of the sum of
        squares the soft block means keep; the Gaussian counterpart of kept MI) or ``"none"``.
    mi_weight
        ``lambda_MI`` (the loss lies in [0, 1]; the bound is counted per matrix entry).
        Default: 1 for ``weighted`` / ``deepcc``, 100 for ``variance``, whose share moves in
        a narrow band on noisy data.
    mi_momentum
        Moving-average weight of the ``K x L`` table across steps.
    row_batch_size, col_batch_size
        Items per minibatch on each side.
    n_cells
        Cells sampled from each row-batch x column-batch block.
    max_epochs
        Epochs of the full objective (default: a budget of 1,500 steps, 10–1,000 epochs).
    pretrain_epochs
        Epochs of plain-VAE pre-training (default: 600 steps' worth, 3–500 epochs).
    warmup_epochs
        KL warm-up epochs (default: a tenth of ``max_epochs``).
    learning_rate, weight_decay
        AdamW settings (mixture parameters are not decayed).
    patience, min_delta
        Early stopping: stop after ``patience`` full-weight epochs whose ``monitor``-ed value
        (the value, not the gradient estimator's surrogate) did not improve by a relative
        ``min_delta``; the weights of the best epoch are kept.
    monitor
        What early stopping and the kept weights read: ``"partitions"`` (default), ``J``
        without the cell level (the row and column sides, critics and cross-loss: the part
        the partitions set), or ``"objective"``, the whole ``J``. Choice: with
        ``joint_gradient=0`` the cell level sends the partitions no gradient, yet its bound
        keeps improving long after they settle and, counted over all ``n * m`` cells,
        decides which epoch ``J`` calls best. The history records both values
        (``partition_objective``, ``objective``); the measured difference is in
        ``benchmarks/RESULTS.md``.
    mixture_init
        How the mixtures start from the encoder means: ``"kmeans"`` or ``"gmm"``.
    n_init
        Fits from different seeds; the one with the highest evidence bound (``bound_``) is
        kept, as ``KMeans(n_init=...)`` keeps the lowest inertia. An integer runs that many
        (default 1). ``"auto"`` runs one, and a second from another seed only when the first
        leaves a requested row or column cluster empty (two groups merged in one cluster),
        so fits that use every cluster cost nothing extra; with more clusters than the data
        hold it often costs a second fit. ``config_["fits"]`` records each fit's seed, bound
        and empty clusters, ``config_["kept_fit"]`` the kept one.
    sketch_threshold, sketch_size
        Columns are read through a random sketch of width ``sketch_size`` once there are more
        than ``sketch_threshold`` rows (METHOD.md §3).
    device
        ``"auto"`` (CUDA → MPS → CPU), ``"cpu"``, ``"cuda"``, ``"mps"``. Minibatches are moved
        to it; the matrix stays sparse in host memory.
    precision
        ``"32"`` (float32) or ``"bf16"``: bf16 autocast of the training forward pass on CUDA
        (the likelihoods' softmax and log-gamma stay float32, as autocast keeps them). On
        other devices ``"bf16"`` logs a warning and trains in float32.
    progress
        Show a progress bar while training.
    random_state
        Seeds numpy, torch and the samplers; the same seed gives the same labels.
    callbacks
        Callables receiving each epoch's history entry (a dict) while training.
    """

    def __init__(
        self,
        n_row_clusters: int = 3,
        n_col_clusters: int | None = None,
        *,
        n_cell_clusters: int | None = None,
        likelihood: str = "auto",
        input_transform: str = "auto",
        estimator: str = "elbo",
        prior_gradient: str = "gdreg",
        n_samples: int | None = None,
        latent_dim: int = 10,
        cell_latent_dim: int = 4,
        hidden: Sequence[int] = (256, 128),
        decoder_hidden: Sequence[int] = (),
        joint: bool = True,
        cell_reads_value: bool = True,
        cell_weight: float = 1.0,
        joint_gradient: float = 0.0,
        critic: bool = True,
        critic_weight: float = 1.0,
        scale_trick: bool = True,
        mi: str = "auto",
        mi_weight: float | None = None,
        mi_momentum: float = 0.9,
        row_batch_size: int = 256,
        col_batch_size: int = 256,
        n_cells: int = 512,
        max_epochs: int | None = None,
        pretrain_epochs: int | None = None,
        warmup_epochs: int | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        patience: int = 20,
        min_delta: float = 1e-4,
        monitor: str = "partitions",
        mixture_init: str = "kmeans",
        n_init: int | str = 1,
        sketch_threshold: int = 20_000,
        sketch_size: int = 2048,
        device: str = "auto",
        precision: str = "32",
        progress: bool = True,
        random_state: int | None = None,
        callbacks: Sequence | None = None,
    ) -> None:
        self.n_row_clusters = n_row_clusters
        self.n_col_clusters = n_col_clusters
        self.n_cell_clusters = n_cell_clusters
        self.likelihood = likelihood
        self.input_transform = input_transform
        self.estimator = estimator
        self.prior_gradient = prior_gradient
        self.n_samples = n_samples
        self.latent_dim = latent_dim
        self.cell_latent_dim = cell_latent_dim
        self.hidden = hidden
        self.decoder_hidden = decoder_hidden
        self.joint = joint
        self.cell_reads_value = cell_reads_value
        self.cell_weight = cell_weight
        self.joint_gradient = joint_gradient
        self.critic = critic
        self.critic_weight = critic_weight
        self.scale_trick = scale_trick
        self.mi = mi
        self.mi_weight = mi_weight
        self.mi_momentum = mi_momentum
        self.row_batch_size = row_batch_size
        self.col_batch_size = col_batch_size
        self.n_cells = n_cells
        self.max_epochs = max_epochs
        self.pretrain_epochs = pretrain_epochs
        self.warmup_epochs = warmup_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.min_delta = min_delta
        self.monitor = monitor
        self.mixture_init = mixture_init
        self.n_init = n_init
        self.sketch_threshold = sketch_threshold
        self.sketch_size = sketch_size
        self.device = device
        self.precision = precision
        self.progress = progress
        self.random_state = random_state
        self.callbacks = callbacks

    def fit(
        self,
        X,
        y=None,
        *,
        mask=None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: float = 60.0,
    ) -> CoclusterVAE:
        """Learn row and column clusters of ``X``.

        Parameters
        ----------
        X
            ``n x m`` dense array (integer, float or bool), scipy sparse matrix, DataFrame of
            numeric columns or ``numpy.ma.MaskedArray``. NaN marks a missing entry (in a
            sparse matrix, an explicitly stored NaN); missing entries are left out of every
            likelihood, the cross-loss table and the cell sampler.
        y
            Ignored (scikit-learn convention).
        mask
            Optional ``n x m`` boolean array or scipy sparse matrix marking more missing
            entries: ``True`` where the entry is *missing* (the ``numpy.ma`` convention; a
            sparse matrix of the few missing entries suits sparse data). Pass ``~observed``
            if you hold a mask of observed entries. Whatever ``X`` stores there is ignored.
        checkpoint_dir
            A folder for training checkpoints (created if needed). Training saves its whole
            state there (``checkpoint.pt``: weights, optimiser, epoch, best weights and
            early-stopping counters, history, random generator states), each save written
            to a temporary name and renamed, so a kill never leaves a damaged checkpoint.
            Calling ``fit`` again with the same folder, the same ``X`` and the same
            parameters resumes from the last checkpoint and gives the labels an
            uninterrupted fit gives (on the same machine and device; with
            ``random_state=None`` the seed of the first call is reused). A finished fit's
            checkpoint makes a repeated call return at once. A checkpoint of another input
            or other parameters is refused with a ``ValueError``. ``None`` (default): no
            checkpoints.
        checkpoint_every
            Seconds between two checkpoints (checked at the end of each epoch; ``0`` saves
            after every epoch). The end of pre-training and of training are always saved.

        Returns
        -------
        The fitted estimator.

        Raises
        ------
        ValueError
            For input the model cannot use, with what to change: not 2-D, empty, not numeric,
            infinite or too large values, every observed entry 0, rows or columns with no
            observed entry (drop them; rows or columns of zeros are kept), negative values
            with a count likelihood, more clusters than rows or columns, a bad ``mask``; for
            bad parameters; and for a ``checkpoint_dir`` whose checkpoint belongs to another
            fit or cannot be read (the message says what differs).
        cocluster_kit.train.TrainingError
            When the loss stops being finite (the message names the likely causes). If
            some epoch at full weight finished before, the estimator is left fitted with
            the weights of the best such epoch (``history_`` ends at the failure), so its
            labels can still be read.

        Warns
        -----
        cocluster_kit.model.EmptyClusterWarning
            When the kept fit leaves some requested row or column clusters empty (as
            ``KMeans`` warns on fewer distinct clusters than asked for): how many, on which
            side, and what to try.
        """
        from ._fit import fit_estimator
        from ._restarts import fit_with_restarts

        prepared = prepare_matrix(X, mask=mask)
        self._check_params(prepared.shape)
        check_trainable(prepared)
        likelihood = resolve_likelihood(prepared, self.likelihood)
        input_transform = resolve_input_transform(likelihood, self.input_transform)
        checkpoint = None
        if checkpoint_dir is not None:
            checkpoint = self._open_checkpoint(checkpoint_dir, checkpoint_every, prepared)
        if checkpoint is not None and checkpoint.seed is not None:
            seed = checkpoint.seed  # the fingerprint holds random_state: an int matches it
        else:
            seed = resolve_seed(self.random_state)
        device = resolve_device(self.device)

        def fit_once(attempt: int, attempt_seed: int) -> None:
            restart_checkpoint = checkpoint
            if checkpoint is not None and attempt > 0:  # each restart resumes on its own
                folder = os.path.join(checkpoint_dir, f"restart-{attempt}")
                restart_checkpoint = self._open_checkpoint(folder, checkpoint_every, prepared)
            fit_estimator(
                self,
                prepared,
                likelihood=likelihood,
                input_transform=input_transform,
                seed=attempt_seed,
                device=device,
                checkpoint=restart_checkpoint,
            )

        fit_with_restarts(self, fit_once, seed=seed, n_init=self.n_init)
        return self

    def _open_checkpoint(self, folder, every: float, prepared):
        """A :class:`~cocluster_kit.train.Checkpointer` for this fit in ``folder``."""
        from ..train import Checkpointer, fingerprint

        params = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.get_params().items()
            if name not in _NOT_IN_CHECKPOINT_FINGERPRINT
        }
        return Checkpointer(
            folder, fingerprint(prepared.matrix, prepared.missing, params), every=every
        )

    def fit_predict(self, X, y=None, *, mask=None) -> np.ndarray:
        """Fit and return the row labels (``mask`` as in :meth:`fit`)."""
        return self.fit(X, mask=mask).row_labels_

    def _check_params(self, shape: tuple[int, int]) -> None:
        from ..module import ESTIMATORS, MI_VARIANTS, PRIOR_GRADIENTS
        from ..train import MIXTURE_INITS, MONITORED_TERMS, PRECISIONS

        n_rows, n_cols = shape
        n_col_clusters = self.n_row_clusters if self.n_col_clusters is None else self.n_col_clusters
        for name, value, limit, side in (
            ("n_row_clusters", self.n_row_clusters, n_rows, "rows"),
            ("n_col_clusters", n_col_clusters, n_cols, "columns"),
        ):
            if not is_positive_int(value):
                raise ValueError(f"{name}={value!r} must be an integer of at least 1.")
            if value > limit:
                raise ValueError(
                    f"{name}={value} is more than the {limit} {side} of X; ask for at most "
                    f"{limit} clusters."
                )
        choices = {
            "estimator": ESTIMATORS,
            "prior_gradient": PRIOR_GRADIENTS,
            "mi": ("auto", *MI_VARIANTS, "none"),
            "mixture_init": MIXTURE_INITS,
            "precision": PRECISIONS,
            "monitor": tuple(MONITORED_TERMS),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not one of {', '.join(map(repr, allowed))}."
                )
        if self.mi == "deepcc" and self.n_row_clusters != n_col_clusters:
            raise ValueError(
                f"mi='deepcc' needs n_row_clusters == n_col_clusters (got {self.n_row_clusters} "
                f"and {n_col_clusters}); use mi='weighted', which allows different counts."
            )
        if self.n_samples is not None and not is_positive_int(self.n_samples):
            raise ValueError(f"n_samples={self.n_samples!r} must be None or a positive integer.")
        positive_ints = (
            "latent_dim",
            "cell_latent_dim",
            "row_batch_size",
            "col_batch_size",
            "patience",
            "sketch_size",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if not is_positive_int(value):
                raise ValueError(f"{name}={value!r} must be a positive integer.")
        for name in ("max_epochs", "pretrain_epochs", "warmup_epochs", "n_cell_clusters"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
                raise ValueError(f"{name}={value!r} must be None or a non-negative integer.")
        if self.n_init != "auto" and not is_positive_int(self.n_init):
            raise ValueError(f"n_init={self.n_init!r} must be 'auto' or an integer of at least 1.")
        if self.n_cells < 0:
            raise ValueError(f"n_cells={self.n_cells!r} must be non-negative (0 skips cells).")
        for name in ("learning_rate",):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be positive.")
        for name in ("weight_decay", "critic_weight", "cell_weight", "mi_weight", "min_delta"):
            if getattr(self, name) is not None and not getattr(self, name) >= 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be non-negative.")
        if not 0.0 <= self.joint_gradient <= 1.0:
            raise ValueError(f"joint_gradient={self.joint_gradient!r} must be in [0, 1].")
        if not 0.0 <= self.mi_momentum < 1.0:
            raise ValueError(f"mi_momentum={self.mi_momentum!r} must be in [0, 1).")
