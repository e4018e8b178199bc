"""The Markdown report read as a ticket reader sees it, rendered by a CommonMark parser
(markdown-it-py, which rich already brings): context, escaped placeholders, the key numbers
(ux review D26)."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}


def test_markdown_has_context_numbers_and_survives_rendering(make_site: SiteFactory) -> None:
    site = str(make_site("tomcat-unreachable,cleanup-stalled", **SIZE))
    result = run_epodc("check", "--site", site, "--no-history", "-f", "markdown")
    assert result.returncode == 2, result.stderr
    text = result.stdout
    assert re.search(
        r"^\| Generated \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ on `[^`]+` by epodc ", text, re.M
    )
    assert re.search(r"^\| Judged at \| 2026-11-26 \d\d:\d\d:\d\d \(", text, re.M), text[:600]
    assert "| Status | CRITICAL (exit 2) |" in text

    html = MarkdownIt("commonmark").enable("table").render(text)
    # the placeholder is text, not a tag an HTML renderer drops
    assert "&lt;ePO install dir&gt;\\DB\\server.ini" in html, html
    assert "<ePO install dir>" not in html
    # the queue numbers, in the perfdata's units
    numbers = re.search(r"<h2>Key numbers</h2>(.*?)</table>", html, re.S)
    assert numbers, html
    assert "<td>queue_depth</td>" in numbers.group(1)
    overdue = re.search(r"<td>cleanup_overdue</td>\s*<td[^>]*>([\d.]+) s</td>", numbers.group(1))
    assert overdue and float(overdue.group(1)) > 300, numbers.group(1)
