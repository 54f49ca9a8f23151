"""``OptoutFilter``: a datatrove filter that drops documents whose URL is refused.

The after-the-fact corpus filter: every document's ``metadata["url"]`` is checked, in
batches through ``Engine.check_many``, against what its site reserves today (robots.txt,
tdmrep.json, ai.txt, fetched once per origin), and every decision is recorded::

    from datatrove.pipeline.readers import JsonlReader
    from optout.datatrove import OptoutFilter

    pipeline = [
        JsonlReader("corpus/"),
        OptoutFilter(store="optout-stores/{rank}", agent="mybot", purpose="train-ai"),
        JsonlWriter("kept/"),
    ]

A dropped document counts under its first reason code in datatrove's stats (the code, and
``dropped_<code>`` as datatrove counts the drop reason). A document without a URL, or with
one that is not a URL optout can judge, is dropped (``url.invalid``): what cannot be
checked is not kept.

Each worker process opens its own store: put ``{rank}`` in ``store`` when the pipeline runs
with more than one task (sled allows one process per store).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

from datatrove.pipeline.filters.base_filter import BaseFilter

from . import Engine

__all__ = ["OptoutFilter"]


class OptoutFilter(BaseFilter):
    """Drops documents whose URL is refused for the purpose (see the module docs)."""

    name = "🚫 optout"

    def __init__(
        self,
        store: Optional[str] = None,
        agent: Optional[str] = None,
        purpose: str = "train-ai",
        config: Optional[str] = None,
        allow_private_addresses: bool = False,
        url_key: str = "url",
        batch_size: int = 1000,
        exclusion_writer: Any = None,
    ) -> None:
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        self.store = store
        self.agent = agent
        self.purpose = purpose
        self.config = config
        self.allow_private_addresses = allow_private_addresses
        self.url_key = url_key
        self._rank = 0
        self._engine: Optional[Engine] = None

    def __getstate__(self) -> dict:
        # datatrove pickles steps to its workers: each opens its own engine there.
        state = self.__dict__.copy()
        state["_engine"] = None
        return state

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            store = self.store.format(rank=self._rank) if self.store else None
            self._engine = Engine(
                config=self.config,
                store=store,
                agent=self.agent,
                purpose=self.purpose,
                allow_private_addresses=self.allow_private_addresses,
            )
        return self._engine

    def run(self, data: Any, rank: int = 0, world_size: int = 1) -> Any:
        self._rank = rank
        try:
            yield from super().run(data, rank, world_size)
        finally:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    def filter(self, doc: Any) -> Union[bool, Tuple[bool, str]]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: List[Any]) -> List[Union[bool, Tuple[bool, str]]]:
        urls = [str(doc.metadata.get(self.url_key) or "") for doc in batch]
        results: List[Union[bool, Tuple[bool, str]]] = []
        for decision in self.engine.check_many(urls):
            if decision.allowed:
                results.append(True)
                continue
            code = decision.reasons[0].code if decision.reasons else decision.verdict
            self.stat_update(code)
            results.append((False, code))
        return results
