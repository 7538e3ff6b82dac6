"""The session runner and what it hands its callers: options, the listener protocol and the
typed summary (modules: ``runner``, ``listener``, ``tally``, ``outputs``, ``logbook``)."""

from drowsy.session.listener import SessionListener, SessionOptions
from drowsy.session.runner import Session
from drowsy.session.tally import SessionTally
from drowsy.summary import SessionSummary

__all__ = ["Session", "SessionListener", "SessionOptions", "SessionSummary", "SessionTally"]
