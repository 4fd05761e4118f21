"""RFC 6962 / RFC 9162 Merkle trees: hashing, tree heads, proofs, and the frontier.

Concept
    An append-only log of ``n`` leaves is summarised by one 32-byte tree head
    ``MTH(D[n])``. Leaves and interior nodes are hashed with distinct prefixes
    so that a leaf can never be passed off as a node (second-preimage defence)::

        leaf hash   = SHA-256(0x00 || data)
        node hash   = SHA-256(0x01 || left || right)
        empty tree  = SHA-256("")
        MTH(D[n])   = node(MTH(D[0:k]), MTH(D[k:n]))   k = largest power of two < n

    The tree is *not* padded to a power of two: the right edge is made of
    smaller subtrees. For ``n = 7``::

                    root
                  /      \\
                k          l            k = MTH(D[0:4])   l = MTH(D[4:7])
              /   \\      /   \\
             g     h    i     j         j = leaf 6 (no sibling: promoted, not duplicated)
            / \\   / \\  / \\
           a  b  c  d e  f

Invariants
    * An inclusion proof for leaf ``i`` in a tree of size ``n`` and a
      consistency proof from size ``m`` to size ``n`` are lists of node hashes,
      bottom-up, exactly as RFC 9162 §2.1.3 and §2.1.4 define them; the
      verifiers follow §2.1.3.2 and §2.1.4.2 step by step and check that the
      whole proof was consumed.
    * A :class:`Frontier` (a compact range ``[0, n)``) holds one hash per set
      bit of ``n``: the roots of the perfect subtrees the tree's left part is
      made of, largest first. Appending costs O(1) amortised and at most
      ``log2 n`` hashes; the root is a right-fold of the stored hashes.
    * Every node used by a proof is either a perfect, aligned subtree
      (``2**h`` leaves starting at a multiple of ``2**h``) or a right-edge node
      that folds such subtrees. A :class:`SubtreeSource` only ever has to
      answer for perfect, aligned subtrees, so storage can keep immutable node
      hashes and never rewrite them.

The trap
    Do not "pad" the last level by duplicating the odd node (Bitcoin-style):
    it gives different roots and admits two trees with the same head. Do not
    drop the 0x00/0x01 prefixes. And a proof verifier must fail a proof with
    *extra* hashes, not just a wrong one: RFC 9162 says so by requiring
    ``sn == 0`` at the end; skipping that check accepts padded proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from .errors import InvalidProofRequest, ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def hash_leaf(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash of ``data``."""
    return _sha256(_LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash of two child hashes."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes")
    return value


def _split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _perfect_ranges(start: int, end: int) -> list[tuple[int, int]]:
    """Split a tree node ``[start, end)`` into perfect aligned subtrees, left to right.

    ``start`` must be a multiple of the smallest power of two >= ``end - start``
    (true of every node of an RFC 6962 tree); the pieces follow the binary
    digits of the width, largest first.
    """
    ranges = []
    width = end - start
    cursor = start
    for bit in reversed(range(width.bit_length())):
        piece = 1 << bit
        if width & piece:
            ranges.append((cursor, cursor + piece))
            cursor += piece
    return ranges


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """``node(h0, node(h1, ... node(h[-2], h[-1])))``: the root over perfect subtrees."""
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = _sha256(_NODE_PREFIX + left + root).digest()
    return root


def _perfect_root(leaf_hashes: Sequence[bytes]) -> bytes:
    level = list(leaf_hashes)
    while len(level) > 1:
        level = [_sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


# ---------------------------------------------------------------------------
# The frontier (compact range [0, n))
# ---------------------------------------------------------------------------


class Frontier:
    """The right edge of a growing tree: enough to append and to compute the root.

    ``hashes`` are the roots of the perfect subtrees covering ``[0, size)``,
    largest (leftmost) first, one per set bit of ``size``. Persist ``size`` and
    ``hashes`` (or :meth:`to_bytes`) and rebuild with :meth:`from_hashes`.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._nodes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Iterable[bytes]) -> Frontier:
        """Rebuild a frontier from its stored size and hashes (validated)."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidProofRequest(f"frontier size must be a non-negative integer, got {size!r}")
        nodes = [bytes(h) for h in hashes]
        expected = size.bit_count()
        if len(nodes) != expected:
            raise InvalidProofRequest(f"a frontier of size {size} has {expected} hashes, got {len(nodes)}")
        for position, node in enumerate(nodes):
            if len(node) != HASH_SIZE:
                raise InvalidProofRequest(f"frontier hash {position} is not {HASH_SIZE} bytes")
        frontier = cls()
        frontier._size = size
        frontier._nodes = nodes
        return frontier

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        """Rebuild a frontier from :meth:`to_bytes` output."""
        if len(blob) % HASH_SIZE:
            raise InvalidProofRequest(f"frontier blob length {len(blob)} is not a multiple of 32")
        return cls.from_hashes(size, (blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)))

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._nodes)

    def to_bytes(self) -> bytes:
        """The hashes concatenated (``32 * popcount(size)`` bytes), for a BLOB column."""
        return b"".join(self._nodes)

    def copy(self) -> Frontier:
        return Frontier.from_hashes(self._size, self._nodes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash: at most ``log2(size)`` node hashes, O(1) amortised."""
        if len(leaf_hash) != HASH_SIZE:
            raise InvalidProofRequest(f"a leaf hash is {HASH_SIZE} bytes")
        node = leaf_hash
        size = self._size
        nodes = self._nodes
        # Each trailing 1 bit of the old size is a perfect subtree the new
        # leaf completes, like a carry in binary addition.
        while size & 1:
            node = _sha256(_NODE_PREFIX + nodes.pop() + node).digest()
            size >>= 1
        nodes.append(node)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for leaf_hash in leaf_hashes:
            self.append(leaf_hash)

    def root(self) -> bytes:
        """``MTH`` of the leaves appended so far (``EMPTY_ROOT`` when none)."""
        if not self._nodes:
            return EMPTY_ROOT
        return _fold_right(self._nodes)

    def __len__(self) -> int:
        return self._size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()[:16]}…)"


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """``MTH`` over a list of leaf hashes (O(n) hashes, O(log n) memory)."""
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


# ---------------------------------------------------------------------------
# Where proofs get their node hashes
# ---------------------------------------------------------------------------


@runtime_checkable
class SubtreeSource(Protocol):
    """Answers ``MTH(D[start:end])`` for perfect, aligned subtrees of the log.

    Proof generation only calls it with ``end - start`` a power of two and
    ``start`` a multiple of it, and ``end`` within the tree size requested.
    A database can answer from stored node hashes (they never change once the
    subtree is complete) or by hashing the leaf hashes of the range.
    """

    def subtree_hash(self, start: int, end: int) -> bytes: ...


def _check_perfect(start: int, end: int) -> int:
    width = end - start
    if width <= 0 or width & (width - 1) or start % width:
        raise InvalidProofRequest(f"[{start}, {end}) is not a perfect aligned subtree")
    return width


class LeafHashList:
    """A :class:`SubtreeSource` over an in-memory sequence of leaf hashes.

    Each call hashes the leaves of the range, so one proof costs O(n) hashes:
    fine for tests and small logs, use stored node hashes for large ones.
    """

    __slots__ = ("_leaves",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._leaves = leaf_hashes

    def __len__(self) -> int:
        return len(self._leaves)

    def subtree_hash(self, start: int, end: int) -> bytes:
        _check_perfect(start, end)
        if end > len(self._leaves):
            raise InvalidProofRequest(f"leaf {end - 1} is beyond the {len(self._leaves)} known")
        return _perfect_root(self._leaves[start:end])


class TreeNodes:
    """Every complete node of a growing tree, by level: O(1) subtree lookups.

    ``levels[h][i]`` is the root of leaves ``[i * 2**h, (i + 1) * 2**h)``.
    This is the in-memory model of a node table keyed by ``(level, index)``:
    rows are written once, when their subtree completes, and never change.
    It holds about ``2n`` hashes.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def __len__(self) -> int:
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> None:
        if len(leaf_hash) != HASH_SIZE:
            raise InvalidProofRequest(f"a leaf hash is {HASH_SIZE} bytes")
        levels = self._levels
        levels[0].append(leaf_hash)
        height = 0
        while len(levels[height]) % 2 == 0:
            row = levels[height]
            parent = _sha256(_NODE_PREFIX + row[-2] + row[-1]).digest()
            if height + 1 == len(levels):
                levels.append([])
            levels[height + 1].append(parent)
            height += 1

    def subtree_hash(self, start: int, end: int) -> bytes:
        width = _check_perfect(start, end)
        height = width.bit_length() - 1
        if end > self.size:
            raise InvalidProofRequest(f"leaf {end - 1} is beyond the {self.size} stored")
        return self._levels[height][start >> height]

    def root(self, size: int | None = None) -> bytes:
        """``MTH`` of the first ``size`` leaves (all of them by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise InvalidProofRequest(f"size {size} is beyond the {self.size} stored")
        return range_hash(self, 0, size)


def _as_source(source: SubtreeSource | Sequence[bytes], size: int) -> SubtreeSource:
    if isinstance(source, SubtreeSource):
        return source
    if len(source) < size:
        raise InvalidProofRequest(f"tree size {size} but only {len(source)} leaf hashes given")
    return LeafHashList(source)


def range_hash(source: SubtreeSource, start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` for a node of the tree (``EMPTY_ROOT`` when empty)."""
    if start == end:
        return EMPTY_ROOT
    return _fold_right([source.subtree_hash(a, b) for a, b in _perfect_ranges(start, end)])


def frontier_at(size: int, source: SubtreeSource | Sequence[bytes]) -> Frontier:
    """The frontier of the first ``size`` leaves, read from a source (for rebuilding state)."""
    src = _as_source(source, size)
    return Frontier.from_hashes(size, [src.subtree_hash(a, b) for a, b in _perfect_ranges(0, size)])


# ---------------------------------------------------------------------------
# Proof generation (RFC 9162 §2.1.3.1 PATH and §2.1.4.1 SUBPROOF)
# ---------------------------------------------------------------------------


def _check_size(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidProofRequest(f"{what} must be a non-negative integer, got {value!r}")


def inclusion_proof(index: int, size: int, source: SubtreeSource | Sequence[bytes]) -> list[bytes]:
    """The audit path for leaf ``index`` in the tree of the first ``size`` leaves."""
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    if index >= size:
        raise InvalidProofRequest(f"leaf index {index} is not in a tree of size {size}")
    src = _as_source(source, size)
    siblings: list[tuple[int, int]] = []  # top-down
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split_point(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    return [range_hash(src, a, b) for a, b in reversed(siblings)]


def consistency_proof(old_size: int, new_size: int, source: SubtreeSource | Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the one of ``new_size``.

    Empty when ``old_size`` is 0 or equal to ``new_size`` (nothing to prove).
    """
    _check_size(old_size, "old size")
    _check_size(new_size, "new size")
    if old_size > new_size:
        raise InvalidProofRequest(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    src = _as_source(source, new_size)
    nodes: list[tuple[int, int]] = []  # top-down; reversed at the end
    lo, hi = 0, new_size
    whole_old_tree_known = True  # SUBPROOF's flag b
    while True:
        if old_size == hi:
            # The old tree's last node is this whole subtree: the verifier
            # knows it already only when it is the old root itself.
            if not whole_old_tree_known:
                nodes.append((lo, hi))
            break
        k = _split_point(hi - lo)
        if old_size - lo <= k:
            nodes.append((lo + k, hi))
            hi = lo + k
        else:
            nodes.append((lo, lo + k))
            lo += k
            whole_old_tree_known = False
    return [range_hash(src, a, b) for a, b in reversed(nodes)]


# ---------------------------------------------------------------------------
# Proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2)
# ---------------------------------------------------------------------------


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1-4)."""
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hash(leaf_hash, "leaf hash")
    fn, sn = index, size - 1
    r = leaf_hash
    for position, p in enumerate(proof):
        _check_hash(p, f"proof hash {position}")
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows leaf ``index`` is in the tree ``root``."""
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(index, size, leaf_hash, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of size {size}")


def verify_consistency_proof(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Raise :class:`ProofError` unless tree ``old_root`` is a prefix of tree ``new_root``.

    Follows RFC 9162 §2.1.4.2; the degenerate sizes are checked strictly: the
    proof must be empty, equal sizes need equal roots, and a size-0 tree must
    have the empty root.
    """
    _check_size(old_size, "old size")
    _check_size(new_size, "new size")
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    proof = [_check_hash(p, f"proof hash {i}") for i, p in enumerate(proof)]
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0:
        if old_root != EMPTY_ROOT:
            raise ProofError("a tree of size 0 has the empty root")
        if proof:
            raise ProofError("a consistency proof from the empty tree is empty")
        if new_size == 0 and new_root != EMPTY_ROOT:
            raise ProofError("a tree of size 0 has the empty root")
        return
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal sizes is empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    # Step 1.
    if not proof:
        raise ProofError("consistency proof is empty")
    # Step 2.
    if old_size & (old_size - 1) == 0:
        proof = [old_root, *proof]
    # Steps 3 and 4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = proof[0]
    # Step 6.
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError("consistency proof is shorter than needed")
    if fr != old_root:
        raise ProofError(f"consistency proof does not lead to the old root (size {old_size})")
    if sr != new_root:
        raise ProofError(f"consistency proof does not lead to the new root (size {new_size})")
