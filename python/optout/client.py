"""A client of ``optout serve``: the same methods as :class:`optout.Engine`, answered by a
service that many workers share (one policy cache, one politeness state per host, one
evidence log).

Standard library only (``urllib``)::

    from optout.client import Client
    client = Client("http://127.0.0.1:8080", token=None)
    decision = client.check("https://example.com/page")
    if decision.allowed:
        page = client.fetch("https://example.com/page")
        print(page.status, len(page.body or b""), page.decision.seq)

Every answer is the service's, unchanged: a :class:`Decision` holds what ``optout check
--json`` prints for the URL (``docs/serve.md``). An error answer raises :class:`ServeError`
with its stable ``code`` (``bad-request``, ``unauthorized``, ``too-many-requests``, ...).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional

__all__ = ["Client", "Decision", "FetchResult", "ServeError", "MAX_BATCH"]

#: The most URLs the service takes in one request; longer lists are sent in several.
MAX_BATCH = 10_000


@dataclass(frozen=True)
class Decision:
    """One decision: ``url`` as given, ``verdict`` (``allowed``, ``refused``,
    ``discarded``, ``error``; for a fetch also ``failed``), the reasons as dicts
    (``code``, ``line``, ``rule``, ``source``, ...) and the evidence record ``seq``."""

    url: str
    verdict: str
    reasons: List[Dict[str, Any]]
    seq: Optional[int] = None
    agent: Optional[str] = None
    purpose: Optional[str] = None

    @property
    def allowed(self) -> bool:
        """True when the verdict is ``allowed``."""
        return self.verdict == "allowed"

    @classmethod
    def from_json(cls, line: Dict[str, Any]) -> "Decision":
        return cls(
            url=line["url"],
            verdict=line["verdict"],
            reasons=list(line.get("reasons", [])),
            seq=line.get("seq"),
            agent=line.get("agent"),
            purpose=line.get("purpose"),
        )


@dataclass(frozen=True)
class FetchResult:
    """What became of a fetch: the site's ``status`` (if it answered), the ``body`` (only
    when allowed), the answer's ``headers`` and the ``decision``."""

    url: str
    status: Optional[int]
    headers: Dict[str, str] = field(default_factory=dict)
    body: Optional[bytes] = None
    decision: Decision = None  # type: ignore[assignment]

    @property
    def allowed(self) -> bool:
        return self.decision is not None and self.decision.allowed


class ServeError(Exception):
    """An error answer of the service: its HTTP ``status``, stable ``code`` and
    ``message``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _batches(urls: Iterable[str]) -> Iterator[List[str]]:
    batch: List[str] = []
    for url in urls:
        batch.append(url)
        if len(batch) == MAX_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class Client:
    """A client of the service at ``base_url`` (``http://127.0.0.1:8080``), with the bearer
    ``token`` if the service wants one."""

    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- transport -----------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None):
        headers = {"Accept": "*/*"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                error = json.loads(raw)["error"]
                code, message = error["code"], error["message"]
            except (ValueError, KeyError, TypeError):
                code, message = "unknown", raw.decode("utf-8", "replace")[:200]
            raise ServeError(e.code, code, message) from None

    def _json(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        with self._request(method, path, body) as response:
            return json.loads(response.read())

    @staticmethod
    def _ask(body: Dict[str, Any], purpose: Optional[str], agent: Optional[str]) -> Dict[str, Any]:
        if purpose is not None:
            body["purpose"] = purpose
        if agent is not None:
            body["agent"] = agent
        return body

    # -- checks --------------------------------------------------------------------------

    def check(self, url: str, *, purpose: Optional[str] = None, agent: Optional[str] = None) -> Decision:
        """The decision on one URL against its origin's live policy files."""
        query = {"url": url}
        self._ask(query, purpose, agent)
        line = self._json("GET", "/v1/check?" + urllib.parse.urlencode(query))
        return Decision.from_json(line)

    def check_many(
        self, urls: Iterable[str], *, purpose: Optional[str] = None, agent: Optional[str] = None
    ) -> List[Decision]:
        """The decisions on many URLs, in input order (sent 10,000 at a time)."""
        out: List[Decision] = []
        for batch in _batches(urls):
            answer = self._json("POST", "/v1/check", self._ask({"urls": batch}, purpose, agent))
            out.extend(Decision.from_json(line) for line in answer["results"])
        return out

    def evaluate(
        self,
        urls: Iterable[str],
        *,
        robots: Optional[str] = None,
        tdmrep: Optional[str] = None,
        aitxt: Optional[str] = None,
        html: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        purpose: Optional[str] = None,
        agent: Optional[str] = None,
    ) -> List[Decision]:
        """The decisions on ``urls`` against the inputs given (robots.txt, tdmrep.json and
        ai.txt text, a page, response headers); nothing is fetched."""
        given: Dict[str, Any] = {}
        for name, value in (("robots", robots), ("tdmrep", tdmrep), ("aitxt", aitxt), ("html", html)):
            if value is not None:
                given[name] = value
        if headers:
            given["headers"] = [{"name": n, "value": v} for n, v in headers.items()]
        out: List[Decision] = []
        for batch in _batches(urls):
            body = self._ask(dict(given, urls=batch), purpose, agent)
            answer = self._json("POST", "/v1/evaluate", body)
            out.extend(Decision.from_json(line) for line in answer["results"])
        return out

    def evaluate_robots(
        self, robots: str, urls: Iterable[str], *, purpose: Optional[str] = None, agent: Optional[str] = None
    ) -> List[Decision]:
        """The decisions on ``urls`` against the robots.txt text ``robots``."""
        return self.evaluate(urls, robots=robots, purpose=purpose, agent=agent)

    # -- fetches -------------------------------------------------------------------------

    def fetch(self, url: str, *, purpose: Optional[str] = None) -> FetchResult:
        """Fetches one URL through the service's pipeline: the body when allowed."""
        body = self._ask({"url": url}, purpose, None)
        with self._request("POST", "/v1/fetch", body) as response:
            headers = {k: v for k, v in response.headers.items()}
            raw = response.read()
        lower = {k.lower(): v for k, v in headers.items()}
        verdict = lower.get("optout-verdict", "error")
        seq = int(lower["optout-seq"]) if "optout-seq" in lower else None
        if verdict == "allowed":
            status = int(lower["optout-status"]) if "optout-status" in lower else None
            decision = Decision(url=url.strip(), verdict=verdict, reasons=[], seq=seq)
            return FetchResult(url=url.strip(), status=status, headers=headers, body=raw, decision=decision)
        line = json.loads(raw)
        return FetchResult(
            url=line["url"],
            status=line.get("status"),
            headers=headers,
            body=None,
            decision=Decision.from_json(line),
        )

    def fetch_many(self, urls: Iterable[str], *, purpose: Optional[str] = None) -> Iterator[FetchResult]:
        """Fetches many URLs, yielding each outcome in input order as it comes, allowed
        bodies included."""
        for batch in _batches(urls):
            body = self._ask({"urls": batch, "bodies": True}, purpose, None)
            with self._request("POST", "/v1/fetch", body) as response:
                for raw in response:
                    if not raw.strip():
                        continue
                    line = json.loads(raw)
                    data = line.get("body_base64")
                    yield FetchResult(
                        url=line["url"],
                        status=line.get("status"),
                        headers={},
                        body=base64.b64decode(data) if data is not None else None,
                        decision=Decision.from_json(line),
                    )

    # -- evidence ------------------------------------------------------------------------

    def evidence(self, **filters: str) -> Iterator[Dict[str, Any]]:
        """The evidence records (``since``, ``until``, ``host``, ``verdict`` filters), as
        stored, one dict per record."""
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        with self._request("GET", "/v1/evidence" + ("?" + query if query else "")) as response:
            for raw in response:
                if raw.strip():
                    yield json.loads(raw)

    def show(self, seq: int) -> Dict[str, Any]:
        """Record ``seq`` and the snapshot lines that decided it."""
        return self._json("GET", f"/v1/evidence/{int(seq)}")

    def checkpoint(self) -> Dict[str, Any]:
        """The head of the verified log: ``seq``, ``hash`` and the checkpoint ``line``."""
        return self._json("GET", "/v1/checkpoint")
