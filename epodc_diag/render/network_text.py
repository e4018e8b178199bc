"""Plain-text view of `epodc diag network` (no rich)."""

from __future__ import annotations

from epodc_diag.network.cert import describe
from epodc_diag.network.check import NetworkReport, Step
from epodc_diag.render.marks import mark
from epodc_diag.render.plain import hanging, text_width, verdict_line, wrapped

# What an OpenSSL reason means for an administrator looking at port 8444.
TLS_REASONS = {
    "WRONG_VERSION_NUMBER": "the port answers, but not with TLS (plain HTTP, or a proxy?)",
    "UNEXPECTED_EOF": "the server closed the connection during the handshake",
    "TLSV1_ALERT_PROTOCOL_VERSION": "the server and this machine share no TLS version",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server and this machine share no cipher",
}


def _symbol(step: Step, report: NetworkReport) -> str:
    """A step's mark. A lookup that worked but gave an answer other than the expected address
    is where the fault is, so it gets `!`, not a green ✓."""
    if step.status == "ok" and step.name.startswith("forward lookup") and report.ip:
        addresses = [str(a) for a in step.data.get("addresses", ())]
        if addresses and report.ip not in addresses:
            return "!"
    return mark({"ok": "✓", "failed": "✗", "skipped": "-"}[step.status])


def _detail(step: Step) -> str:
    for reason, meaning in TLS_REASONS.items():
        if reason in step.detail:
            return f"{step.detail}: {meaning}"
    return step.detail


def network_text(report: NetworkReport) -> str:
    out = [f"ePO server: {report.host or '-'}  address: {report.ip or '-'}  port: {report.port}"]
    if report.source:
        out.append(f"from: {report.source}")
    out += [f"network: {report.network}", ""]
    # A simulated network answers at once: its durations say nothing, so none is shown.
    timed = any(step.duration_ms for step in report.steps)
    width = max((len(step.name) for step in report.steps), default=0)
    columns = text_width()
    for step in report.steps:
        took = f"  {step.duration_ms:8.1f} ms" if timed else ""
        line = f"  {_symbol(step, report)} {step.name:<{width}}{took}  {_detail(step)}"
        # Continuation lines start under the detail, where the first line's detail starts.
        out.append(hanging(line, columns, indent=2 + width + len(took) + 2))
    if report.tls is not None and report.tls.ok:
        if report.tls.certificate is not None:
            lines = describe(report.tls.certificate)
            out.append(f"    certificate: {lines[0]}")
            out.extend(f"                 {line}" for line in lines[1:])
        else:
            out.append("    certificate: could not be read")
    out.append("")
    out.extend(verdict_line(v) for v in report.verdicts)
    return wrapped("\n".join(out) + "\n")
