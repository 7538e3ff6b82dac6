"""Writing result files so that a crash or a full disk never leaves half a file behind."""

from __future__ import annotations

from pathlib import Path

from drowsy.errors import UserError


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``; an
    OS error (disk full, no permission) becomes one clear :class:`UserError`."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
