"""The three-level co-clustering module: rows, columns and cells (METHOD.md §1–§8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data import CellBatch, SideBatch
from ..nn import make_likelihood
from ._mutual_info import MutualInformationLoss
from ._side import MixtureVAE, SideOutput


def _scale_gradient(tensor: torch.Tensor, factor: float) -> torch.Tensor:
    """``tensor`` unchanged, with its gradient multiplied by ``factor``."""
    if factor == 1.0:
        return tensor
    if factor == 0.0:
        return tensor.detach()
    return factor * tensor + (1.0 - factor) * tensor.detach()


@dataclass
class TrainingBatch:
    """A row batch, a column batch and sampled cells of their block.

    Attributes
    ----------
    rows, columns
        The two side batches.
    cells
        Sampled cells of the block (None when the joint level is off).
    cell_offset
        Independence offsets of the sampled cells (count likelihoods), ``(k,)``, or None.
    n_rows, n_cols
        Sizes of the whole matrix, to scale minibatch sums to it.
    """

    rows: SideBatch
    columns: SideBatch
    cells: CellBatch | None
    cell_offset: torch.Tensor | None
    n_rows: int
    n_cols: int


@dataclass
class Phase:
    """How a step computes its loss (pre-training or the full objective)."""

    estimator: str = "dreg"
    prior_gradient: str = "gdreg"
    n_samples: int = 1
    kl_weight: float = 1.0
    standard_prior: bool = False
    mi_weight: float = 0.0
    critic_weight: float = 0.0
    cell_weight: float = 1.0

    def side_options(self) -> dict:
        """The keyword arguments every :class:`MixtureVAE` call of this phase takes."""
        return {
            "estimator": self.estimator,
            "prior_gradient": self.prior_gradient,
            "n_samples": self.n_samples,
            "kl_weight": self.kl_weight,
            "standard_prior": self.standard_prior,
        }


@dataclass
class LossRecord:
    """The total objective (to back-propagate) and every term, detached (no device sync)."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


class CoclusterModule(nn.Module):
    """Row VAE, column VAE, the joint cell VAE and the MI cross-loss.

    Parameters
    ----------
    n_row_input, n_row_features, row_likelihood
        Encoder width, decoder width and likelihood name of the row side.
    n_col_input, n_col_features, col_likelihood
        The same for the column side.
    n_row_clusters, n_col_clusters, n_cell_clusters
        ``K``, ``L`` and ``B``.
    latent_dims
        ``(d_r, d_c, d_b)``.
    hidden
        Hidden widths of the row and column encoders.
    decoder_hidden
        Hidden widths of the row and column decoders (None mirrors ``hidden``).
    cell_hidden
        Hidden widths of the cell encoder / decoder.
    joint
        Build the cell level.
    cell_reads_value
        Whether the cell encoder reads ``x_ij`` besides ``z_i, z_j`` (METHOD.md §6 choice).
    critic
        Build the InfoNCE critics.
    scale_trick
        Use the decoder-path scale on every side.
    mi
        Cross-loss variant: ``"weighted"``, ``"deepcc"`` or ``"variance"``.
    mi_momentum
        Moving-average weight of the MI table.
    cell_likelihood
        Likelihood name of the cell level.
    joint_gradient
        Scale of the gradient the cell level sends back into the row and column latents it
        reads (0: it reads them as given; 1: the full joint gradient of METHOD.md §6).
    dropout
        Dropout inside the row and column encoder trunks.
    """

    def __init__(
        self,
        *,
        n_row_input: int,
        n_row_features: int,
        row_likelihood: str,
        n_col_input: int,
        n_col_features: int,
        col_likelihood: str,
        n_row_clusters: int,
        n_col_clusters: int,
        n_cell_clusters: int,
        latent_dims: Sequence[int] = (10, 10, 4),
        hidden: Sequence[int] = (256, 128),
        decoder_hidden: Sequence[int] | None = None,
        cell_hidden: Sequence[int] = (64,),
        joint: bool = True,
        cell_reads_value: bool = True,
        critic: bool = True,
        scale_trick: bool = True,
        mi: str = "weighted",
        mi_momentum: float = 0.9,
        cell_likelihood: str | None = None,
        joint_gradient: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.joint_gradient = joint_gradient
        row_latent, col_latent, cell_latent = latent_dims
        self.cell_reads_value = cell_reads_value

        def side(n_input: int, likelihood: str, n_features: int, n_latent: int, n_components: int):
            return MixtureVAE(
                n_input,
                make_likelihood(likelihood, n_features),
                n_latent=n_latent,
                n_components=n_components,
                hidden=hidden,
                decoder_hidden=decoder_hidden,
                n_critic_input=n_input if critic else 0,
                scale_trick=scale_trick,
                dropout=dropout,
            )

        self.rows = side(n_row_input, row_likelihood, n_row_features, row_latent, n_row_clusters)
        self.columns = side(n_col_input, col_likelihood, n_col_features, col_latent, n_col_clusters)
        self.cells = None
        if joint:
            context = row_latent + col_latent
            self.cells = MixtureVAE(
                context + (1 if cell_reads_value else 0),
                make_likelihood(cell_likelihood or row_likelihood, 1, cell_level=True),
                n_latent=cell_latent,
                n_components=n_cell_clusters,
                hidden=cell_hidden,
                n_context=context,
                n_critic_input=1 if critic else 0,
                scale_trick=scale_trick,
            )
        self.mutual_information = MutualInformationLoss(
            n_row_clusters, n_col_clusters, variant=mi, momentum=mi_momentum
        )
        self.count_cells = (cell_likelihood or row_likelihood) in (
            "poisson",
            "negative_binomial",
            "multinomial",
        )

    def sides(self) -> dict[str, MixtureVAE]:
        """The VAE of every side that exists, by name (``row``, ``col``, ``cell``)."""
        named = {"row": self.rows, "col": self.columns}
        if self.cells is not None:
            named["cell"] = self.cells
        return named

    def mi_weights(self, block: torch.Tensor) -> torch.Tensor:
        """What the cross-loss reads of the block (METHOD.md §7).

        ``|x|`` for the MI variants (counts and binary values are non-negative already);
        the standardised values themselves for the ``variance`` variant.
        """
        return block if self.mutual_information.variant == "variance" else block.abs()

    def cell_value_input(self, value: torch.Tensor) -> torch.Tensor:
        """What the cell encoder and critic read of ``x_ij``: ``log1p`` of counts, else x."""
        return torch.log1p(value.clamp_min(0.0)) if self.count_cells else value

    def cell_inputs(
        self, row_latent: torch.Tensor, col_latent: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder input ``[z_i; z_j; x_ij]``, decoder context ``[z_i; z_j]``, critic input."""
        context = torch.cat([row_latent, col_latent], dim=-1)
        value_input = self.cell_value_input(value).unsqueeze(-1)
        encoder_input = torch.cat([context, value_input], -1) if self.cell_reads_value else context
        return encoder_input, context, value_input

    def _side_forward(self, side: MixtureVAE, batch: SideBatch, phase: Phase) -> SideOutput:
        return side(
            batch.encoder_input,
            batch.target,
            mask=batch.mask,
            offset=batch.offset,
            critic_input=batch.encoder_input,
            noise_window=batch.noise_window,
            **phase.side_options(),
        )

    def forward(self, batch: TrainingBatch, phase: Phase) -> LossRecord:
        """The objective ``J`` of METHOD.md §8 on one batch, per entry of the matrix."""
        n_entries = float(batch.n_rows) * float(batch.n_cols)
        outputs: dict[str, tuple[SideOutput, torch.Tensor, float]] = {}
        row_out = self._side_forward(self.rows, batch.rows, phase)
        outputs["row"] = (
            row_out,
            torch.ones_like(row_out.bound),
            batch.n_rows / len(row_out.bound),
        )
        col_out = self._side_forward(self.columns, batch.columns, phase)
        outputs["col"] = (
            col_out,
            torch.ones_like(col_out.bound),
            batch.n_cols / len(col_out.bound),
        )
        cells = batch.cells
        if self.cells is not None and cells is not None and len(cells.value) > 1:
            encoder_input, context, value_input = self.cell_inputs(
                _scale_gradient(row_out.sample[cells.row_position], self.joint_gradient),
                _scale_gradient(col_out.sample[cells.column_position], self.joint_gradient),
                cells.value,
            )
            cell_out = self.cells(
                encoder_input,
                cells.value.unsqueeze(-1),
                offset=batch.cell_offset,
                context=context,
                critic_input=value_input,
                **phase.side_options(),
            )
            scale = phase.cell_weight * n_entries / cells.block_size
            outputs["cell"] = (cell_out, cells.weight, scale)

        total = torch.zeros((), device=row_out.mean.device)
        # The value of J, split into the part the row and column partitions set and the cell
        # level's part (with joint_gradient=0 the cell level sends the partitions no gradient).
        partition_objective = torch.zeros((), device=row_out.mean.device)
        cell_objective = torch.zeros((), device=row_out.mean.device)
        terms: dict[str, torch.Tensor] = {}
        for name, (out, weight, scale) in outputs.items():
            per_item = out.loss - phase.critic_weight * out.critic
            total = total + scale * (weight * per_item).sum()
            # J's value: a DReG surrogate has J's gradient, not J's value.
            per_item_value = -out.bound - phase.critic_weight * out.critic.detach()
            part = scale * (weight * per_item_value).sum()
            if name == "cell":
                cell_objective = part
            else:
                partition_objective = partition_objective + part
            norm = weight.sum()
            for term in ("bound", "reconstruction", "kl", "critic"):
                value = (weight * getattr(out, term).detach()).sum() / norm
                terms[f"{name}_{term}"] = value
        total = total / n_entries
        partition_objective = partition_objective / n_entries
        if phase.mi_weight > 0:
            block = batch.rows.target[:, batch.columns.index]
            observed = None if batch.rows.mask is None else batch.rows.mask[:, batch.columns.index]
            mi_loss = self.mutual_information(
                self.mi_weights(block),
                observed,
                self.rows.responsibilities(row_out.mean),
                self.columns.responsibilities(col_out.mean),
            )
            total = total + phase.mi_weight * mi_loss
            partition_objective = partition_objective + phase.mi_weight * mi_loss.detach()
            terms["mi"] = mi_loss.detach()
        terms["loss"] = total.detach()
        terms["objective"] = (partition_objective + cell_objective / n_entries).detach()
        terms["partition_objective"] = partition_objective.detach()
        return LossRecord(total=total, terms=terms)
