"""Type stubs of the native module ``optout._optout`` (re-exported by ``optout``)."""

from __future__ import annotations

import datetime
import os
from typing import IO, Any, Callable, Iterable, List, Mapping, Optional, Tuple, Union

Url = Union[str, bytes]
Bytes = Union[bytes, bytearray, str]
Headers = Union[Mapping[Any, Any], Iterable[Tuple[Union[str, bytes], Union[str, bytes]]]]
PathLike = Union[str, "os.PathLike[str]"]
Time = Union[str, datetime.datetime]

__version__: str

class OptoutError(Exception):
    """Base of every optout error."""

class ConfigError(OptoutError):
    """The configuration file, or a list it names, is unusable."""

class StoreError(OptoutError):
    """The store is damaged, held by another process, or cannot be written."""

class LogBrokenError(OptoutError):
    """The evidence log is not intact: a record or snapshot no longer matches its hash."""

class Reason:
    """One reason of a decision, with the fields of the CLI's JSON (absent ones ``None``)."""

    code: str
    source: Optional[str]
    line: Optional[int]
    rule: Optional[str]
    detail: Optional[str]
    agents: Optional[List[str]]
    entry: Optional[int]
    policy: Optional[str]
    def to_dict(self) -> dict: ...

class Decision:
    """The decision on one input: ``verdict`` is ``allowed``, ``refused``, ``discarded``,
    ``error`` (not a URL optout can judge) or, for a fetch, ``failed``."""

    url: str
    verdict: str
    allowed: bool
    reasons: List[Reason]
    seq: Optional[int]
    agent: str
    purpose: str
    def to_dict(self) -> dict:
        """The decision as one line of ``optout check --json``."""
    def __bool__(self) -> bool: ...

class FetchResult:
    """What became of a fetch; ``body`` is ``None`` unless allowed."""

    url: str
    status: Optional[int]
    headers: dict
    body: Optional[bytes]
    decision: Decision
    allowed: bool

class Verified:
    """An intact log."""

    records: int
    snapshots: int
    head_seq: int
    head_hash: str

class Log:
    """The evidence log of an engine's store."""

    def verify(self) -> Verified:
        """Checks every record, link, the head and every snapshot (as ``optout log
        verify``); raises ``LogBrokenError`` naming the first bad record."""
    def export(
        self,
        target: Union[PathLike, IO[bytes], IO[str]],
        *,
        format: str = "jsonl",
        since: Optional[Time] = None,
        until: Optional[Time] = None,
        host: Optional[str] = None,
        verdict: Optional[str] = None,
    ) -> int:
        """Writes the records as ``optout log export`` does; returns how many."""
    def checkpoint(self) -> str:
        """Verifies the log and returns the ``optout log checkpoint`` line."""

class Engine:
    """Decides, fetches politely and records every decision in its store's evidence log."""

    def __init__(
        self,
        config: Optional[PathLike] = None,
        store: Optional[PathLike] = None,
        agent: Optional[str] = None,
        purpose: str = "train-ai",
        allow_private_addresses: bool = False,
    ) -> None: ...
    @property
    def store(self) -> "os.PathLike[str]": ...
    @property
    def agent(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def log(self) -> Log: ...
    def check(self, url: Url, *, purpose: Optional[str] = None) -> Decision: ...
    def check_many(self, urls: Iterable[Url], *, purpose: Optional[str] = None) -> List[Decision]: ...
    def fetch(self, url: Url, *, purpose: Optional[str] = None) -> FetchResult: ...
    def fetch_many(self, urls: Iterable[Url], *, purpose: Optional[str] = None) -> List[FetchResult]: ...
    def check_response(self, url: Url, headers: Headers, body: Bytes, *, purpose: Optional[str] = None) -> Decision: ...
    def crawl_delay(self, url: Url) -> Optional[float]: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Engine: ...
    def __exit__(self, *args: Any) -> bool: ...
    def _start_check_many(self, urls: Iterable[Url], purpose: Optional[str], callback: Callable[[bool, Any], None]) -> None: ...
    def _start_fetch_many(self, urls: Iterable[Url], purpose: Optional[str], callback: Callable[[bool, Any], None]) -> None: ...
    def _start_check_response(self, url: Url, headers: Headers, body: Bytes, purpose: Optional[str], callback: Callable[[bool, Any], None]) -> None: ...
    def _start_crawl_delay(self, url: Url, callback: Callable[[bool, Any], None]) -> None: ...

def evaluate_robots(robots: Bytes, urls: Iterable[Url], agent: str, purpose: str = "train-ai") -> List[Decision]:
    """Decides each URL under the given robots.txt, as ``optout check --robots FILE``;
    pure (no store, no network)."""

def evaluate(
    url: Url,
    *,
    robots: Optional[Bytes] = None,
    headers: Optional[Headers] = None,
    html: Optional[Bytes] = None,
    tdmrep: Optional[Bytes] = None,
    aitxt: Optional[Bytes] = None,
    purpose: str = "train-ai",
    agent: Optional[str] = None,
) -> Decision:
    """Decides one URL from the inputs given, as ``optout check`` with files; pure."""
