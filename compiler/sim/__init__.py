"""The bit-accurate simulator: an interpreter over the ops' simulate functions."""
from .interpreter import Simulator

__all__ = ["Simulator"]
