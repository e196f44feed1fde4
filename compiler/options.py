"""Options of one compilation (everything the CLI and the API let a user choose)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .calibrate.ranges import Calibration
from .numerics import FixedType

DEFAULT_INPUT_TYPE = FixedType(16, 6, True, "AP_RND_CONV", "AP_SAT")  # the field's usual ap_fixed<16,6>


@dataclass
class CompileOptions:
    width: int = 16                     # activations the model leaves in float
    weight_width: int = 16              # weights the model leaves in float
    rounding: str = "AP_RND"            # rounding mode where an activation is narrowed
    reuse_factor: int | None = None     # every MAC layer's cycles per item (None: fold to fit the target)
    layers: dict = field(default_factory=dict)  # per-layer settings {node name: settings.LayerSettings}
    input_type: FixedType | None = None  # None: from calibration data, else DEFAULT_INPUT_TYPE
    calib: list[np.ndarray] | None = None  # calibration inputs, one array per graph input (IR layout)
    calibration: Calibration = field(default_factory=Calibration)         # activation clip ranges
    weight_calibration: Calibration = field(default_factory=Calibration)  # float weights' clip ranges
    ocs: float = 0.0                     # outlier channel splitting: share of input channels split (passes/split_outliers)
    split: dict = field(default_factory=dict)   # set by split_outliers: {layer: input channels split}
    per_channel_weights: bool = False    # per-channel weight formats behind an inserted requantizer (passes/per_channel_weights)
    per_channel: dict = field(default_factory=dict)  # set by per_channel_weights: {layer: largest channel shift}
    fold: object | None = None           # a cost.folding.FoldRequest: choose reuse factors automatically
    target: object | None = None         # the Target the design is for (folding needs its costs)
    folded_by_default: bool = False      # set by choose_parallelism: no request, folded to fit
    prune: dict = field(default_factory=dict)   # {layer: share of output channels to remove} (prune_channels)
    pruned: dict = field(default_factory=dict)  # set by prune_channels: {layer: (kept, of)}
