"""`shopmind config set|get|show`: persist settings in `$SHOPMIND_HOME/config.yaml` (or `$SHOPMIND_CONFIG`).

The file is the lowest-priority source (environment variables and explicit overrides win), so a
value set here is what every later command in this data dir uses unless the environment says otherwise.
Values are validated against `Settings` before the file is written, so a typo never breaks later runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError

from shopmind.cli.output import emit_json
from shopmind.config import Settings, config_file_path, env_value, get_settings, load_settings
from shopmind.errors import BadInput

config_app = typer.Typer(help="Read and write persistent settings (config.yaml in the data dir).", no_args_is_help=True)

# Secrets never print in full from `show`/`get`.
_SECRET = ("api_key", "password", "secret", "token")


def _config_file() -> Path:
    return config_file_path(get_settings().home, get_settings().config)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise BadInput(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
    return loaded


def _check_key(key: str) -> str:
    key = key.strip().lower().replace("-", "_")
    if key not in Settings.model_fields or key in {"home", "config"}:
        raise BadInput(f"unknown setting {key!r}; `shopmind config show` lists them")
    return key


def _shown(key: str, value: Any) -> Any:
    if value and any(s in key for s in _SECRET):
        return "***"
    return value


def set_cmd(key: str = typer.Argument(..., help="Setting name, e.g. image_precision."),
            value: str = typer.Argument(..., help="New value, e.g. int8.")) -> None:
    """Set KEY to VALUE in config.yaml (validated first)."""
    key = _check_key(key)
    path = _config_file()
    data = _read(path)
    data[key] = value
    try:
        parsed = Settings(**{**data, "home": get_settings().home})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadInput(f"{key}={value!r} is not valid: {first.get('msg', 'invalid value')}") from None
    data[key] = parsed.model_dump(mode="json")[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    get_settings.cache_clear()
    emit_json({"key": key, "value": _shown(key, data[key]), "file": str(path)})


def get_cmd(key: str = typer.Argument(..., help="Setting name.")) -> None:
    """The effective value of KEY (file < environment)."""
    key = _check_key(key)
    value = load_settings().model_dump(mode="json")[key]
    env = env_value(key)
    emit_json({"key": key, "value": _shown(key, value), "source": "env" if env else ("file" if key in _read(_config_file()) else "default")})


def show_cmd() -> None:
    """All effective settings as one JSON object (secrets masked)."""
    values = load_settings().model_dump(mode="json")
    emit_json({"file": str(_config_file()), "settings": {k: _shown(k, v) for k, v in values.items()}})


config_app.command("set")(set_cmd)
config_app.command("get")(get_cmd)
config_app.command("show")(show_cmd)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
