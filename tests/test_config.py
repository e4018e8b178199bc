"""epodc.toml: lookup order, validation with file/line/key, and the documented example."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[engine]\nhours = inf\n", r"line 2: \[engine\] hours must be a finite number, got inf"),
        ("[engine]\nhours = nan\n", r"line 2: \[engine\] hours must be a finite number, got nan"),
        ("[engine]\nhours = -inf\n", r"line 2: \[engine\] hours must be a finite number"),
        ("[engine]\nhours = 100000.0\n", r"line 2: \[engine\] hours must be at most 336"),
        ("[engine]\nhandlers = 100000\n", r"line 2: \[engine\] handlers must be at most 64"),
        ("[engine]\nagents = 100000000\n", r"line 2: \[engine\] agents must be at most 1000000,"),
        ("[network]\ntimeout = nan\n", r"line 2: \[network\] timeout must be a finite number"),
        ("[network]\ntimeout = inf\n", r"line 2: \[network\] timeout must be a finite number"),
        ("[network]\ntimeout = 1e300\n", r"line 2: \[network\] timeout must be at most"),
        ("[network]\ntotal_timeout = +inf\n", r"\[network\] total_timeout must be a finite"),
        ("[network]\nport = 70000\n", r"line 2: \[network\] port must be at most 65535"),
        ("[database]\nport = 65536\n", r"line 2: \[database\] port must be at most 65535"),
        ("[database]\nlogin_timeout = 99999999\n", r"\[database\] login_timeout must be at most"),
        (
            '[database]\nnow = "0001-01-01 00:00:00"\n',
            r"line 2: \[database\] now must be a time between",
        ),
        ('[database]\nnow = "9999-12-31T23:59:59"\n', r"\[database\] now must be a time between"),
    ],
)
def test_non_finite_and_out_of_range_values_name_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path / "epodc.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        parse_settings(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_every_cli_limit_is_also_a_config_limit() -> None:
    """The keys that have a command-line twin share its limits (review M15)."""
    assert SPEC["engine"]["agents"].maximum == 1_000_000
    assert SPEC["engine"]["handlers"].maximum == 64
    assert SPEC["engine"]["hours"].maximum == 24 * 14
    assert SPEC["network"]["port"].maximum == 65535
    for section in SPEC.values():
        for spec in section.values():
            if spec.kind in (int, float) and spec.minimum is not None:
                assert spec.maximum is not None


def test_unreadable_optional_locations_count_as_absent(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review M13: as root permissions cannot hide a file, so use what no account can read as a
    config file: a folder, a symlink loop, a FIFO (which must not block)."""
    user = user_config_path()
    user.parent.mkdir(parents=True)
    user.mkdir()  # a folder named epodc.toml
    assert find_config(None) is None
    user.rmdir()
    user.symlink_to(user.parent / "loop")
    (user.parent / "loop").symlink_to(user)
    assert find_config(None) is None
    user.unlink()
    os.mkfifo(user)
    assert find_config(None) is None
    assert load_settings().get("engine", "agents") == SPEC["engine"]["agents"].default
    (Path.cwd() / "epodc.toml").mkdir()
    assert find_config(None) is None
    # A HOME that does not resolve is no config either.
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(isolated / "no-such-home"))
    assert find_config(None) is None


def test_an_explicit_config_that_is_not_a_file_is_an_error(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = isolated / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="named pipe"):
        find_config(fifo)
    with pytest.raises(ConfigError, match="named pipe"):
        parse_settings(fifo)  # refused before it is opened, so it cannot block
    monkeypatch.setenv("EPODC_CONFIG", str(isolated))
    with pytest.raises(ConfigError, match=r"folder.*\$EPODC_CONFIG"):
        find_config(None)


def test_each_section_is_a_typed_dataclass_read_from_the_file(tmp_path: Path) -> None:
    from epodc_diag.config import SECTIONS, NetworkSettings, defaults

    path = tmp_path / "epodc.toml"
    path.write_text(
        "[network]\ntimeout = 5\n[ini]\nhost_keys = ['AppHost']\n[history]\nenabled = false\n",
        encoding="utf-8",
    )
    settings = parse_settings(path)
    assert settings.network == NetworkSettings(timeout=5.0)
    assert isinstance(settings.network.timeout, float)  # a TOML integer where a number goes
    assert settings.ini.host_keys == ["AppHost"]
    assert settings.history.enabled is False and settings.history.keep_runs == 1000
    # Without a file every section is its dataclass's defaults, and SPEC says the same.
    plain = defaults()
    for name, section in SECTIONS.items():
        assert getattr(plain, name) == section(), name
        for key, spec in SPEC[name].items():
            assert getattr(section(), key) == spec.default, (name, key)


def test_code_that_needs_a_setting_default_takes_it_from_the_section() -> None:
    """A default written twice drifts (the review's 'cleanup is late' in five places)."""
    import inspect

    from epodc_diag.checker import CheckOptions
    from epodc_diag.config import EngineSettings, NetworkSettings
    from epodc_diag.engine.model import SimulationSettings
    from epodc_diag.network.check import check_network

    network, options = NetworkSettings(), CheckOptions()
    assert (
        options.network_port,
        options.network_timeout,
        options.network_total_timeout,
        options.cert_warn_days,
    ) == (network.port, network.timeout, network.total_timeout, network.cert_warn_days)
    given = inspect.signature(check_network).parameters
    assert given["timeout"].default == network.timeout
    assert given["total_timeout"].default == network.total_timeout
    assert given["cert_warn_days"].default == network.cert_warn_days
    engine, simulated = EngineSettings(), SimulationSettings()
    assert (simulated.agents, simulated.handlers, simulated.hours, simulated.seed) == (
        engine.agents,
        engine.handlers,
        engine.hours,
        engine.seed,
    )


def test_a_wrong_type_in_a_section_is_one_line_naming_file_section_and_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "epodc.toml"
    path.write_text("[network]\ncert_warn_days = 'soon'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        parse_settings(path)
    message = raised.value.message
    assert "\n" not in message
    assert message.startswith(f"{path}, line 2: [network] cert_warn_days must be a whole number")
