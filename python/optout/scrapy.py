"""``OptoutMiddleware``: a Scrapy downloader middleware that replaces ``RobotsTxtMiddleware``.

Enable it in place of Scrapy's robots.txt handling::

    ROBOTSTXT_OBEY = False          # optout reads robots.txt (and more) itself
    DOWNLOADER_MIDDLEWARES = {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "optout.scrapy.OptoutMiddleware": 100,
    }
    OPTOUT_PURPOSE = "train-ai"     # train-ai, ai-input or search
    OPTOUT_STORE = "optout-store"   # the evidence log (one store per process)
    OPTOUT_AGENT = "mybot"          # the product token decided for (RFC 9309 §2.2.1)
    OPTOUT_CONFIG = None            # an optout TOML config file
    OPTOUT_ALLOW_PRIVATE_ADDRESSES = False
    USER_AGENT = "mybot/1.0 (+https://example.com/bot)"  # name the same product token

What it does, where Scrapy's own middleware is silent or allows:

- **before a request** it decides with the origin's live robots.txt, tdmrep.json and
  ai.txt (fetched once per origin by optout, cached in the store; an unreachable file or a
  5xx refuses, RFC 9309 §2.3.1.4) and raises ``OptoutIgnoreRequest`` (an ``IgnoreRequest``
  carrying the decision and its reasons) when refused: the request is never sent;
- **after a response** it re-checks what the response says about itself
  (``X-Robots-Tag``, TDMRep and ``Content-Usage`` headers, ``<meta name="robots"
  content="noai">`` and the like; scrapy#4866) with the same judge as optout's fetcher, and
  drops a reserved response (``OptoutIgnoreRequest``, verdict ``discarded``);
- it applies the site's ``Crawl-delay`` for the agent to Scrapy's download slot (the
  delay never shortened, its jitter removed so the interval is a floor);
- every decision is recorded in the evidence log (``request.meta["optout_decision"]``
  holds the last one; stats ``optout/<verdict>`` and ``optout/reason/<code>``).

The checks run without blocking the reactor: through the engine's async methods under the
asyncio reactor (Scrapy's default), in a thread (the GIL released) otherwise.
"""

from __future__ import annotations

from typing import Any, Optional

from scrapy import signals
from scrapy.exceptions import IgnoreRequest

from . import Decision, Engine

__all__ = ["OptoutIgnoreRequest", "OptoutMiddleware"]


class OptoutIgnoreRequest(IgnoreRequest):
    """A request refused, or a response discarded, by optout. ``decision`` holds the
    verdict, the reasons (``code``, ``source``, ``line``, ``rule``, ``detail``) and the
    evidence record's ``seq``."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        reasons = "; ".join(_describe(r) for r in decision.reasons)
        super().__init__(f"optout: {decision.verdict} {decision.url}: {reasons}")


def _describe(reason: Any) -> str:
    parts = [reason.code]
    if reason.source:
        where = reason.source if reason.line is None else f"{reason.source} line {reason.line}"
        parts.append(f"({where})")
    if reason.rule:
        parts.append(repr(reason.rule))
    if reason.detail:
        parts.append(reason.detail)
    return " ".join(parts)


def _asyncio_reactor() -> bool:
    try:
        from scrapy.utils.reactor import is_asyncio_reactor_installed

        return is_asyncio_reactor_installed()
    except Exception:  # no reactor installed yet, or an old Scrapy
        return False


class OptoutMiddleware:
    """Decides every request and response with optout (see the module documentation)."""

    def __init__(self, crawler: Any, engine: Optional[Engine] = None) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self._own_engine = engine is None
        self.engine = engine or Engine(
            config=settings.get("OPTOUT_CONFIG"),
            store=settings.get("OPTOUT_STORE"),
            agent=settings.get("OPTOUT_AGENT"),
            purpose=settings.get("OPTOUT_PURPOSE", "train-ai"),
            allow_private_addresses=settings.getbool("OPTOUT_ALLOW_PRIVATE_ADDRESSES", False),
        )
        self._asyncio = _asyncio_reactor()
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "OptoutMiddleware":
        return cls(crawler)

    async def _call(self, name: str, *args: Any) -> Any:
        """The engine's method ``name``: its async twin on the asyncio reactor, else the
        synchronous one in a thread (it releases the GIL)."""
        if self._asyncio:
            return await getattr(self.engine, "a" + name)(*args)
        from twisted.internet.threads import deferToThread

        return await deferToThread(getattr(self.engine, name), *args)

    def _count(self, decision: Decision) -> None:
        stats = self.crawler.stats
        if stats is None:
            return
        stats.inc_value(f"optout/{decision.verdict}")
        for reason in decision.reasons:
            stats.inc_value(f"optout/reason/{reason.code}")

    def _apply_crawl_delay(self, request: Any, delay: Optional[float]) -> None:
        """Makes the request's download slot wait at least ``delay`` seconds between
        requests (robots.txt ``Crawl-delay``), without jitter below it."""
        if not delay:
            return
        engine = getattr(self.crawler, "engine", None)
        downloader = getattr(engine, "downloader", None)
        if downloader is None:
            return
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is None and hasattr(downloader, "_get_slot"):
            # The slot is made when the request reaches the downloader; make it now, as
            # Scrapy would, so the first requests to the host already wait.
            _, slot = downloader._get_slot(request)
        if slot is None:
            return
        if slot.delay < delay:
            slot.delay = delay
        if hasattr(slot, "jitter"):
            slot.jitter = 0.0
        else:  # Scrapy before 2.14
            slot.randomize_delay = False

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if not request.url.startswith(("http://", "https://")):
            return None
        decision = await self._call("check", request.url)
        self._count(decision)
        request.meta["optout_decision"] = decision
        if not decision.allowed:
            raise OptoutIgnoreRequest(decision)
        self._apply_crawl_delay(request, await self._call("crawl_delay", request.url))
        return None

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if not response.url.startswith(("http://", "https://")):
            return response
        decision = await self._call("check_response", response.url, response.headers, response.body)
        self._count(decision)
        request.meta["optout_decision"] = decision
        if not decision.allowed:
            raise OptoutIgnoreRequest(decision)
        return response

    def _spider_closed(self, spider: Any = None) -> None:
        if self._own_engine:
            self.engine.close()
