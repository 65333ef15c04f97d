"""The three VAEs (rows, columns, cells) and their losses."""

from ._cocluster import CoclusterModule, LossRecord, Phase, TrainingBatch
from ._mutual_info import MI_VARIANTS, MutualInformationLoss, mutual_information
from ._side import ESTIMATORS, PRIOR_GRADIENTS, MixtureVAE, SideOutput

__all__ = [
    "ESTIMATORS",
    "MI_VARIANTS",
    "PRIOR_GRADIENTS",
    "CoclusterModule",
    "LossRecord",
    "MixtureVAE",
    "MutualInformationLoss",
    "Phase",
    "SideOutput",
    "TrainingBatch",
    "mutual_information",
]
