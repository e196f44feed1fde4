"""Fixed-point numerics shared by the simulator, the passes and the C++ emitter."""
from .fixed import (MAX_WIDTH, OVERFLOW_MODES, ROUNDING_MODES, FixedType, exact_type, grid_codes,
                    shift_round)

__all__ = ["FixedType", "exact_type", "grid_codes", "shift_round", "ROUNDING_MODES", "OVERFLOW_MODES", "MAX_WIDTH"]
