"""sitaware: an event-driven situational-awareness backbone for police command centers."""

__all__ = ["__version__"]
__version__ = "0.1.0"
