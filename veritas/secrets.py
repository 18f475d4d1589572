"""Keeping secrets out of what Veritas prints: error pages, logs and command output.

``mask_url_passwords`` hides the password of any ``scheme://user:password@host`` in a text
(a DATABASE_URL inside an exception message, say); ``MaskingFormatter`` applies it to every
log line, and ``veritas.debug.SafeExceptionReporterFilter`` to error pages. No Django imports:
the settings module uses it.
"""

import logging
import re

MASK = "********"
# scheme://user:password@ — the password ends at the last "@" before the host.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^\s]*)@", re.IGNORECASE)
# key=value pairs of libpq connection strings ("password=…").
_CONNINFO_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_url_passwords(text: str) -> str:
    """``text`` with every password in a URL or libpq connection string replaced by a mask."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _CONNINFO_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)


class MaskingFormatter(logging.Formatter):
    """The log format, with passwords in URLs and connection strings masked (tracebacks too)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_url_passwords(super().format(record))
