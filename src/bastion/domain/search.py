"""Search over sealed tasks: normalised tokens, keyed token hashes, and posting blocks.

Task data is sealed, so the search index holds no text: each token is replaced by a
keyed hash (8 bytes of BLAKE2b keyed with a key derived from the project's data key:
``storage/crypto.py``), and what the index stores is *which tasks hold which hash*.
This module is the pure part: how text becomes tokens, how a block of tasks' tokens is
encoded, and how a query walks the blocks. Storage and keys are elsewhere
(``storage/search_store.py``, ``services/search.py``); docs/security.md says what the
index reveals.

Tokens (``bytes``, UTF-8):

* words — NFKC, case-folded, then each run of word characters (``\\w``: letters, digits,
  underscore, in any script) is a token: ``"Café-Crème"`` gives ``café`` and ``crème``.
  A task's words are those of every string value of its ``data`` and ``meta`` (keys are
  not words); a query's words are ANDed.
* ``meta:key=value`` — each scalar of the task's ``meta`` (nested objects by dotted keys,
  each scalar of a list under its list's key), key and value normalised as above but
  not split into words: ``meta:lang=fr`` matches ``{"lang": "FR"}``.
* ``label:value`` — a label some usable annotation (or a review's correction) of the
  task gives (``TaskType.result_labels``); kept apart, since annotations come one by one.

Posting blocks. One import batch (up to ``MAX_BLOCK`` tasks) is one *block*: the
block's task ids in ascending order (16 bytes each) are stored once, and a task is
named in the postings by its ordinal in that list (2 bytes). The block's postings are
grouped by the first byte of the token hash into at most 256 rows (*buckets*), each
holding, for every token of the block in that bucket, its hash and its ordinals — so
an import of 10,000 tasks writes one id list and at most 256 small rows whatever the
vocabulary, instead of a row per (token, task). A query term reads one bucket row per
block. Bucket blob layout::

    count N (u32 LE) | N token hashes (8 bytes each, ascending) | N end offsets (u32 LE,
    in ordinals) | the ordinals, u16 LE, ascending within each token

Ordinals are positions in the block (a delta from the block's base, 2 bytes each)
rather than varint deltas: encoding them is one C call per token (``array.tobytes``)
on the import path, where a Python loop per ordinal would cost more than the rest of
the index together.

A task that changes or goes away is marked *dead* in its block (one bit per ordinal);
a changed task's new tokens go into a new block of its own. Blocks' id ranges may
then overlap, so a query walks blocks by their first id and merges (``candidates``):
tasks come out in id order, the order of the data browser.

The trap: the query must tokenise exactly as the index did (``words``/``query_terms``
are the one definition), or a term that is in a task is never found. The ASCII fast
path below equals the regular expression on ASCII text (a test checks it on random text).
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import unicodedata
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

HASH_BYTES = 8
ID_BYTES = 16  # a task id's 32 hex digits after "tsk_"
MAX_BLOCK = 65_536  # ordinals are u16
MAX_TERMS = 20  # in one query
MAX_TERM_CHARS = 200
META_PREFIX = b"meta:"
LABEL_PREFIX = b"label:"

# ASCII bytes that are word characters (\w on ASCII: letters, digits, underscore) stay; the rest
# become spaces, so ``bytes.split()`` gives the words (the fast path for ASCII text).
_ASCII_WORDS = bytes(c if (chr(c).isalnum() or c == 0x5F) else 0x20 for c in range(128)) + bytes(range(128, 256))
_ASCII_WORDS_BY_NUL = b"\x00" + _ASCII_WORDS[1:]  # the same, NUL kept: it separates a block's tasks
_U16 = "H"
assert array(_U16).itemsize == 2


# -- tokens -----------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """NFKC, case-folded (and NFKC again: case folding can leave text unnormalised)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def words(text: str) -> list[bytes]:
    """The word tokens of a text, in order (repeats kept)."""
    return _word_bytes(text, _ASCII_WORDS).split()


_ASCII_BYTES = bytes(range(128))


def _word_bytes(text: str, table: bytes) -> bytes:
    """The normalised text as UTF-8 with every non-word character a space: ``split()`` gives its words.

    C calls only, whatever the text's length: word characters are those ``\\w`` matches (letters,
    digits, numerics, underscore: ``str.isalnum() or "_"``). ASCII ones by ``table``; the few
    distinct other characters a text holds are looked at one by one, and those that are not word
    characters replaced by a space (UTF-8 is self-synchronising: a character's bytes match only
    at a character). The regular expression ``\\w+`` reads the same words (a property test).
    """
    if text.isascii():
        return text.lower().encode().translate(table)
    data = normalise(text).encode()
    others = data.translate(None, _ASCII_BYTES).decode()  # the non-ASCII characters alone
    for char in set(others):
        if not char.isalnum():
            data = data.replace(char.encode(), b" ")
    return data.translate(table)


def _scalar_text(value: Any) -> str | None:
    """A meta scalar as text (JSON's spelling for numbers, true/false, null); None for containers."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return orjson.dumps(value).decode()
    return None


def meta_token(key: str, value: Any) -> bytes | None:
    """``meta:key=value`` for one scalar (key and value normalised, not split); None for a container."""
    text = _scalar_text(value)
    if text is None:
        return None
    return META_PREFIX + normalise(key).encode() + b"=" + normalise(text).encode()


def label_token(value: Any) -> bytes:
    """``label:value`` for a label of an answer (normalised like a meta value)."""
    text = _scalar_text(value)
    return LABEL_PREFIX + normalise(text if text is not None else orjson.dumps(value).decode()).encode()


def _strings(value: Any) -> Iterator[str]:
    """Every string value of a JSON value (not keys), without recursion (deep documents are data too)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _meta_pairs(meta: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(dotted key, scalar) for every scalar of ``meta``; a list's scalars under the list's key."""
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in meta.items()]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{key}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((key, v) for v in value)
        else:
            yield key, value


def _task_text(data: Any, meta: Mapping[str, Any] | None) -> str:
    """The strings of a task's data and meta, space-separated (the words are read from it)."""
    text = None
    if isinstance(data, dict):
        try:
            text = " ".join(data.values())  # the common shape: flat text fields (one C call)
        except TypeError:
            pass
    if text is None:
        text = " ".join(_strings(data))
    if meta:
        try:
            return text + " " + " ".join(meta.values())  # flat text meta: one C call too
        except TypeError:
            return text + " " + " ".join(_strings(meta))
    return text


_SCALARS = (str, int, float, bool, type(None))


def _meta_tokens(
    meta: Mapping[str, Any] | None, cache: dict[tuple[str, type, Any], bytes | None] | None = None
) -> Iterator[bytes]:
    """The ``meta:key=value`` tokens of a task's meta (``cache``: a block's, keyed by key, type and value:
    the same pairs come back on most tasks)."""
    if not meta:
        return
    for key, value in meta.items():
        if type(value) in _SCALARS and type(key) is str:
            if cache is None:
                token = meta_token(key, value)
            else:
                pair = (key, type(value), value)
                token = cache.get(pair)
                if token is None:
                    token = cache[pair] = meta_token(key, value)
            if token is not None:
                yield token
        else:
            for path, scalar in _meta_pairs({key: value}):
                token = meta_token(path, scalar)
                if token is not None:
                    yield token


def task_tokens(data: Any, meta: Mapping[str, Any] | None = None) -> set[bytes]:
    """The distinct tokens of a task: the words of its data's and meta's strings, and its meta pairs."""
    tokens = set(words(_task_text(data, meta)))
    tokens.update(_meta_tokens(meta))
    return tokens


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed search: tokens every matching task holds (``terms``: from its data and meta) and labels."""

    terms: tuple[bytes, ...] = ()
    labels: tuple[bytes, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.terms and not self.labels


def query_terms(text: str, *, meta: Sequence[str] = (), labels: Sequence[str] = ()) -> Query:
    """A search box's text (words; ``meta:key=value`` and ``label:value`` as typed forms), with
    meta filters (``key=value``) and labels chosen apart. Raises ValueError naming what is wrong."""
    terms: list[bytes] = []
    found_labels: list[bytes] = []
    for raw in text.split():
        lowered = raw.lower()
        if lowered.startswith("meta:"):
            terms.append(_meta_filter(raw[5:], "q"))
        elif lowered.startswith("label:") and len(raw) > 6:
            found_labels.append(label_token(raw[6:]))
        else:
            terms.extend(words(raw))
    terms.extend(_meta_filter(pair, "meta") for pair in meta)
    found_labels.extend(label_token(value) for value in labels)
    if any(len(t) > 4 * MAX_TERM_CHARS for t in terms + found_labels):
        raise ValueError(f"q: a term is longer than {MAX_TERM_CHARS} characters")
    unique_terms, unique_labels = tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(found_labels))
    if len(unique_terms) + len(unique_labels) > MAX_TERMS:
        raise ValueError(f"q: at most {MAX_TERMS} terms")
    return Query(unique_terms, unique_labels)


def _meta_filter(pair: str, field: str) -> bytes:
    key, sep, value = pair.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{field}: a meta filter is key=value (e.g. lang=fr), not {pair!r}")
    token = meta_token(key.strip(), value.strip())
    assert token is not None  # a string is a scalar
    return token


# -- keyed hashes ------------------------------------------------------------------------------


def token_hasher(key: bytes) -> Callable[[bytes], bytes]:
    """Token -> its keyed hash (BLAKE2b keyed with ``key``, a PRF; the first 8 bytes)."""
    base = hashlib.blake2b(key=key, digest_size=HASH_BYTES)

    def digest(token: bytes) -> bytes:
        h = base.copy()
        h.update(token)
        return h.digest()

    return digest


# -- task ids in a block -------------------------------------------------------------------------


def pack_ids(task_ids: Sequence[str]) -> bytes:
    """Ascending task ids (``tsk_`` + 32 hex digits) as 16 bytes each."""
    return bytes.fromhex("".join(task_id[4:] for task_id in task_ids))


def unpack_id(blob: bytes, ordinal: int) -> str:
    return "tsk_" + blob[ordinal * ID_BYTES : (ordinal + 1) * ID_BYTES].hex()


def id_ordinal(blob: bytes, task_id: str) -> int | None:
    """The ordinal of ``task_id`` in a block's ascending id list, or None (binary search)."""
    try:
        wanted = bytes.fromhex(task_id[4:])
    except ValueError:
        return None
    if len(wanted) != ID_BYTES:
        return None
    lo, hi = 0, len(blob) // ID_BYTES
    while lo < hi:
        mid = (lo + hi) // 2
        have = blob[mid * ID_BYTES : (mid + 1) * ID_BYTES]
        if have < wanted:
            lo = mid + 1
        elif have > wanted:
            hi = mid
        else:
            return mid
    return None


def mark_dead(dead: bytes | None, size: int, ordinals: Iterable[int]) -> bytes:
    """The block's dead bitmap with ``ordinals`` set (one bit per task, LSB first)."""
    bits = bytearray(dead or bytes((size + 7) // 8))
    for ordinal in ordinals:
        bits[ordinal >> 3] |= 1 << (ordinal & 7)
    return bytes(bits)


def is_dead(dead: bytes | None, ordinal: int) -> bool:
    return dead is not None and bool(dead[ordinal >> 3] >> (ordinal & 7) & 1)


def all_dead(dead: bytes | None, size: int) -> bool:
    return dead is not None and all(is_dead(dead, i) for i in range(size))


# -- posting blocks -----------------------------------------------------------------------------


def block_postings(tasks: Sequence[tuple[Any, Mapping[str, Any] | None]]) -> dict[bytes, list[int]]:
    """Token -> ascending ordinals of the tasks (``(data, meta)`` in block order) that hold it: the same
    tokens as ``task_tokens`` of each task (a property test holds them equal)."""
    return postings_of_texts(block_texts(tasks), [meta for _, meta in tasks])


def block_texts(tasks: Sequence[tuple[Any, Mapping[str, Any] | None]]) -> list[str]:
    """Each task's strings, space-separated: what its words are read from."""
    return [_task_text(data, meta) for data, meta in tasks]


def postings_of_texts(texts: Sequence[str], metas: Sequence[Mapping[str, Any] | None]) -> dict[bytes, list[int]]:
    """``block_postings`` from the tasks' texts (``block_texts``) and metas.

    The import's path, so written for speed: the texts of the whole block are normalised, encoded
    and split into words by a few C calls (``_word_bytes``; NUL, refused in any imported text,
    separates the tasks); the loop per token is the plain one (on CPython 3.11 it beats every
    C-level ``map`` arrangement and a NumPy sort tried).
    """
    joined = "\x00".join(texts)
    chunks = _word_bytes(joined, _ASCII_WORDS_BY_NUL).split(b"\x00")
    if len(chunks) == len(texts):
        token_sets: Iterable[set[bytes]] = map(set, map(bytes.split, chunks))
    else:  # a NUL inside a text (refused at import; a stored task could still hold one): task by task
        token_sets = (set(words(text)) for text in texts)
    postings: defaultdict[bytes, list[int]] = defaultdict(list)
    cache: dict[tuple[str, type, Any], bytes | None] = {}
    for ordinal, tokens in enumerate(token_sets):
        meta = metas[ordinal]
        if meta:
            tokens.update(_meta_tokens(meta, cache))
        for token in tokens:
            postings[token].append(ordinal)
    return postings


# A process's token hashes by key: most words come back in every batch of an import. Only tokens
# more than one task of a block holds are kept (ids and order numbers, one task's each, would
# fill it with what never comes back).
_HASHES: dict[bytes, dict[bytes, bytes]] = {}
HASH_CACHE_LIMIT = 200_000


def hash_tokens(key: bytes, tokens: Iterable[bytes], keep: Sequence[bool] | None = None) -> list[bytes]:
    """The keyed hashes of ``tokens``, remembered per key in this process (bounded; ``keep``: which
    of them to remember, all by default)."""
    cache = _HASHES.get(key)
    if cache is None or len(cache) > HASH_CACHE_LIMIT:
        if len(_HASHES) > 16:
            _HASHES.clear()
        cache = _HASHES[key] = {}
    tokens = list(tokens)
    found = list(map(cache.get, tokens))
    if None in found:
        digest = token_hasher(key)
        for i, value in enumerate(found):
            if value is None:
                found[i] = digest(tokens[i])
                if keep is None or keep[i]:
                    cache[tokens[i]] = found[i]  # type: ignore[assignment]  # just made
    return found  # type: ignore[return-value]  # no None left


def block_buckets(key: bytes, texts: Sequence[str], metas: Sequence[Mapping[str, Any] | None]) -> dict[int, bytes]:
    """A block's bucket rows from its tasks' texts and metas, hashed with ``key``: the whole of a
    block's CPU work, in one call that a helper process can run (picklable in and out)."""
    postings = postings_of_texts(texts, metas)
    keep = [len(ordinals) > 1 for ordinals in postings.values()]
    return encode_buckets(zip(hash_tokens(key, postings, keep), postings.values()))


def encode_buckets(hashed: Iterable[tuple[bytes, Sequence[int]]]) -> dict[int, bytes]:
    """(token hash, ascending ordinals) pairs -> {bucket (the hash's first byte): blob}.

    Two tokens of a block with the same hash (a collision of 64-bit hashes) are merged.
    """
    by_bucket: dict[int, dict[bytes, Sequence[int]]] = defaultdict(dict)
    for digest, ordinals in hashed:
        bucket = by_bucket[digest[0]]
        if digest in bucket:
            ordinals = sorted(set(bucket[digest]) | set(ordinals))
        bucket[digest] = ordinals
    out: dict[int, bytes] = {}
    for bucket_no, entries in by_bucket.items():
        order = sorted(entries)
        ends = array("I")
        data = array(_U16)
        for digest in order:
            data.extend(entries[digest])
            ends.append(len(data))
        if ends.itemsize != 4:  # pragma: no cover - every platform Bastion runs on has 4-byte unsigned ints
            raise RuntimeError("array('I') is not 4 bytes here")
        out[bucket_no] = (
            len(order).to_bytes(4, "little") + b"".join(order) + _little(ends).tobytes() + _little(data).tobytes()
        )
    return out


def _little(values: array[Any]) -> array[Any]:
    if _BIG_ENDIAN:  # pragma: no cover - stored little-endian whatever the machine
        values = array(values.typecode, values)
        values.byteswap()
    return values


_BIG_ENDIAN = array("H", [1]).tobytes() == b"\x00\x01"


def find_posting(blob: bytes, digest: bytes) -> array[int] | None:
    """The ordinals a bucket blob holds for ``digest`` (ascending), or None when the block lacks it."""
    count = int.from_bytes(blob[:4], "little")
    directory_end = 4 + count * HASH_BYTES
    start = 4
    while True:
        at = blob.find(digest, start, directory_end)
        if at < 0:
            return None
        if (at - 4) % HASH_BYTES == 0:
            break
        start = at + 1
    index = (at - 4) // HASH_BYTES
    ends_at = directory_end
    end = int.from_bytes(blob[ends_at + 4 * index : ends_at + 4 * index + 4], "little")
    begin = int.from_bytes(blob[ends_at + 4 * index - 4 : ends_at + 4 * index], "little") if index else 0
    data_at = ends_at + 4 * count
    out = array(_U16)
    out.frombytes(blob[data_at + 2 * begin : data_at + 2 * end])
    return _little(out)


# -- walking the blocks for a query -------------------------------------------------------------


class BlockInfo(NamedTuple):
    """A block as a query walks it: its id, first and last task ids, and size."""

    block: str
    first_id: str
    last_id: str
    size: int


class BlockIds(NamedTuple):
    """A block's ids and its dead bitmap (None: none dead). ``ids``: the whole ascending id list
    (16 bytes each), or — when ``picked`` — the ids of those ordinals only, in that order (a query
    that needs a few ids of a block reads 16 bytes each, not the block's list)."""

    ids: bytes
    dead: bytes | None
    picked: Sequence[int] | None = None

    def id_of(self, ordinal: int) -> str:
        if self.picked is None:
            return unpack_id(self.ids, ordinal)
        return unpack_id(self.ids, self.picked.index(ordinal) if len(self.picked) < 8 else self._at(ordinal))

    def _at(self, ordinal: int) -> int:
        return bisect.bisect_left(self.picked, ordinal)  # type: ignore[arg-type]  # picked is ascending


def candidates(
    blocks: Sequence[BlockInfo],
    postings: Sequence[Mapping[str, Sequence[bytes]]],
    load: Callable[[str, list[int] | None], BlockIds],
    *,
    after: str = "",
    digests: Sequence[Sequence[bytes]] = (),
) -> Iterator[str]:
    """The ids of the live tasks that hold every term, ascending, greater than ``after``.

    ``blocks``: every block of the project, in any order. ``postings[i]``: term i's bucket
    blobs by block (one per key the term was hashed under); ``digests[i]``: term i's hashes
    (one per key). With no terms, every live task of the blocks is a candidate. ``load(block,
    ordinals)`` reads a block's ids (of those ordinals, or all: None) and its dead bitmap, only
    for blocks with a candidate.
    """
    order = sorted((b for b in blocks if b.last_id > after), key=lambda b: b.first_id)
    pending: list[str] = []  # candidates of overlapping blocks, merged on the way out
    for info in order:
        while pending and pending[0] < info.first_id:
            yield heapq.heappop(pending)
        ordinals = _intersect(info, postings, digests)
        if ordinals is not None and not ordinals:
            continue
        ids = load(info.block, ordinals)
        chosen: Iterable[int] = range(info.size) if ordinals is None else ordinals
        found = [task_id for task_id in (ids.id_of(o) for o in chosen if not is_dead(ids.dead, o)) if task_id > after]
        if not pending:
            pending = found
        else:
            for task_id in found:
                heapq.heappush(pending, task_id)
    while pending:
        yield heapq.heappop(pending)


def _intersect(
    info: BlockInfo, postings: Sequence[Mapping[str, Sequence[bytes]]], digests: Sequence[Sequence[bytes]]
) -> list[int] | None:
    """The ordinals of the block holding every term (ascending); None when there are no terms."""
    if not postings:
        return None
    result: set[int] | None = None
    sized = []
    for blobs_of, term_digests in zip(postings, digests, strict=True):
        found: set[int] = set()
        for blob in blobs_of.get(info.block, ()):
            for digest in term_digests:
                hit = find_posting(blob, digest)
                if hit is not None:
                    found.update(hit)
        if not found:
            return []
        sized.append(found)
    for found in sorted(sized, key=len):
        result = found if result is None else result & found
        if not result:
            return []
    assert result is not None
    return sorted(result)


def intersect_sorted(streams: Sequence[Iterator[str]]) -> Iterator[str]:
    """The values every ascending stream holds, ascending (leapfrog: each stream is read only as far
    as the others' values require)."""
    if not streams:
        return
    if len(streams) == 1:
        yield from streams[0]
        return
    heads: list[str] = []
    for stream in streams:
        head = next(stream, None)
        if head is None:
            return
        heads.append(head)
    while True:
        top = max(heads)
        for i, stream in enumerate(streams):
            while heads[i] < top:
                found = next(stream, None)
                if found is None:
                    return
                heads[i] = found
        if all(head == top for head in heads):
            yield top
            for i, stream in enumerate(streams):
                found = next(stream, None)
                if found is None:
                    return
                heads[i] = found
