"""The two ways a SPARQL request ends without a result, each carrying the HTTP status to answer."""

from __future__ import annotations


class Refused(Exception):
    """A request the endpoint will not run; `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class QueryFailed(Exception):
    """A request that was accepted but could not be answered (time limit, caps, a failed worker)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
