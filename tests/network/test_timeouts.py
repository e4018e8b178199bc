"""--timeout and --total-timeout bound the whole process, even when the resolver never answers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from epodc_diag.network.probes import SystemNetwork, TlsOutcome, seconds_text


def test_durations_are_written_rounded() -> None:
    assert seconds_text(2.99521) == "3 s"
    assert seconds_text(2.94) == "2.9 s"
    assert seconds_text(20) == "20 s"
    assert seconds_text(0.0004) == "0.1 s"


def test_a_lookup_that_never_returns_does_not_keep_the_process_alive() -> None:
    """The resolver is replaced by a call that sleeps 30 s (the system resolver cannot be made
    to hang here without a network namespace; see the next test for the real one)."""
    code = textwrap.dedent(
        """
        import socket, time
        from epodc_diag.network.probes import LookupFailed, SystemNetwork

        def slow(*args, **kwargs):
            time.sleep(30)

        socket.getaddrinfo = slow
        socket.gethostbyaddr = slow
        network = SystemNetwork()
        for step in (lambda: network.forward("epo.example.test", 0.5),
                     lambda: network.reverse("127.0.0.1", 0.5)):
            try:
                step()
            except LookupFailed as exc:
                print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=15, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "the resolver (looking up epo.example.test) did not answer within 0.5 s",
        "the resolver (reverse lookup of 127.0.0.1) did not answer within 0.5 s",
    ]


def test_a_tls_peer_that_trickles_bytes_is_abandoned_after_the_timeout() -> None:
    """A socket timeout applies to each read; a peer sending a byte now and then resets it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = server.accept()
        with conn:
            # a TLS record header announcing 16 KB, then one byte every 0.3 s
            for byte in b"\x16\x03\x03\x40\x00" + b"\x00" * 200:
                if stop.wait(0.3):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    outcome: list[TlsOutcome] = []
    port = int(server.getsockname()[1])
    probe = threading.Thread(
        target=lambda: outcome.append(SystemNetwork().handshake("127.0.0.1", port, None, 1.0)),
        daemon=True,
    )
    probe.start()
    probe.join(timeout=20)
    stop.set()
    server.close()
    assert not probe.is_alive(), "the handshake ignored its timeout"
    assert not outcome[0].ok
    assert outcome[0].detail == f"TLS handshake with 127.0.0.1:{port} timed out after 1 s"


_SILENT_DNS = """
import os, socket, subprocess, sys, time
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 53))
tcp = socket.socket()
tcp.bind(("127.0.0.1", 53))
tcp.listen(8)
# Both sockets are open and never answer: the resolver waits for its own 30 s timeout.
started = time.monotonic()
run = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(round(time.monotonic() - started, 1), file=sys.stderr)
sys.stdout.write(run.stdout)
sys.stderr.write(run.stderr)
sys.exit(run.returncode)
"""


def _can_unshare() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-n", "-m", "true"], capture_output=True, timeout=10, check=False
    )
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_unshare(), reason="needs unshare -n -m (root, Linux) and ip")
def test_total_timeout_holds_when_the_dns_server_never_answers(tmp_path: Path) -> None:
    """The review's M5, with the real resolver: a private network namespace whose only DNS
    server (127.0.0.1:53 inside the namespace) takes the query and never answers."""
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:30 attempts:1\n", encoding="ascii")
    runner = tmp_path / "silent_dns.py"
    runner.write_text(_SILENT_DNS, encoding="utf-8")
    epodc = [sys.executable, "-m", "epodc_diag", "diag", "network"]
    args = ["--host", "epo-server.example.test", "--timeout", "2", "--total-timeout", "4"]
    script = 'ip link set lo up && mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPODC_")}
    result = subprocess.run(
        [
            "unshare",
            "-n",
            "-m",
            "sh",
            "-c",
            script,
            "sh",
            str(resolv),
            sys.executable,
            str(runner),
            *epodc,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=20,  # the old code took 30 s and more
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "did not answer within 2 s" in result.stdout, result.stdout
