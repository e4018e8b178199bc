"""What the numbers in the Agent Handler's send failures mean, and where to look for each.

KB87143 Example 1 quotes one value of each failure (`Error=12029`, `HTTP status code=0`); the
same lines occur with other values, each with its own cause. WinHTTP error numbers are from
Microsoft's public list (winhttp.h, "Error Messages (Winhttp.h)"); HTTP status codes from RFC 9110.
A value not in the tables is shown as it is, with no guess.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where the remedy lies; the rules and reports name one per decoded value.
REMEDIES = {
    "dns": "DNS on the Agent Handler: it must resolve the ePO server's name (server.ini) to the "
    "right address",
    "route": "the route and firewalls from the Agent Handler to the ePO server on port 8444, and "
    "the ePO Application Server service",
    "tls": "the TLS certificates between the Agent Handler and the application server (expiry, "
    "name, trusted CA, revocation)",
    "server": "the ePO application server (Tomcat): it answered badly or dropped the connection "
    "(overloaded, restarting or down)",
    "proxy": "proxy settings on the Agent Handler (WinHTTP proxy, auto-proxy script)",
    "auth": "the Agent Handler's credentials or certificate for the application server",
    "handler": "the Agent Handler itself (its service, configuration or resources)",
}


@dataclass(frozen=True)
class Decoded:
    value: str  # the number as logged
    count: int
    name: str  # the symbolic name (ERROR_WINHTTP_CANNOT_CONNECT, 503 Service Unavailable, ...)
    meaning: str
    remedy: str  # a key of REMEDIES, or "" when the value is unknown


_WINHTTP: dict[int, tuple[str, str, str]] = {
    12001: ("ERROR_WINHTTP_OUT_OF_HANDLES", "no more WinHTTP handles could be created", "handler"),
    12002: ("ERROR_WINHTTP_TIMEOUT", "the request timed out", "route"),
    12004: ("ERROR_WINHTTP_INTERNAL_ERROR", "an internal WinHTTP error", "handler"),
    12005: ("ERROR_WINHTTP_INVALID_URL", "the URL is invalid", "handler"),
    12006: ("ERROR_WINHTTP_UNRECOGNIZED_SCHEME", "the URL scheme is not HTTP or HTTPS", "handler"),
    12007: ("ERROR_WINHTTP_NAME_NOT_RESOLVED", "the server name could not be resolved", "dns"),
    12012: ("ERROR_WINHTTP_SHUTDOWN", "WinHTTP was shut down", "handler"),
    12015: ("ERROR_WINHTTP_LOGIN_FAILURE", "the login attempt failed", "auth"),
    12017: ("ERROR_WINHTTP_OPERATION_CANCELLED", "the operation was cancelled", "handler"),
    12029: ("ERROR_WINHTTP_CANNOT_CONNECT", "the connection to the server failed", "route"),
    12030: (
        "ERROR_WINHTTP_CONNECTION_ERROR",
        "the connection was reset or aborted by the server",
        "server",
    ),
    12032: ("ERROR_WINHTTP_RESEND_REQUEST", "the request had to be sent again", "server"),
    12037: (
        "ERROR_WINHTTP_SECURE_CERT_DATE_INVALID",
        "the server's certificate has expired or is not yet valid",
        "tls",
    ),
    12038: (
        "ERROR_WINHTTP_SECURE_CERT_CN_INVALID",
        "the server's certificate names another host",
        "tls",
    ),
    12044: (
        "ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED",
        "the server asked for a client certificate",
        "auth",
    ),
    12045: (
        "ERROR_WINHTTP_SECURE_INVALID_CA",
        "the server's certificate is signed by an untrusted CA",
        "tls",
    ),
    12057: (
        "ERROR_WINHTTP_SECURE_CERT_REV_FAILED",
        "the certificate's revocation could not be checked",
        "tls",
    ),
    12150: ("ERROR_WINHTTP_HEADER_NOT_FOUND", "an expected HTTP header was missing", "server"),
    12152: (
        "ERROR_WINHTTP_INVALID_SERVER_RESPONSE",
        "the server's response could not be understood",
        "server",
    ),
    12156: ("ERROR_WINHTTP_REDIRECT_FAILED", "a redirect could not be followed", "server"),
    12157: (
        "ERROR_WINHTTP_SECURE_CHANNEL_ERROR",
        "an error in the secure channel (TLS) support",
        "tls",
    ),
    12166: ("ERROR_WINHTTP_BAD_AUTO_PROXY_SCRIPT", "the proxy auto-config script failed", "proxy"),
    12167: (
        "ERROR_WINHTTP_UNABLE_TO_DOWNLOAD_SCRIPT",
        "the proxy auto-config script could not be downloaded",
        "proxy",
    ),
    12169: ("ERROR_WINHTTP_SECURE_INVALID_CERT", "the server's certificate is invalid", "tls"),
    12170: ("ERROR_WINHTTP_SECURE_CERT_REVOKED", "the server's certificate was revoked", "tls"),
    12175: (
        "ERROR_WINHTTP_SECURE_FAILURE",
        "the TLS handshake failed (certificate or protocol)",
        "tls",
    ),
    12178: ("ERROR_WINHTTP_AUTO_PROXY_SERVICE_ERROR", "the auto-proxy service failed", "proxy"),
    12179: (
        "ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE",
        "the certificate is not valid for server authentication",
        "tls",
    ),
    12180: ("ERROR_WINHTTP_AUTODETECTION_FAILED", "proxy auto-detection failed", "proxy"),
}

_HTTP: dict[int, tuple[str, str, str]] = {
    0: ("no HTTP response", "no answer came back at all (connection failed or aborted)", "route"),
    400: ("400 Bad Request", "the application server rejected the request", "server"),
    401: ("401 Unauthorized", "the application server did not accept the credentials", "auth"),
    403: ("403 Forbidden", "the application server refused the request", "auth"),
    404: ("404 Not Found", "the address is not served (wrong port or server)", "server"),
    408: ("408 Request Timeout", "the application server timed out waiting", "server"),
    500: ("500 Internal Server Error", "the application server failed on the request", "server"),
    502: ("502 Bad Gateway", "a proxy got no valid answer from the application server", "proxy"),
    503: (
        "503 Service Unavailable",
        "the application server is overloaded, starting or stopping",
        "server",
    ),
    504: ("504 Gateway Timeout", "a proxy timed out waiting for the application server", "proxy"),
}

TABLES = {"winhttp": _WINHTTP, "http-status": _HTTP}


def decode(table: str, groups: tuple[tuple[str, int], ...]) -> tuple[Decoded, ...]:
    """Each counted value with its name, meaning and remedy; unknown values as they are."""
    known = TABLES[table]
    out: list[Decoded] = []
    for value, count in groups:
        try:
            entry = known.get(int(value))
        except ValueError:
            entry = None
        if entry is None:
            what = "WinHTTP error" if table == "winhttp" else "HTTP status"
            out.append(Decoded(value, count, f"{what} {value}", "not in the public list", ""))
        else:
            out.append(Decoded(value, count, entry[0], entry[1], entry[2]))
    return tuple(out)
