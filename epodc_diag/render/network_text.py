"""Plain-text view of `epodc diag network` (no rich)."""

from __future__ import annotations

from epodc_diag.network.cert import describe
from epodc_diag.network.check import NetworkReport
from epodc_diag.render.marks import mark
from epodc_diag.render.plain import verdict_line


def network_text(report: NetworkReport) -> str:
    out = [f"ePO server: {report.host or '-'}  address: {report.ip or '-'}  port: {report.port}"]
    if report.source:
        out.append(f"from: {report.source}")
    out += [f"network: {report.network}", ""]
    for step in report.steps:
        symbol = mark({"ok": "✓", "failed": "✗", "skipped": "-"}[step.status])
        out.append(f"  {symbol} {step.name:<38} {step.duration_ms:8.1f} ms  {step.detail}")
    if report.tls is not None and report.tls.ok:
        if report.tls.certificate is not None:
            lines = describe(report.tls.certificate)
            out.append(f"    certificate: {lines[0]}")
            out.extend(f"                 {line}" for line in lines[1:])
        else:
            out.append("    certificate: could not be read")
    out.append("")
    out.extend(verdict_line(v) for v in report.verdicts)
    return "\n".join(out) + "\n"
