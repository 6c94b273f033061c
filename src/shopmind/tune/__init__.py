"""The tuning studio: LoRA brand voices trained from one YAML file, kept in a registry, served by
llama.cpp (GGUF LoRA) or an OpenAI-compatible server, and switched per request.

Public surface: `load_config`, `train`, `AdapterRegistry`, `export_gguf`, `template_text`.
Heavy dependencies (torch, transformers, peft, gguf) are imported only when a run starts.
"""

from shopmind.tune.config import TuneConfig, load_config, parse_config, template_text
from shopmind.tune.registry import AdapterRegistry

__all__ = ["TuneConfig", "load_config", "parse_config", "template_text", "AdapterRegistry", "train", "export_gguf"]


def train(*args, **kwargs):
    """See `shopmind.tune.train.train` (lazy: torch loads only when a run starts)."""
    from shopmind.tune.train import train as _train

    return _train(*args, **kwargs)


def export_gguf(*args, **kwargs):
    """See `shopmind.tune.export_gguf.export_adapter`."""
    from shopmind.tune.export_gguf import export_adapter

    return export_adapter(*args, **kwargs)
