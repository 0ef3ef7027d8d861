"""Open text in the user's editor ($VISUAL, else $EDITOR, else vi) and read back what was saved."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from admin_cli.context import CliError


def edit_text(text: str, suffix: str) -> str | None:
    """The edited text, or None when the file was left unchanged. The editor's command may
    carry arguments (`EDITOR="code --wait"`); a failing editor is a refusal."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise CliError(f"EDITOR: cannot parse {command!r} ({exc})") from None
    if not argv:
        raise CliError("EDITOR: empty")
    with tempfile.TemporaryDirectory(prefix="admin-cli-") as folder:
        path = Path(folder) / f"edit{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            done = subprocess.run([*argv, str(path)], check=False)  # noqa: S603 - the user's own editor
        except OSError as exc:
            raise CliError(f"EDITOR: cannot run {argv[0]!r} ({exc.strerror or exc})") from None
        if done.returncode != 0:
            raise CliError(f"EDITOR: {argv[0]!r} exited with status {done.returncode}; nothing saved")
        try:
            edited = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"EDITOR: cannot read the edited file ({exc})") from None
    return None if edited == text else edited
