"""`epodc timeline` (and `check --format html`, which builds a timeline) show each long step on
a terminal's stderr, and nothing of it in a pipe or a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import on_a_terminal, run_epodc

SIZE = {"agents": 200, "handlers": 2, "hours": 2.0}
STEPS = (b"scanning logs", b"reading the database", b"timing each hit")


def test_timeline_steps_on_a_terminal_none_in_the_pipe(make_site: Any, tmp_path: Path) -> None:
    site = make_site("cleanup-stalled", seed=1, **SIZE)
    code, seen, out = on_a_terminal(["timeline", "--site", str(site)], tmp_path)
    assert code == 1, seen.decode(errors="replace")
    for step in STEPS:
        assert step in seen, (step, seen.decode(errors="replace")[-2000:])
    assert b"kB/" in seen  # each counting step names its bytes done of the bytes to do
    # stdout, a pipe here, carries the timeline only.
    assert out.startswith(b"epodc timeline: ")
    for step in STEPS:
        assert step not in out
    assert b"\x1b[" not in out
    piped = run_epodc("timeline", "--site", str(site))
    assert piped.stderr == ""
    assert all(step.decode() not in piped.stdout for step in STEPS)


def test_html_steps_on_a_terminal_none_in_the_file(make_site: Any, tmp_path: Path) -> None:
    site = make_site("cleanup-stalled", seed=1, **SIZE)
    page = tmp_path / "t.html"
    code, seen, _ = on_a_terminal(
        ["timeline", "--site", str(site), "-f", "html", "-o", str(page)], tmp_path
    )
    assert code == 1, seen.decode(errors="replace")
    assert b"drawing the charts" in seen and b"timing each hit" in seen
    text = page.read_text(encoding="utf-8")
    assert "drawing the charts" not in text and "timing each hit" not in text
    # `check --format html` builds the same timeline: its steps show too, on the terminal only.
    checked = tmp_path / "c.html"
    code, seen, _ = on_a_terminal(
        ["check", "--site", str(site), "-f", "html", "--no-history", "-o", str(checked)],
        tmp_path,
    )
    assert b"timing each hit" in seen, seen.decode(errors="replace")[-2000:]
    assert "timing each hit" not in checked.read_text(encoding="utf-8")


def test_bundle_timeline_steps_on_a_terminal(make_site: Any, tmp_path: Path) -> None:
    site = make_site("cleanup-stalled", seed=1, **SIZE)
    bundle = tmp_path / "b.zip"
    made = run_epodc("bundle", "--site", str(site), "-o", str(bundle), "--network", "off")
    assert bundle.is_file(), made.stderr
    code, seen, out = on_a_terminal(["timeline", "--bundle", str(bundle)], tmp_path)
    assert code == 1, seen.decode(errors="replace")
    assert b"reading the bundle's log excerpts" in seen and b"timing each hit" in seen
    assert b"timing each hit" not in out and out.startswith(b"epodc timeline: ")
