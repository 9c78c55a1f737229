"""descentlab: watch optimisers find (or miss) the bottom of a loss surface."""

__version__ = "0.1.0"
