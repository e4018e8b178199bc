"""`scrub_secrets` scrubs only the lines that hold a trigger word, "@" or "%" (issue 15: a log
of megabytes is scrubbed in a few passes of str.find). It must mask exactly what running every
pattern over the whole text masks: checked here on texts built from every secret form the
patterns know, mixed with log lines, in several cases and line endings."""

from __future__ import annotations

import random

import pytest

from epodc_diag import secrets
from epodc_diag.secrets import MASK, scrub_secrets

SECRET_FORMS = [
    "Password=hunter2",
    "PWD={a;b}}c}",
    "db.user.passwd = s3cr3t value",
    "DBPassword: x y z",
    "password: at line start",
    "  ;key=abc",
    "?key=abc&x=1",
    "pass=word",
    'keystorePass="changeit"',
    "<password>pw</password>",
    "<ns:Token>t</ns:Token>",
    '"password": "x\\"y"',
    "'apiKey' = 'k'",
    "--password hunter2",
    "--pwd=x",
    "mssql+pyodbc://sa:pa@ss@db/epo",
    "jdbc:sqlserver//sa:pw@host",
    "proxyuser:proxypass@proxy.example.com",
    "odbc_connect=DRIVER%3D%7BX%7D%3BPWD%3Dhunter2",
    "url=mssql%3A%2F%2Fsa%3Apw%40db",
    "Authorization: Bearer abc.def",
    "client_secret=xyz",
    "Credentials=a;b",
    "SharedKey : 1234",
]
LOG_LINES = [
    "2026-11-20 00:00:00.001 I #01234 NAIMSERV Received [MsgUpload] from WKS-1:{GUID}",
    "2026-11-20 00:00:00,002 INFO  [http-nio-8443-exec-3] core.ActionServlet - GET done in 3 ms",
    "2026-11-20 00:00:00.003 masvc(1228.1240) ahclient.Info: Scheduling spipe connection",
    "err=0x80004005, HTTP status code=0, Error=12029 (12029)",
    "the password is needed: set it in epodc.toml",
    "keys: a, b; tokens: c",
    "Straße ÄÖÜ İstanbul ǅ",  # letters whose lower case differs in length or form
    "\tat com.mcafee.orion.Foo.bar(Foo.java:42)",
    "mail admin@example.com about 50% of the agents",
    "",
]


def _whole(text: str) -> str:
    """What scrubbing the whole text at once gives (every pattern over every line)."""
    return secrets._scrub_lines(secrets._mask_known(text))


@pytest.mark.parametrize("seed", range(40))
def test_scrubbing_by_line_masks_exactly_what_the_whole_text_scrub_masks(seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for _ in range(rng.randrange(1, 60)):
        parts = [rng.choice(LOG_LINES)]
        if rng.random() < 0.3:
            form = rng.choice(SECRET_FORMS)
            form = form.upper() if rng.random() < 0.2 else form
            parts.insert(rng.randrange(2), form)
        lines.append(" ".join(parts))
    ending = rng.choice(["\n", "\r\n"])
    text = ending.join(lines) + (ending if rng.random() < 0.5 else "")
    assert scrub_secrets(text) == _whole(text)


def test_lines_without_a_trigger_are_not_scrubbed_and_a_secret_among_them_is() -> None:
    quiet = "\n".join(LOG_LINES[:4] * 1000)
    text = quiet + "\nDRIVER={ODBC};UID=sa;PWD=hunter2;\n" + quiet
    scrubbed = scrub_secrets(text)
    assert "hunter2" not in scrubbed and f"PWD={MASK}" in scrubbed
    assert scrubbed.replace(f"PWD={MASK};", "PWD=hunter2;") == text
    assert secrets._lines_to_scrub(quiet) == []


def test_a_text_whose_lower_case_changes_length_is_scrubbed_whole() -> None:
    text = "İ Password=x\nplain line"
    assert secrets._lines_to_scrub(text) is None
    assert scrub_secrets(text) == f"İ Password={MASK}\nplain line"


@pytest.mark.parametrize("form", SECRET_FORMS)
def test_every_secret_form_is_masked_on_a_line_of_its_own(form: str) -> None:
    text = f"{LOG_LINES[0]}\n{form}\n{LOG_LINES[1]}\n"
    assert _whole(text) != text  # the form is a secret the patterns know
    assert scrub_secrets(text) == _whole(text)
