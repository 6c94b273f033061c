"""`shopmind serve`: run the REST API, refusing to expose it to a network without API keys."""

from __future__ import annotations

import ipaddress
import socket

import typer
from rich.console import Console

from shopmind.config import get_settings

console = Console(stderr=True)


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind. Anything but loopback needs an API key first."),
    port: int = typer.Option(8000, min=0, max=65535),
) -> None:
    """Run the REST API (OpenAPI docs at /docs). Stops gracefully on SIGTERM/Ctrl-C."""
    import uvicorn

    from shopmind.api.app import create_app
    from shopmind.security.keys import KeyStore

    settings = get_settings()
    if settings.vector_serving == "auto":  # a long-lived replica: answer vector queries from memory
        settings = settings.model_copy(update={"vector_serving": "memory"})
    keys = KeyStore.for_home(settings.home)
    if not keys.has_active_keys():
        if not is_loopback(host):
            console.print(f"[red]refusing to serve on {host}: no API key exists, so anyone who can reach it could use "
                          "the API.[/red]\nCreate one first: `shopmind keys create --role admin` "
                          "(then send it as `Authorization: Bearer KEY`), or bind to 127.0.0.1.")
            raise typer.Exit(2)
        if keys.auth_enabled():
            console.print("[yellow]warning: every API key is revoked; only /health will answer.[/yellow]")
        else:
            console.print(f"[yellow]warning: auth is off (no API key yet); serving on loopback {host} only. "
                          "`shopmind keys create --role admin` turns it on.[/yellow]")
    import sys

    # The event loop shares the GIL with worker threads running Python-heavy work (BM25, jieba, CSV
    # parsing); a 1 ms switch interval (default 5 ms) lets it answer cheap requests sooner under load.
    sys.setswitchinterval(0.001)
    uvicorn.run(create_app(settings), host=host, port=port, timeout_graceful_shutdown=settings.api_graceful_shutdown_s)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command()(serve)
