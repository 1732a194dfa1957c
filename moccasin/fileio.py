"""Reading JSON with readable errors and writing files atomically (temporary file, then rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from moccasin.errors import InputError


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; every failure is an InputError naming the file and the problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a JSON file") from None
    except PermissionError:
        raise InputError(f"{p}: permission denied") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a text file (not UTF-8)") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from None
    if not text.strip():
        raise InputError(f"{p}: empty file, expected JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        ends_early = e.pos >= len(text.rstrip()) - 1 or e.msg.startswith("Unterminated string")
        what = "truncated JSON" if ends_early else "not valid JSON"
        raise InputError(f"{p}: {what} (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply") from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half a file (rename is atomic)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise InputError(f"{p}: directory {directory} does not exist") from None
    except PermissionError:
        raise InputError(f"{p}: cannot write in {directory} (permission denied)") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_umask() -> int:
    """The process umask, read once at import (mkstemp makes files 0600; ours get the usual mode)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    """Serialise ``data`` first, then write it atomically."""
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
