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


class QuietValidation(logging.Filter):
    """Keeps the traceback of a pydantic ValidationError out of a record: its message quotes
    the offending input values (lead data). BentoML logs any exception an endpoint's input
    raises with its traceback; the endpoint's own input type refuses without raising
    (`serving.score_input`), and this filter is the second line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pydantic import ValidationError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            record.msg = f"{record.getMessage()}: {error.error_count()} validation errors"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


# BentoML's loggers that log request failures with their tracebacks.
BENTOML_REQUEST_LOGGERS = ("bentoml._internal.server.http_app", "bentoml.serve")


def quiet_validation_tracebacks() -> None:
    """Put a `QuietValidation` filter on BentoML's request loggers."""
    for name in BENTOML_REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietValidation) for f in logger.filters):
            logger.addFilter(QuietValidation())
