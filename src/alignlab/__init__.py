"""alignlab: align language models to human intentions, and measure how aligned they are."""

__version__ = "0.1.0"
