"""One choke point for secrets: every log line (and so every error the tap reports) is redacted.

A server may echo what it was sent (the refresh grant, the Authorization header) in an error
message; whatever it echoes, the configured secrets and every access token seen in this run
are replaced before a line is written.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "[redacted]"
# Shapes that hold a credential whatever its value: Zoho tokens, header and grant parameters.
_PATTERNS = re.compile(
    r"(?i)(zoho-oauthtoken\s+|bearer\s+|(?:refresh_token|client_secret|access_token|client_id)"
    r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]+"
    r"|\b1000\.[0-9a-f]{16,}\.[0-9a-f]{16,}\b"
)
_secrets: set[str] = set()
_lock = threading.Lock()
MIN_SECRET_LENGTH = 6


def add_secret(value: object) -> None:
    """Remember a value that must never be written out."""
    text = str(value or "")
    if len(text) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(text)


def _masked(match: re.Match[str]) -> str:
    """A credential-shaped value masked, the name before it kept."""
    return (match.group(1) or "") + MASK


def redact(text: str) -> str:
    """``text`` with every known secret and credential-shaped value masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return _PATTERNS.sub(_masked, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and any traceback text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of ``logger`` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
