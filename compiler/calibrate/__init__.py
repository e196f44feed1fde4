"""Value-range estimation for dynamic fixed point: observed ranges from calibration data,
clipped by a calibration method, or sound intervals propagated from the input type."""
from .methods import METHODS, clip_magnitude, per_channel_clips
from .observation import Observation
from .ranges import Calibration, ObservedRanges, float_run

__all__ = ["Calibration", "ObservedRanges", "float_run", "Observation", "METHODS", "clip_magnitude",
           "per_channel_clips"]
