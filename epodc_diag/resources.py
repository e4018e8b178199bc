"""Files that ship with epodc: the SQL in `queries/`.

In an installed epodc the queries live in the package (`epodc_diag/queries`, mapped from the
repository's top-level `queries/` at build time); in a source checkout or an editable install
they are read from the repository itself.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def queries_dir() -> Path:
    installed = _PACKAGE_DIR / "queries"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "queries"


def query_files() -> list[Path]:
    return sorted(queries_dir().glob("*.sql"))
