"""Online template mining: Drain (drain3) over masked messages, once per distinct masked form.

The ingest SQL masks each message's variable parts (:mod:`faultcast.ingest.fingerprint`); this
miner groups the *distinct* masked forms of a chunk into templates with drain3, so a form seen
before skips the tree search entirely.  A template's id is its Drain cluster's id (``T<n>``),
stable across runs and restarts because the miner's state is stored in the store with each
chunk; when Drain generalises a template it keeps its id, and the change is recorded.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from drain3 import TemplateMiner
from drain3.drain import Drain
from drain3.memory_buffer_persistence import MemoryBufferPersistence
from drain3.template_miner_config import TemplateMinerConfig
from faultcast.ingest._miner_state import check_miner_state

logging.getLogger("drain3").setLevel(logging.WARNING)

#: Drain's settings, the same for every log (nothing is tuned per system).
SIM_THRESHOLD = 0.4
DEPTH = 5


_WORD = re.compile(r"^[A-Za-z]+[.,:;]?$")


class _WordAwareDrain(Drain):  # type: ignore[misc]  # drain3 ships no types
    """Drain whose templates never turn a plain word into a variable.

    Two different purely alphabetic words at the same position (``initialization.`` and
    ``finalization.``, ``SPP`` and ``WindowsUpdateAgent``) mean two templates, not one with a
    ``<*>``: in logs such words are nearly always part of the message's wording, while the
    variable parts carry digits or punctuation and are masked before Drain sees them.
    """

    def get_seq_distance(self, seq1: Any, seq2: Any, include_params: bool) -> tuple[float, int]:
        if len(seq1) == 0:
            return 1.0, 0
        similar = 0
        params = 0
        for token1, token2 in zip(seq1, seq2, strict=True):
            if token1 == self.param_str:
                params += 1
            elif token1 == token2:
                similar += 1
            elif _WORD.match(token1) and _WORD.match(token2):
                return 0.0, params
        if include_params:
            similar += params
        return similar / len(seq1), params


@dataclass(frozen=True)
class TemplateChange:
    template_id: str
    old_template: str
    new_template: str


class PatternMiner:
    """Assigns templates to masked messages, learning as it goes.

    Examples
    --------
    >>> miner = PatternMiner()
    >>> ids, _ = miner.mine(["connect to <*> failed after <*> ms", "connect to <*> failed after <*> ms"])
    >>> ids
    {'connect to <*> failed after <*> ms': ('T1', 'connect to <*> failed after <*> ms')}
    """

    def __init__(self, state: bytes | None = None, cache_size: int = 200_000) -> None:
        config = TemplateMinerConfig()
        config.profiling_enabled = False
        config.drain_sim_th = SIM_THRESHOLD
        config.drain_depth = DEPTH
        config.parametrize_numeric_tokens = True
        config.snapshot_compress_state = True
        if state is not None:
            check_miner_state(state)  # jsonpickle runs code: data only from the store
        self._buffer = MemoryBufferPersistence()
        self._buffer.state = state
        self._miner = TemplateMiner(persistence_handler=self._buffer, config=config)
        self._miner.persistence_handler = None  # we save explicitly, with each chunk
        self._miner.drain.__class__ = _WordAwareDrain
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cache_size = cache_size
        self._templates: dict[int, str] = {
            c.cluster_id: c.get_template() for c in self._miner.drain.clusters
        }
        self.changed = False

    @property
    def clusters(self) -> int:
        return len(self._miner.drain.clusters)

    def state(self) -> bytes:
        """The miner's state, to store with the chunk it has seen."""
        self._buffer.state = None
        self._miner.persistence_handler = self._buffer
        try:
            self._miner.save_state("chunk")
        finally:
            self._miner.persistence_handler = None
        state = self._buffer.state
        assert isinstance(state, bytes)
        return state

    def mine(self, masked: list[str]) -> tuple[dict[str, tuple[str, str]], list[TemplateChange]]:
        """``{masked form: (template_id, template)}`` for the given distinct forms, in order,
        and the templates Drain generalised on the way."""
        changes: list[TemplateChange] = []
        drain = self._miner.drain
        for form in masked:
            if form in self._cache:
                self._cache.move_to_end(form)
                continue
            result = self._miner.add_log_message(form)
            cluster_id = int(result["cluster_id"])
            template = str(result["template_mined"])
            if result["change_type"] == "cluster_template_changed":
                old = self._templates.get(cluster_id, "")
                changes.append(TemplateChange(f"T{cluster_id}", old, template))
            self._templates[cluster_id] = template
            self.changed = True
            self._cache[form] = cluster_id
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        out: dict[str, tuple[str, str]] = {}
        for form in masked:
            cluster_id = self._cache[form]
            cluster = drain.id_to_cluster.get(cluster_id)
            template = cluster.get_template() if cluster is not None else form
            out[form] = (f"T{cluster_id}", template)
        return out, changes

    def mine_table(self, masked: list[str]) -> tuple[pa.Table, list[TemplateChange]]:
        assigned, changes = self.mine(masked)
        table = pa.table(
            {
                "masked": pa.array(list(assigned), pa.string()),
                "template_id": pa.array([v[0] for v in assigned.values()], pa.string()),
                "mined_template": pa.array([v[1] for v in assigned.values()], pa.string()),
            }
        )
        return table, changes
