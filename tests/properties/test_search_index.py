"""Property: the blind index finds exactly the tasks a plaintext scan finds.

Random tasks (text in several scripts, punctuation, nested data, meta of every scalar
kind) go into posting blocks of random sizes; some tasks then change (their old block
marks them dead, a new block holds them again) or go away; random queries (words and
meta pairs taken from the tasks, and words no task has) are answered by walking the
blocks as the data browser does. The answer must be, in order, the live tasks whose
plaintext holds every query token — by a reference tokeniser written independently of
the index's fast paths (a regular expression over NFKC case-folded text).
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.domain import search

KEY = b"k" * 32
WORD = re.compile(r"\w+")

FRAGMENTS = [
    "refund", "Refund", "REFUND", "billing", "login", "café", "CAFÉ", "Straße", "strasse", "ﬁle", "file",
    "ǅemal", "Ångström", "東京", "naïve", "x_y", "x-y", "12345", "1", "½", "Ⅻ", "don't", "e-mail",
    "\u00a0", " ", ",", ".", "!", "\t", "\n", "(", ")", "—", "’", "a", "ab", "the",
]  # fmt: skip
texts = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)
scalars = st.one_of(texts, st.integers(-3, 3), st.booleans(), st.none(), st.floats(0, 2, allow_nan=False))
meta = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["lang", "Lang", "src", "n", "tags"]),
        st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), scalars)),
        max_size=3,
    ),
)
data = st.one_of(
    st.fixed_dictionaries({"text": texts}),
    st.fixed_dictionaries({"prompt": texts, "responses": st.lists(texts, max_size=3)}),
    st.fixed_dictionaries({"text": texts, "n": st.integers(0, 9)}),
)


def reference_words(text: str) -> set[bytes]:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return {w.encode() for w in WORD.findall(folded)}


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def reference_tokens(doc, doc_meta) -> set[bytes]:
    tokens = set()
    for text in strings(doc) + strings(doc_meta or {}):
        tokens |= reference_words(text)

    def pairs(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield from pairs(f"{prefix}.{k}", v)
        elif isinstance(value, list):
            for v in value:
                yield from pairs(prefix, v)
        else:
            yield prefix, value

    for key, value in (doc_meta or {}).items():
        for path, scalar in pairs(key, value):
            token = search.meta_token(path, scalar)
            tokens.add(token)
    return tokens


def task_id(n: int) -> str:
    return f"tsk_{n:032x}"


@st.composite
def worlds(draw):
    tasks = draw(st.lists(st.tuples(data, meta), min_size=1, max_size=40))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(tasks) - 1)), max_size=4)))
    changed = draw(st.sets(st.integers(0, len(tasks) - 1), max_size=5))
    deleted = draw(st.sets(st.integers(0, len(tasks) - 1), max_size=3))
    new_meta = draw(st.lists(meta, min_size=len(changed), max_size=len(changed)))
    return tasks, cuts, sorted(changed), deleted, new_meta


class Index:
    """Blocks in memory, walked by ``search.candidates`` exactly as the service walks stored ones."""

    def __init__(self) -> None:
        self.hash = search.token_hasher(KEY)
        self.blocks: dict[str, dict] = {}

    def add_block(self, ids: list[str], docs: list[tuple]) -> None:
        postings = search.block_postings(docs)
        buckets = search.encode_buckets((self.hash(t), o) for t, o in postings.items())
        name = f"blk_{len(self.blocks):04d}"
        self.blocks[name] = {"ids": search.pack_ids(ids), "dead": None, "buckets": buckets, "range": (ids[0], ids[-1])}

    def kill(self, wanted: str) -> None:
        for block in self.blocks.values():
            ordinal = search.id_ordinal(block["ids"], wanted)
            if ordinal is not None:
                block["dead"] = search.mark_dead(block["dead"], len(block["ids"]) // 16, [ordinal])

    def load(self, name: str, ordinals: list[int] | None) -> search.BlockIds:
        """As the store does: a few ids one by one (``picked``), or the whole list."""
        block = self.blocks[name]
        if ordinals is None or len(ordinals) % 2:
            return search.BlockIds(block["ids"], block["dead"])
        picked = b"".join(block["ids"][16 * o : 16 * o + 16] for o in ordinals)
        return search.BlockIds(picked, block["dead"], ordinals)

    def find(self, terms: list[bytes], after: str = "") -> list[str]:
        digests = [[self.hash(t)] for t in terms]
        postings = [
            {name: [b["buckets"][d[0][0]]] for name, b in self.blocks.items() if d[0][0] in b["buckets"]}
            for d in digests
        ]
        infos = [
            search.BlockInfo(name, b["range"][0], b["range"][1], len(b["ids"]) // 16) for name, b in self.blocks.items()
        ]
        return list(
            search.candidates(
                infos,
                postings,
                self.load,
                after=after,
                digests=digests,
            )
        )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=3), extra=texts)
def test_the_index_finds_exactly_what_a_plaintext_scan_finds(world, picks, extra):
    tasks, cuts, changed, deleted, new_meta = world
    ids = [task_id(i + 1) for i in range(len(tasks))]
    index = Index()
    for start, end in zip([0, *cuts], [*cuts, len(tasks)], strict=True):
        if start < end:
            index.add_block(ids[start:end], tasks[start:end])
    live = dict(zip(ids, tasks, strict=True))
    # Changed tasks: out of their blocks, into a block of their own (as services/search.reindex_tasks).
    if changed:
        for i, m in zip(changed, new_meta, strict=True):
            index.kill(ids[i])
            live[ids[i]] = (tasks[i][0], m)
        index.add_block([ids[i] for i in changed], [live[ids[i]] for i in changed])
    for i in deleted:
        index.kill(ids[i])
        live.pop(ids[i], None)
    vocabulary = sorted({t for doc in live.values() for t in reference_tokens(*doc)} | reference_words(extra))
    if not vocabulary:
        return
    terms = list(dict.fromkeys(vocabulary[p % len(vocabulary)] for p in picks))
    expected = [i for i in sorted(live) if set(terms) <= reference_tokens(*live[i])]
    assert index.find(terms) == expected
    # Keyset: the same answer from any point on.
    if expected:
        middle = expected[len(expected) // 2]
        assert index.find(terms, after=middle) == [i for i in expected if i > middle]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(data, meta), min_size=1, max_size=30))
def test_a_block_holds_each_task_under_exactly_its_own_tokens(tasks):
    """``block_postings`` (the import's batch path) equals ``task_tokens`` task by task."""
    postings = search.block_postings(tasks)
    rebuilt: dict[int, set[bytes]] = {}
    for token, ordinals in postings.items():
        assert list(ordinals) == sorted(set(ordinals))
        for o in ordinals:
            rebuilt.setdefault(o, set()).add(token)
    for i, (doc, doc_meta) in enumerate(tasks):
        assert rebuilt.get(i, set()) == search.task_tokens(doc, doc_meta) == reference_tokens(doc, doc_meta)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_the_ascii_fast_path_reads_the_words_the_expression_reads(text):
    assert search.words(text) == [w.encode() for w in WORD.findall(text.lower())]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.binary(min_size=8, max_size=8), st.lists(st.integers(0, 65535), max_size=40), max_size=60))
def test_bucket_blobs_give_back_every_posting(entries):
    blobs = search.encode_buckets((h, sorted(set(o))) for h, o in entries.items())
    for digest, ordinals in entries.items():
        found = search.find_posting(blobs[digest[0]], digest)
        assert found is not None and list(found) == sorted(set(ordinals))
    assert search.find_posting(blobs.get(0, b"\x00\x00\x00\x00"), b"\xff" * 8) is None or b"\xff" * 8 in entries


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sets(st.integers(0, 60), max_size=40), min_size=1, max_size=4))
def test_sorted_streams_intersect_to_what_they_all_hold(sets):
    streams = [iter([task_id(n) for n in sorted(s)]) for s in sets]
    assert list(search.intersect_sorted(streams)) == [task_id(n) for n in sorted(set.intersection(*sets))]
