"""Durable alert log: SQLite in WAL mode, one commit per alert change (``store``), typed rows
and filter (``rows``), session ownership for crash recovery (``owner``). Parsing user text and
exporting rows is the front ends' job (:mod:`drowsy.logtext`)."""

from drowsy.alertlog.rows import REVIEW_LABELS, AlertFilter, AlertRow, SessionRow
from drowsy.alertlog.store import SCHEMA_VERSION, AlertLog

__all__ = ["REVIEW_LABELS", "SCHEMA_VERSION", "AlertFilter", "AlertLog", "AlertRow", "SessionRow"]
