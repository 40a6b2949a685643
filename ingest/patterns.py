"""Online template mining: Drain over masked messages, then a frequency split of what it merged.

The ingest SQL masks each message's variable parts (:mod:`faultcast.ingest.fingerprint`); this
miner groups the *distinct* masked forms of a chunk into templates, so a form seen before skips
the search entirely.  Two steps, both online and the same for every log:

1. **Drain** (drain3) puts a form in a cluster of forms of the same length that share enough
   tokens, turning the positions where they differ into ``<*>``.  Drain alone is sensitive to its
   similarity threshold: too low and different messages share a template (``initialization`` /
   ``finalization``), too high and a user name splits a template in one per user.
2. **A cardinality split** (Brain's rule, IEEE TSC 2023: a position is a variable when it takes
   many distinct values, a constant when it takes few).  For each position Drain generalised,
   the cluster counts the distinct values seen there; while there are fewer than
   :data:`MIN_DISTINCT`, each value is part of the wording and starts its own template; once
   there are :data:`MIN_DISTINCT`, the position is a variable and those templates become one.

A template's id is ``T<cluster>`` for the first template of a Drain cluster and
``T<cluster>.<n>`` for the others.  The miner's state goes into the store with each chunk, so ids
are stable across runs and restarts.  When a template is generalised (Drain widens it, or a
position turns variable) it keeps its id, and the change is recorded.  Templates that a
variable position folds into an older one are recorded as changed too, and their later lines
get the older id; lines already stored keep the id they were given (stored events are never
rewritten, so what was learned from them stays true).  So mining chunk by chunk, with restarts,
ends with the grouping of one pass over the same lines, and the ids lines were *given* differ
from it only for lines stored before their template folded.  Only :data:`SIM_THRESHOLD` and
:data:`MIN_DISTINCT` are settings; whether a token can be wording (:data:`WORDING`) is a rule
about tokens, not about any one log.
"""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from drain3 import TemplateMiner
from drain3.drain import Drain, Node
from drain3.memory_buffer_persistence import MemoryBufferPersistence
from drain3.template_miner_config import TemplateMinerConfig
from faultcast.ingest._miner_state import check_miner_state

logging.getLogger("drain3").setLevel(logging.WARNING)

#: Drain's settings and the split's, the same for every log (nothing is tuned per system; the
#: values are chosen by leave-one-system-out in ``benchmarks/patterns.py``).
SIM_THRESHOLD = 0.4
#: The prefix tree holds wildcards only (see :class:`_Drain`): the least depth drain3 allows.
DEPTH = 3
#: A position Drain generalised is a variable once it has taken this many distinct values.
MIN_DISTINCT = 4

PARAM = "<*>"
_MAGIC = b"FCMINE1\n"

Key = tuple[tuple[int, str], ...]

#: A token that can be part of a message's wording: letters (``_`` and ``-`` inside), maybe a
#: ``key=`` before them and a punctuation mark after.  Anything else (digits, a placeholder,
#: dots, slashes, brackets inside) is an identifier or a value: where such tokens differ, the
#: position is a variable at once, as in Drain.
WORDING = r"(?:[A-Za-z_][\w.-]*[=:])?[A-Za-z][A-Za-z_-]*[.,:;!?]?"
_WORDING = re.compile(WORDING)


def _is_wording(token: str) -> bool:
    return _WORDING.fullmatch(token) is not None and not any(c.isdigit() for c in token)


class _Drain(Drain):  # type: ignore[misc]  # drain3 ships no types
    """Drain for masked forms, with two changes to drain3's search.

    - Every token takes the tree's wildcard branch, so forms are first grouped by length only
      and a message that starts with a variable word (a user, a host) is not split by its first
      words, as it is in Drain's prefix tree.
    - A position where the template holds ``<*>`` counts as similar when the form holds a
      masked value there too (two variables line up); drain3 counts it as different, so forms
      that are mostly masked values never reach the similarity threshold.
    """

    def has_numbers(self, s: str) -> bool:  # type: ignore[override]
        return True

    def __getstate__(self) -> dict[str, Any]:  # the index is rebuilt, not saved
        return {k: v for k, v in self.__dict__.items() if k not in ("_rows", "_vocab")}

    def _index(self, cluster_ids: list[int]) -> _Rows:
        """The templates of ``cluster_ids`` (one length) as a matrix of token codes."""
        rows: dict[int, _Rows] = self.__dict__.setdefault("_rows", {})
        vocab: dict[str, int] = self.__dict__.setdefault("_vocab", {PARAM: 0})
        first = self.id_to_cluster.get(cluster_ids[0])
        length = len(first.log_template_tokens) if first is not None else 0
        index = rows.get(length)
        if index is None or index.cids != cluster_ids:
            index = rows[length] = _Rows(length)
            for cid in cluster_ids:
                index.put(cid, self.id_to_cluster[cid].log_template_tokens, vocab)
        return index

    def add_log_message(self, content: str) -> Any:
        cluster, change = super().add_log_message(content)
        rows = self.__dict__.get("_rows", {})
        index = rows.get(len(cluster.log_template_tokens))
        if index is not None and change != "none":
            index.put(cluster.cluster_id, cluster.log_template_tokens, self._vocab)
        return cluster, change

    def fast_match(
        self, cluster_ids: Any, tokens: list[str], sim_th: float, include_params: bool
    ) -> Any:
        """drain3's best match (most similar, then most parameters, then first), over all the
        candidates at once."""
        if not cluster_ids:
            return None
        index = self._index(list(cluster_ids))
        codes = index.codes[: len(index.cids)]
        form = np.array([self._vocab.get(t, -1) for t in tokens], dtype=np.int64)
        params = codes == 0
        similar = ((codes == form) & ~params).sum(axis=1) + (params & (form == 0)).sum(axis=1)
        score = similar * (len(tokens) + 1) + params.sum(axis=1)
        best = int(np.argmax(score))
        if similar[best] / len(tokens) < sim_th:
            return None
        return self.id_to_cluster.get(index.cids[best])

    def get_seq_distance(self, seq1: Any, seq2: Any, include_params: bool) -> tuple[float, int]:
        if len(seq1) == 0:
            return 1.0, 0
        similar = 0
        params = 0
        for token1, token2 in zip(seq1, seq2, strict=True):
            if token1 == PARAM:
                params += 1
                if token2 == PARAM:
                    similar += 1
            elif token1 == token2:
                similar += 1
        return similar / len(seq1), params


class _Rows:
    """Templates of one length, one row of token codes each (``<*>`` is 0), in cluster order."""

    def __init__(self, length: int) -> None:
        self.cids: list[int] = []
        self._row: dict[int, int] = {}
        self.codes = np.zeros((8, length), dtype=np.int64)

    def put(self, cid: int, tokens: Any, vocab: dict[str, int]) -> None:
        row = self._row.get(cid)
        if row is None:
            row = self._row[cid] = len(self.cids)
            self.cids.append(cid)
            if row == len(self.codes):
                self.codes = np.concatenate([self.codes, np.zeros_like(self.codes)])
        self.codes[row] = [vocab.setdefault(t, len(vocab)) for t in tokens]


#: States saved by an earlier version name this class.
_WordAwareDrain = _Drain


@dataclass(frozen=True)
class TemplateChange:
    template_id: str
    old_template: str
    new_template: str


@dataclass
class _Split:
    """The cardinality split of one Drain cluster."""

    values: dict[int, list[str]] = field(default_factory=dict)  # position -> distinct values
    variable: set[int] = field(default_factory=set)
    ids: dict[Key, str] = field(default_factory=dict)  # split values -> template id, oldest first
    made: int = 0  # templates made in this cluster (for the next id)

    def key(self, tokens: list[str]) -> Key:
        return tuple((p, tokens[p]) for p in sorted(self.values) if p not in self.variable)

    def to_json(self) -> dict[str, Any]:
        return {
            "values": {str(p): v for p, v in self.values.items()},
            "variable": sorted(self.variable),
            "ids": [[[list(kv) for kv in k], tid] for k, tid in self.ids.items()],
            "made": self.made,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Split:
        return cls(
            values={int(p): list(v) for p, v in data["values"].items()},
            variable=set(data["variable"]),
            ids={tuple((int(p), str(v)) for p, v in k): str(tid) for k, tid in data["ids"]},
            made=int(data["made"]),
        )


def _render(template: list[str], key: Key) -> str:
    tokens = list(template)
    for p, value in key:
        tokens[p] = value
    return " ".join(tokens)


class PatternMiner:
    """Assigns templates to masked messages, learning as it goes.

    Examples
    --------
    >>> miner = PatternMiner()
    >>> ids, _ = miner.mine(["connect to <*> failed after <*> ms", "connect to <*> failed after <*> ms"])
    >>> ids
    {'connect to <*> failed after <*> ms': ('T1', 'connect to <*> failed after <*> ms')}
    """

    def __init__(
        self,
        state: bytes | None = None,
        cache_size: int = 200_000,
        *,
        sim_threshold: float = SIM_THRESHOLD,
        min_distinct: int = MIN_DISTINCT,
    ) -> None:
        config = TemplateMinerConfig()
        config.profiling_enabled = False
        config.drain_sim_th = sim_threshold
        config.drain_depth = DEPTH
        config.parametrize_numeric_tokens = True
        config.snapshot_compress_state = True
        self.min_distinct = min_distinct
        self._splits: dict[int, _Split] = {}
        drain_state = state
        legacy = state is not None and not state.startswith(_MAGIC)
        if state is not None and not legacy:
            data = json.loads(zlib.decompress(state[len(_MAGIC) :]))
            drain_state = data["drain"].encode("ascii")
            self._splits = {int(c): _Split.from_json(s) for c, s in data["splits"].items()}
        if drain_state is not None:
            check_miner_state(drain_state)  # jsonpickle runs code: data only from the store
        self._buffer = MemoryBufferPersistence()
        self._buffer.state = drain_state
        self._miner = TemplateMiner(persistence_handler=self._buffer, config=config)
        self._miner.persistence_handler = None  # we save explicitly, with each chunk
        self._miner.drain.__class__ = _Drain
        self._templates: dict[int, list[str]] = {
            c.cluster_id: list(c.log_template_tokens) for c in self._miner.drain.clusters
        }
        if legacy:
            # A state saved before the split: each cluster keeps its id ``T<n>`` and its
            # template, whose ``<*>`` positions were variables already; its search tree, built
            # on first words, is built again by length.
            drain = self._miner.drain
            drain.root_node = Node()
            for cluster in drain.clusters:
                drain.add_seq_to_prefix_tree(drain.root_node, cluster)
            for cid, template in self._templates.items():
                variable = {p for p, t in enumerate(template) if t == PARAM}
                split = _Split(variable=variable, made=1)
                split.values = {p: [] for p in variable}
                split.ids[()] = f"T{cid}"
                self._splits[cid] = split
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cache_size = cache_size
        self._folded: dict[str, str] = {}
        self.changed = False

    @property
    def clusters(self) -> int:
        """How many templates the miner holds."""
        return sum(len(s.ids) for s in self._splits.values())

    def take_folded(self) -> dict[str, str]:
        """``{old id: id}`` of the templates folded into an older one since the last call (their
        new lines get the older id; lines stored before keep theirs, the change is recorded).

        >>> miner = PatternMiner()
        >>> _ = miner.mine([f"session opened for user {u}" for u in ("ann", "bob", "cyd")])
        >>> miner.take_folded()
        {}
        >>> found, _ = miner.mine(["session opened for user dan"])
        >>> found, miner.take_folded()
        ({'session opened for user dan': ('T1', 'session opened for user <*>')}, {'T1.2': 'T1', 'T1.3': 'T1'})
        """
        folded, self._folded = self._folded, {}
        for old, new in folded.items():  # a template folded twice points at the last one
            while new in folded:
                new = folded[new]
            folded[old] = new
        return folded

    def state(self) -> bytes:
        """The miner's state, to store with the chunk it has seen."""
        self._buffer.state = None
        self._miner.persistence_handler = self._buffer
        try:
            self._miner.save_state("chunk")
        finally:
            self._miner.persistence_handler = None
        drain_state = self._buffer.state
        assert isinstance(drain_state, bytes)
        data = {
            "drain": drain_state.decode("ascii"),
            "splits": {str(c): s.to_json() for c, s in self._splits.items()},
        }
        return _MAGIC + zlib.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"))

    # -- one form ------------------------------------------------------------
    def _learn(self, form: str, changes: list[TemplateChange]) -> int:
        result = self._miner.add_log_message(form)
        cid = int(result["cluster_id"])
        cluster = self._miner.drain.id_to_cluster[cid]
        template = list(cluster.log_template_tokens)
        tokens = form.split()
        if len(tokens) != len(template):  # drain3 tokenises like str.split; be safe anyway
            tokens = (tokens + [PARAM] * len(template))[: len(template)]
        split = self._splits.get(cid)
        if split is None:
            split = self._splits[cid] = _Split()
        old_template = self._templates.get(cid, template)
        before = {k: (tid, _render(old_template, k)) for k, tid in split.ids.items()}
        # Positions Drain has just generalised: every form before had the old literal there.
        fresh = [
            p
            for p, t in enumerate(template)
            if t == PARAM and p not in split.values and p not in split.variable
        ]
        if fresh:
            for p in fresh:
                split.values[p] = [old_template[p]] if old_template[p] != PARAM else []
            split.ids = {
                tuple(sorted(k + tuple((p, old_template[p]) for p in fresh))): tid
                for k, tid in split.ids.items()
            }
        turned: list[int] = []
        for p, seen in split.values.items():
            if p in split.variable:
                continue
            value = tokens[p]
            if value not in seen:
                seen.append(value)
                if len(seen) >= self.min_distinct or not all(map(_is_wording, seen)):
                    turned.append(p)
        if turned:
            split.variable.update(turned)
            for p in turned:
                split.values[p] = []  # a variable's values are not needed any more
            merged: dict[Key, str] = {}
            for k, tid in split.ids.items():  # oldest first: the oldest id survives
                merged.setdefault(tuple(kv for kv in k if kv[0] not in split.variable), tid)
            split.ids = merged
        key = split.key(tokens)
        if key not in split.ids:
            split.made += 1
            split.ids[key] = f"T{cid}" if split.made == 1 else f"T{cid}.{split.made}"
        self._templates[cid] = template
        if fresh or turned:  # record each template whose text changed: widened or folded
            for old_key, (tid, old_text) in before.items():
                now = tuple(
                    kv
                    for kv in sorted(old_key + tuple((p, old_template[p]) for p in fresh))
                    if kv[0] not in split.variable
                )
                new_text = _render(template, now)
                if new_text != old_text:
                    changes.append(TemplateChange(tid, old_text, new_text))
                if split.ids[now] != tid:
                    self._folded[tid] = split.ids[now]
        return cid

    def mine(self, masked: list[str]) -> tuple[dict[str, tuple[str, str]], list[TemplateChange]]:
        """``{masked form: (template_id, template)}`` for the given distinct forms, in order,
        and the templates generalised on the way."""
        changes: list[TemplateChange] = []
        for form in masked:
            if form in self._cache:
                self._cache.move_to_end(form)
                continue
            self._cache[form] = self._learn(form, changes)
            self.changed = True
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        out: dict[str, tuple[str, str]] = {}
        for form in masked:
            cid = self._cache[form]
            split = self._splits[cid]
            template = self._templates[cid]
            tokens = form.split()
            if len(tokens) != len(template):
                tokens = (tokens + [PARAM] * len(template))[: len(template)]
            key = split.key(tokens)
            out[form] = (split.ids[key], _render(template, key))
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
