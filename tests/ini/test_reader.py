"""The tolerant server.ini reader: encodings, line ends, comments, duplicates, junk."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epodc_diag.ini.reader import IniError, parse_ini, read_ini

TEXT = (
    "; written by setup\n"
    "Orphan = before any section\n"
    "[Server]\n"
    "  ComputerName = EPOSRV01  \n"
    "# a hash comment\n"
    'DNSName="eposrv01.corp.example.com"\n'
    "IPAddress=10.20.0.10\n"
    "Note=Café €5\n"
    "[ports]\n"
    "ClientAuthHttpsPort=8443\n"
    "clientauthhttpsport=8444\n"
    "[SERVER]\n"
    "Extra='quoted'\n"
)

ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-sig": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "utf-16-le-bom": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16-be-bom": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "utf-16-le-no-bom": lambda t: t.encode("utf-16-le"),
    "cp1252": lambda t: t.encode("cp1252"),
}
NEWLINES = {"CRLF": "\r\n", "LF": "\n", "CR": "\r"}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("newline", sorted(NEWLINES))
def test_every_encoding_and_line_end(encoding: str, newline: str) -> None:
    data = ENCODINGS[encoding](TEXT.replace("\n", NEWLINES[newline]))
    ini = parse_ini(data, "server.ini")
    assert ini.newline == newline
    assert ini.sections == ("", "Server", "ports")
    assert ini.get("server", "computername") is not None
    computer = ini.get("SERVER", "ComputerName")
    assert computer is not None and computer.value == "EPOSRV01" and computer.line == 4
    dns = ini.get(None, "dnsname")
    assert dns is not None and dns.value == "eposrv01.corp.example.com" and dns.line == 6
    note = ini.get("Server", "Note")
    assert note is not None and note.value == "Café €5"
    orphan = ini.get("", "Orphan")
    assert orphan is not None and orphan.section == ""
    extra = ini.get("server", "extra")
    assert extra is not None and extra.value == "quoted"
    port = ini.get("Ports", "ClientAuthHttpsPort")
    assert port is not None and port.value == "8444" and port.line == 11  # the last one wins
    kinds = sorted(i.kind for i in ini.issues)
    assert kinds == ["duplicate-key", "duplicate-section"]
    duplicate = next(i for i in ini.issues if i.kind == "duplicate-key")
    assert duplicate.line == 11 and "first at line 10" in duplicate.message


def test_encoding_is_reported() -> None:
    assert parse_ini(ENCODINGS["utf-16-le-bom"]("[a]\r\nk=v\r\n")).encoding == "UTF-16 LE (BOM)"
    assert parse_ini("[a]\nk=é\n".encode("cp1252")).encoding == "Windows-1252"
    assert parse_ini(b"[a]\nk=v\n").encoding == "UTF-8"


def test_effective_values_keep_first_order_and_last_value() -> None:
    ini = parse_ini(b"[s]\na=1\nb=2\nA=3\n")
    assert [(v.key, v.value) for v in ini.effective()] == [("A", "3"), ("b", "2")]


def test_junk_lines_are_reported_not_fatal() -> None:
    ini = parse_ini(b"[ok]\nthis is not a key value line\n=no key\n[unterminated\nk=v\n")
    kinds = [i.kind for i in ini.issues]
    assert kinds == ["malformed", "malformed", "unterminated-section"]
    value = ini.get("unterminated", "k")
    assert value is not None and value.value == "v"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00",
            "not a text file",
        ),
        (b"\xff\xfe[\x00a\x00]\x00\r", "truncated"),
        (bytes(range(32)) * 20, "not a text file"),
        (b"\xfe\xff\xd8\x00", "not valid UTF-16 BE"),
    ],
)
def test_binary_and_truncated_files_are_errors(data: bytes, message: str) -> None:
    with pytest.raises(IniError, match=message):
        parse_ini(data, "server.ini")


def test_file_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(IniError, match="file not found"):
        read_ini(tmp_path / "missing.ini")
    with pytest.raises(IniError, match="is a folder"):
        read_ini(tmp_path)
    locked = tmp_path / "locked.ini"
    locked.write_bytes(b"[a]\n")

    # Tests run as root here, where a mode of 000 does not stop a read: raise as Windows would.
    real_open = os.open

    def denied(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(IniError, match="permission denied reading"):
        read_ini(locked)


def test_empty_file_is_empty() -> None:
    ini = parse_ini(b"")
    assert ini.values == () and ini.issues == () and ini.newline == "none"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise_anything_but_ini_error(data: bytes) -> None:
    try:
        ini = parse_ini(data, "fuzz.ini")
    except IniError as exc:
        assert "\n" not in str(exc)
        return
    for value in ini.values:
        assert value.line >= 1 and value.key


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=500),
    st.sampled_from(sorted(ENCODINGS)),
)
def test_arbitrary_text_in_any_encoding(text: str, encoding: str) -> None:
    try:
        data = ENCODINGS[encoding](text)
    except UnicodeEncodeError:
        return
    with contextlib.suppress(IniError):
        parse_ini(data, "fuzz.ini")


def test_a_junk_line_that_mentions_a_secret_is_not_quoted() -> None:
    ini = parse_ini(b"[Db]\nPassword hunter2\nplain junk\n")
    messages = [i.message for i in ini.issues]
    assert len(messages) == 2 and "hunter2" not in messages[0] and "masked" in messages[0]
    assert messages[1].endswith("plain junk")


@pytest.mark.parametrize(
    "line",
    [
        "Proxy http://u:Zq7Hunter@proxy.example.com:8080",
        "[Server=x;Uid=sa;Pwd=Zq7Hunter",
        "Proxy u:Zq7Hunter@proxy.example.com:8080",
        "AgentHandlerPassword :Zq7Hunter",
    ],
)
def test_issues_never_quote_a_line_with_a_secret(line: str) -> None:
    # C3: a malformed line is quoted in the issues unless it holds a secret in any form (the
    # secret itself need not look like one).
    ini = parse_ini(f"[Server]\r\n{line}\r\n".encode())
    assert ini.issues, "the line must be reported"
    for issue in ini.issues:
        assert "Zq7Hunter" not in issue.message
