"""Value-range estimation for dynamic fixed point: observed ranges from calibration data,
or sound intervals propagated from the input type."""
from .ranges import float_run, observed_bounds

__all__ = ["float_run", "observed_bounds"]
