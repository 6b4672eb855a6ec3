"""Credentials out of messages and logs: `scheme://user:password@host` shows as `user:***@`.

Tracking and prediction-log URIs may carry a password (`postgresql://user:secret@db/mlflow`);
libraries quote them in exceptions and warnings. Every message the service or `leadscore serve`
writes about a URI goes through `redact`, and `RedactingFilter` on the log handlers catches
what libraries log.
"""

from __future__ import annotations

import logging
import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")
_SECRET_PARAMS = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|token|secret|access_key|api_key)=)[^&;\s]*",
    re.IGNORECASE,
)
HIDDEN = "***"
_FORMATTER = logging.Formatter()


def redact(text: str) -> str:
    """`text` with the password of every URI in it (and password/token parameters) hidden."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{HIDDEN}@", text)
    return _SECRET_PARAMS.sub(lambda m: f"{m['key']}{HIDDEN}", text)


class RedactingFilter(logging.Filter):
    """Hides URI credentials in every record a handler writes (libraries' too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set: the traceback, redacted.
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        return True


def redact_logs(logger: logging.Logger | None = None) -> None:
    """Put a `RedactingFilter` on every handler of `logger` (default: the root logger)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
