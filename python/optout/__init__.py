"""optout: may this crawler fetch this URL, for this purpose?

The native engine of the ``optout`` crate (robots.txt per RFC 9309, TDMRep, Content-Usage,
Content Signals, ``noai`` meta tags and headers, ai.txt), its polite fetch pipeline and its
hash-chained evidence log, for Python::

    import optout

    engine = optout.Engine(store="optout-store", agent="mybot", purpose="train-ai")
    for d in engine.check_many(["https://example.com/", "https://example.org/a"]):
        print(d.url, d.verdict, [r.code for r in d.reasons])
    engine.log.verify()

Pure functions, without a store or the network: :func:`evaluate_robots` and :func:`evaluate`.
Drop-ins: :mod:`optout.scrapy` (``OptoutMiddleware``) and :mod:`optout.datatrove`
(``OptoutFilter``).

Importing this package touches neither the network nor the disk. Synchronous calls release
the GIL, so threads run in parallel; each ``Engine`` owns its store for the life of the
process (sled's lock): one store per worker process, or a shared one through
``optout serve``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable, List, Optional, Union

from . import _optout
from ._optout import (
    ConfigError,
    Decision,
    FetchResult,
    Log,
    LogBrokenError,
    OptoutError,
    Reason,
    StoreError,
    Verified,
    __version__,
    evaluate,
    evaluate_robots,
)

from .client import Client

__all__ = [
    "Client",
    "ConfigError",
    "Decision",
    "Engine",
    "FetchResult",
    "Log",
    "LogBrokenError",
    "OptoutError",
    "Reason",
    "StoreError",
    "Verified",
    "__version__",
    "evaluate",
    "evaluate_robots",
]

Url = Union[str, bytes]


def _settle(future: "asyncio.Future[Any]", ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _awaitable(start: Callable[[Callable[[bool, Any], None]], None]) -> "asyncio.Future[Any]":
    """Runs ``start(callback)`` (engine work on its own runtime) and returns a future of the
    running loop that the callback settles, from the runtime's thread."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def done(ok: bool, value: Any) -> None:
        loop.call_soon_threadsafe(_settle, future, ok, value)

    start(done)
    return future


class Engine(_optout.Engine):
    """Decides whether URLs may be fetched, fetches them politely, and records every
    decision in the hash-chained evidence log of its store.

    ``Engine(config=None, store=None, agent=None, purpose="train-ai",
    allow_private_addresses=False)``. ``store=None`` is the CLI's default store (so
    ``optout log verify`` without ``--store`` verifies what Python recorded). Use it as a
    context manager, or call :meth:`close`, to release the store.

    Every synchronous method has an ``async`` twin for asyncio code (``acheck``,
    ``acheck_many``, ``afetch``, ``afetch_many``, ``acheck_response``, ``acrawl_delay``); the
    work runs on the engine's own runtime and never blocks the event loop. A cancelled
    awaitable does not undo its decisions: they are recorded all the same.
    """

    async def acheck(self, url: Url, *, purpose: Optional[str] = None) -> Decision:
        """The async twin of :meth:`check`."""
        decisions = await self.acheck_many([url], purpose=purpose)
        return decisions[0]

    async def acheck_many(self, urls: Iterable[Url], *, purpose: Optional[str] = None) -> List[Decision]:
        """The async twin of :meth:`check_many`."""
        return await _awaitable(lambda done: self._start_check_many(urls, purpose, done))

    async def afetch(self, url: Url, *, purpose: Optional[str] = None) -> FetchResult:
        """The async twin of :meth:`fetch`."""
        results = await self.afetch_many([url], purpose=purpose)
        return results[0]

    async def afetch_many(self, urls: Iterable[Url], *, purpose: Optional[str] = None) -> List[FetchResult]:
        """The async twin of :meth:`fetch_many`."""
        return await _awaitable(lambda done: self._start_fetch_many(urls, purpose, done))

    async def acheck_response(
        self, url: Url, headers: Any, body: Union[bytes, str], *, purpose: Optional[str] = None
    ) -> Decision:
        """The async twin of :meth:`check_response`."""
        return await _awaitable(
            lambda done: self._start_check_response(url, headers, body, purpose, done)
        )

    async def acrawl_delay(self, url: Url) -> Optional[float]:
        """The async twin of :meth:`crawl_delay`."""
        return await _awaitable(lambda done: self._start_crawl_delay(url, done))
