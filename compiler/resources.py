"""Locate the data folders (templates/, hw_models/) in a source checkout or an installed wheel;
read the JSON files users hand us."""
from __future__ import annotations

import json
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`templates` or `hw_models`: packaged under compiler/_data in a wheel, at the repository
    root in a checkout (editable install)."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"data folder {name!r} not found next to the compiler package")


def read_json(path: Path, what: str, error: type):
    """A JSON file's content, or one line of `error` saying why not (unreadable, not JSON,
    nested too deep for the parser)."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise error(f"{what} {path}: unreadable ({e.strerror or e})") from None
    except (ValueError, UnicodeDecodeError) as e:   # JSONDecodeError is a ValueError
        raise error(f"{what} {path}: not valid JSON ({e})") from None
    except RecursionError:
        raise error(f"{what} {path}: nested too deeply to be a configuration") from None
