"""What every command needs: the validated configuration, with errors as one line."""
from __future__ import annotations

import typer

from bot.config import Config, ConfigError


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print one line to stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_config() -> Config:
    try:
        return Config.from_env()
    except ConfigError as exc:
        raise fail(f"configuration: {exc}", 2) from None
