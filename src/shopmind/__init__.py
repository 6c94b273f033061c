"""shopmind — a self-hostable multimodal AI content engine for e-commerce."""

__version__ = "0.1.0"
