"""epodc.toml: lookup order, validation with file/line/key, and the documented example."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from epodc_diag.config import (
    SPEC,
    find_config,
    key_lines,
    load_settings,
    parse_settings,
    user_config_path,
)
from epodc_diag.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "epodc.toml"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No EPODC_CONFIG, an empty working folder, an empty user config dir."""
    monkeypatch.delenv("EPODC_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "appdata"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_lookup_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_config(None) is None
    assert load_settings().get("engine", "agents") == SPEC["engine"]["agents"].default

    user = _write(user_config_path(), "[engine]\nagents = 4\n")
    assert user.is_relative_to(isolated)
    assert find_config(None) == user
    cwd = _write(Path.cwd() / "epodc.toml", "[engine]\nagents = 3\n")
    assert find_config(None) == cwd
    env = _write(isolated / "env.toml", "[engine]\nagents = 2\n")
    monkeypatch.setenv("EPODC_CONFIG", str(env))
    assert find_config(None) == env
    explicit = _write(isolated / "explicit.toml", "[engine]\nagents = 1\n")
    assert find_config(explicit) == explicit
    assert load_settings(explicit).get("engine", "agents") == 1
    assert load_settings().get("engine", "agents") == 2


def test_named_files_must_exist(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        find_config(isolated / "nope.toml")
    monkeypatch.setenv("EPODC_CONFIG", str(isolated / "gone.toml"))
    with pytest.raises(ConfigError, match=r"\$EPODC_CONFIG"):
        find_config(None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[engine]\nagents = 5\nagnets = 6\n", r"line 3: unknown key 'agnets' in \[engine\]"),
        ("[engin]\nagents = 5\n", r"line 1: unknown section \[engin\]"),
        (
            "[database]\n\nlogin_timeout = 'soon'\n",
            r"line 3: \[database\] login_timeout must be a whole number",
        ),
        ("[database]\nencrypt = 1\n", r"line 2: \[database\] encrypt must be true or false"),
        ("[database]\nclock = 'mars'\n", r"line 2: \[database\] clock must be one of utc, local"),
        ("[engine]\nhours = 0\n", r"line 2: \[engine\] hours must be at least 0.05"),
        ("[engine]\nagents = \n", r"invalid TOML: .*line 2"),
        ("engine = 3\n", r"line 1: \[engine\] must be a table"),
    ],
)
def test_malformed_files_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "epodc.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        parse_settings(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_binary_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "epodc.toml"
    path.write_bytes(b"\xff\xfe[\x00e\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        parse_settings(path)
    with pytest.raises(ConfigError, match="cannot read config file"):
        parse_settings(tmp_path)


def test_key_lines_tracks_sections_and_quoted_keys() -> None:
    lines = key_lines('top = 1\n[database]\n"server" = "x"\n  [ engine ] # c\nseed=2\n')
    assert lines[("", "top")] == 1
    assert lines[("database", "server")] == 3
    assert lines[("engine", "seed")] == 5


def test_example_documents_every_key_and_validates() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert {s: set(keys) for s, keys in data.items()} == {s: set(keys) for s, keys in SPEC.items()}
    settings = parse_settings(EXAMPLE)
    for section, keys in SPEC.items():
        for key, spec in keys.items():
            # the example shows each default, and a comment explains each key
            assert settings.get(section, key) == spec.default, (section, key)
            line = settings.lines[(section, key)]
            previous = text.splitlines()[line - 2]
            assert previous.startswith("#"), (section, key)
