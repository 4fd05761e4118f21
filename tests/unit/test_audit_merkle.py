"""RFC 6962 / 9162 Merkle tree: golden vectors, frontier, proofs and their corruptions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.audit import merkle
from bastion.audit.errors import InvalidProofRequest, ProofError
from bastion.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    LeafHashList,
    TreeNodes,
    consistency_proof,
    frontier_at,
    hash_children,
    hash_leaf,
    inclusion_proof,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from bastion.domain.errors import InvalidInput

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "audit" / "rfc6962_vectors.json").read_text())
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaf_inputs_hex"]]
LEAF_HASHES = [hash_leaf(d) for d in LEAVES]
ROOTS = [bytes.fromhex(h) for h in VECTORS["roots_hex"]]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def reference_mth(leaf_hashes: list[bytes]) -> bytes:
    """MTH written straight from the RFC's recursive definition, as an oracle."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    left = reference_mth(leaf_hashes[:k])
    right = reference_mth(leaf_hashes[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def make_leaves(n: int, salt: str = "") -> list[bytes]:
    return [hash_leaf(f"{salt}leaf-{i}".encode()) for i in range(n)]


def flip(value: bytes, bit: int = 3, position: int = 0) -> bytes:
    changed = bytearray(value)
    changed[position] ^= 1 << bit
    return bytes(changed)


# ---------------------------------------------------------------------------
# Hashing and golden vectors
# ---------------------------------------------------------------------------


def test_hash_prefixes_follow_rfc_6962() -> None:
    assert hash_leaf(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = hash_leaf(b"l"), hash_leaf(b"r")
    assert hash_children(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert hash_children(left, right) != hash_children(right, left)


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == VECTORS["empty_root_hex"]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


def test_leaf_zero_hash_is_the_known_value() -> None:
    # The empty leaf's hash is also the root of the one-leaf tree.
    assert hash_leaf(b"").hex() == VECTORS["roots_hex"][0]


@pytest.mark.parametrize("size", range(1, 9))
def test_golden_roots_for_sizes_1_to_8(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size - 1]
    assert reference_mth(LEAF_HASHES[:size]) == ROOTS[size - 1]
    assert TreeNodes(LEAF_HASHES[:size]).root() == ROOTS[size - 1]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"leaf{c['index']}-of-{c['size']}")
def test_golden_inclusion_proofs(case: dict) -> None:
    index, size = case["index"], case["size"]
    expected = [bytes.fromhex(h) for h in case["proof_hex"]]
    assert inclusion_proof(index, size, LEAF_HASHES) == expected
    assert inclusion_proof(index, size, TreeNodes(LEAF_HASHES)) == expected
    verify_inclusion_proof(index, size, LEAF_HASHES[index], expected, ROOTS[size - 1])
    assert root_from_inclusion_proof(index, size, LEAF_HASHES[index], expected) == ROOTS[size - 1]


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old_size']}-to-{c['new_size']}")
def test_golden_consistency_proofs(case: dict) -> None:
    old, new = case["old_size"], case["new_size"]
    expected = [bytes.fromhex(h) for h in case["proof_hex"]]
    assert consistency_proof(old, new, LEAF_HASHES) == expected
    assert consistency_proof(old, new, TreeNodes(LEAF_HASHES)) == expected
    verify_consistency_proof(old, new, ROOTS[old - 1], ROOTS[new - 1], expected)


# Node layout of proofs in bigger trees (transparency-dev/merkle proof_test.go):
# (level, index) nodes bottom-up; a [begin, end) span is folded into one
# right-edge node.
INCLUSION_LAYOUTS = [
    (7, 0, [(0, 1), (1, 1), (0, 6), (1, 2)], (2, 4)),
    (7, 4, [(0, 5), (0, 6), (2, 0)], None),
    (7, 6, [(1, 2), (2, 0)], None),
    (5, 3, [(0, 2), (1, 0), (0, 4)], None),
    (6, 4, [(0, 5), (2, 0)], None),
    (15, 10, [(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)], (2, 4)),
    (31, 24, [(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)], (2, 4)),
    (95, 81, [(0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)], (3, 6)),
]
CONSISTENCY_LAYOUTS = [
    (1, 2, [(0, 1)], None),
    (1, 6, [(0, 1), (1, 1), (1, 2)], None),
    (2, 8, [(1, 1), (2, 1)], None),
    (3, 7, [(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)], (3, 5)),
    (4, 7, [(0, 6), (1, 2)], (0, 2)),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)], None),
    (6, 7, [(1, 2), (0, 6), (2, 0)], None),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)], None),
    (10, 15, [(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)], (2, 4)),
    (24, 31, [(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)], (1, 4)),
    (
        81,
        95,
        [(0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)],
        (4, 7),
    ),
]


def _expected_from_layout(nodes: TreeNodes, layout: list[tuple[int, int]], fold: tuple[int, int] | None) -> list[bytes]:
    hashes = [nodes.subtree_hash(i << level, (i + 1) << level) for level, i in layout]
    if fold is None:
        return hashes
    begin, end = fold
    folded = hashes[begin]
    for h in hashes[begin + 1 : end]:
        folded = hash_children(h, folded)
    return [*hashes[:begin], folded, *hashes[end:]]


@pytest.mark.parametrize("size,index,layout,fold", INCLUSION_LAYOUTS)
def test_inclusion_proof_node_layout(
    size: int, index: int, layout: list[tuple[int, int]], fold: tuple[int, int] | None
) -> None:
    nodes = TreeNodes(make_leaves(128))
    assert inclusion_proof(index, size, nodes) == _expected_from_layout(nodes, layout, fold)


@pytest.mark.parametrize("old,new,layout,fold", CONSISTENCY_LAYOUTS)
def test_consistency_proof_node_layout(
    old: int, new: int, layout: list[tuple[int, int]], fold: tuple[int, int] | None
) -> None:
    nodes = TreeNodes(make_leaves(128))
    assert consistency_proof(old, new, nodes) == _expected_from_layout(nodes, layout, fold)


# ---------------------------------------------------------------------------
# Frontier
# ---------------------------------------------------------------------------


def test_frontier_root_equals_mth_for_sizes_0_to_300() -> None:
    leaves = make_leaves(300)
    frontier = Frontier()
    assert frontier.root() == reference_mth([])
    for size in range(1, 301):
        frontier.append(leaves[size - 1])
        assert frontier.size == size
        assert len(frontier.hashes) == bin(size).count("1")
        assert frontier.root() == reference_mth(leaves[:size]), size


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=3000), salt=st.text(max_size=5))
def test_frontier_root_equals_mth_for_random_sizes(size: int, salt: str) -> None:
    leaves = make_leaves(size, salt)
    frontier = Frontier()
    frontier.extend(leaves)
    assert frontier.root() == reference_mth(leaves)
    assert frontier == frontier_at(size, TreeNodes(leaves))


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=1000), more=st.integers(min_value=0, max_value=200))
def test_frontier_survives_a_storage_round_trip(size: int, more: int) -> None:
    leaves = make_leaves(size + more)
    frontier = Frontier()
    frontier.extend(leaves[:size])
    restored = Frontier.from_hashes(frontier.size, frontier.hashes)
    from_blob = Frontier.from_bytes(frontier.size, frontier.to_bytes())
    assert restored == frontier == from_blob
    for f in (restored, from_blob):
        f.extend(leaves[size:])
        assert f.root() == reference_mth(leaves)


def test_frontier_copy_is_independent() -> None:
    frontier = Frontier()
    frontier.extend(make_leaves(5))
    snapshot = frontier.copy()
    frontier.append(hash_leaf(b"more"))
    assert snapshot.size == 5 and frontier.size == 6
    assert snapshot.root() == reference_mth(make_leaves(5))


@pytest.mark.parametrize(
    "size,hashes",
    [
        (3, [SOME_HASH]),  # needs two hashes
        (4, [SOME_HASH, SOME_HASH]),  # needs one
        (1, [b"short"]),
        (-1, []),
    ],
)
def test_frontier_rejects_inconsistent_stored_state(size: int, hashes: list[bytes]) -> None:
    with pytest.raises(InvalidProofRequest):
        Frontier.from_hashes(size, hashes)


def test_frontier_rejects_bad_blob_and_leaf() -> None:
    with pytest.raises(InvalidProofRequest):
        Frontier.from_bytes(1, b"x" * 31)
    with pytest.raises(InvalidProofRequest):
        Frontier().append(b"not 32 bytes")


def test_tree_nodes_root_at_every_past_size() -> None:
    leaves = make_leaves(70)
    nodes = TreeNodes(leaves)
    for size in range(71):
        assert nodes.root(size) == reference_mth(leaves[:size])
    with pytest.raises(InvalidProofRequest):
        nodes.root(71)
    with pytest.raises(InvalidProofRequest):
        nodes.subtree_hash(0, 3)  # not a perfect subtree
    with pytest.raises(InvalidProofRequest):
        nodes.subtree_hash(2, 6)  # not aligned


def test_leaf_hash_list_rejects_ranges_past_the_end() -> None:
    with pytest.raises(InvalidProofRequest):
        LeafHashList(make_leaves(3)).subtree_hash(0, 4)
    with pytest.raises(InvalidProofRequest):
        inclusion_proof(0, 5, make_leaves(4))


# ---------------------------------------------------------------------------
# Proofs: every good one verifies, every corruption fails
# ---------------------------------------------------------------------------


# Not probed: size + 1. RFC 9162 verification cannot tell some neighbouring
# sizes apart (leaf 1 of 5 and of 6 have paths of the same shape); the size is
# bound by the signed checkpoint, not by the proof.
def inclusion_corruptions(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> list[tuple[str, tuple]]:
    probes = [
        ("index - 1", (index - 1, size, leaf, proof, root)),
        ("index + 1", (index + 1, size, leaf, proof, root)),
        ("index ^ 2", (index ^ 2, size, leaf, proof, root)),
        ("size * 2", (index, size * 2, leaf, proof, root)),
        ("size / 2", (index, size // 2, leaf, proof, root)),
        ("wrong leaf", (index, size, hash_leaf(b"WrongLeaf"), proof, root)),
        ("empty root", (index, size, leaf, proof, EMPTY_ROOT)),
        ("random root", (index, size, leaf, proof, SOME_HASH)),
        ("trailing root", (index, size, leaf, [*proof, root], root)),
        ("preceding root", (index, size, leaf, [root, *proof], root)),
        ("trailing garbage", (index, size, leaf, [*proof, b""], root)),
    ]
    for i in range(len(proof)):
        for bit in (0, 3, 7):
            changed = list(proof)
            changed[i] = flip(changed[i], bit, position=i % 32)
            probes.append((f"proof[{i}] bit {bit}", (index, size, leaf, changed, root)))
    if proof:
        probes.append(("removed last", (index, size, leaf, proof[:-1], root)))
        probes.append(("removed first", (index, size, leaf, proof[1:], root)))
    if len(proof) > 1:
        probes.append(("swapped", (index, size, leaf, [proof[1], proof[0], *proof[2:]], root)))
        probes.append(("inserted", (index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root)))
    probes.append(("flipped leaf", (index, size, flip(leaf), proof, root)))
    probes.append(("flipped root", (index, size, leaf, proof, flip(root, 0, 31))))
    return [(name, args) for name, args in probes if args[0] >= 0]


def assert_inclusion_rejects_corruptions(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    verify_inclusion_proof(index, size, leaf, proof, root)
    accepted = []
    for name, args in inclusion_corruptions(index, size, leaf, proof, root):
        if args[:2] == (index, size) and args[2:] == (leaf, proof, root):
            continue
        try:
            verify_inclusion_proof(*args)
        except ProofError:
            continue
        accepted.append(name)
    assert not accepted, f"accepted corrupted inclusion proofs: {accepted}"


def assert_consistency_rejects_corruptions(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    verify_consistency_proof(old, new, old_root, new_root, proof)
    if not proof:
        return
    probes = [
        ("old - 1", (old - 1, new, old_root, new_root, proof)),
        ("old + 1", (old + 1, new, old_root, new_root, proof)),
        ("old ^ 2", (old ^ 2, new, old_root, new_root, proof)),
        ("new * 2", (old, new * 2, old_root, new_root, proof)),
        ("new / 2", (old, new // 2, old_root, new_root, proof)),
        ("wrong old root", (old, new, SOME_HASH, new_root, proof)),
        ("wrong new root", (old, new, old_root, SOME_HASH, proof)),
        ("swapped roots", (old, new, new_root, old_root, proof)),
        ("empty proof", (old, new, old_root, new_root, [])),
        ("trailing old root", (old, new, old_root, new_root, [*proof, old_root])),
        ("trailing new root", (old, new, old_root, new_root, [*proof, new_root])),
        ("preceding old root", (old, new, old_root, new_root, [old_root, *proof])),
        ("preceding new root", (old, new, old_root, new_root, [new_root, *proof])),
        ("preceding proof[0]", (old, new, old_root, new_root, [proof[0], *proof])),
        ("truncated", (old, new, old_root, new_root, proof[:-1])),
    ]
    for i in range(len(proof)):
        for bit in (0, 4, 7):
            changed = list(proof)
            changed[i] = flip(changed[i], bit, position=(i * 7) % 32)
            probes.append((f"proof[{i}] bit {bit}", (old, new, old_root, new_root, changed)))
    accepted = []
    for name, args in probes:
        if args[0] < 0:
            continue
        if args[:2] == (old, new) and args[2:] == (old_root, new_root, proof):
            continue
        try:
            verify_consistency_proof(*args)
        except ProofError:
            continue
        accepted.append(name)
    assert not accepted, f"accepted corrupted consistency proofs: {accepted}"


@pytest.mark.parametrize("case", VECTORS["inclusion"][1:], ids=lambda c: f"{c['index']}-{c['size']}")
def test_golden_inclusion_proofs_reject_corruptions(case: dict) -> None:
    index, size = case["index"], case["size"]
    proof = [bytes.fromhex(h) for h in case["proof_hex"]]
    assert_inclusion_rejects_corruptions(index, size, LEAF_HASHES[index], proof, ROOTS[size - 1])


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old_size']}-{c['new_size']}")
def test_golden_consistency_proofs_reject_corruptions(case: dict) -> None:
    old, new = case["old_size"], case["new_size"]
    proof = [bytes.fromhex(h) for h in case["proof_hex"]]
    assert_consistency_rejects_corruptions(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def test_every_inclusion_proof_up_to_size_40_verifies_only_for_its_leaf() -> None:
    leaves = make_leaves(40)
    nodes = TreeNodes(leaves)
    for size in range(1, 41):
        root = reference_mth(leaves[:size])
        for index in range(size):
            proof = inclusion_proof(index, size, nodes)
            assert proof == inclusion_proof(index, size, leaves)
            verify_inclusion_proof(index, size, leaves[index], proof, root)
            for other in range(size):
                if other != index and leaves[other] != leaves[index]:
                    with pytest.raises(ProofError):
                        verify_inclusion_proof(index, size, leaves[other], proof, root)
                if other != index:
                    with pytest.raises(ProofError):
                        verify_inclusion_proof(other, size, leaves[index], proof, root)


def test_every_consistency_proof_up_to_size_40_verifies() -> None:
    leaves = make_leaves(40)
    nodes = TreeNodes(leaves)
    roots = [reference_mth(leaves[:n]) for n in range(41)]
    for new in range(0, 41):
        for old in range(0, new + 1):
            proof = consistency_proof(old, new, nodes)
            assert proof == consistency_proof(old, new, leaves)
            verify_consistency_proof(old, new, roots[old], roots[new], proof)
            if 0 < old < new:
                assert_consistency_rejects_corruptions(old, new, roots[old], roots[new], proof)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_random_proofs_verify_and_flipped_bits_fail(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=2000), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    old = data.draw(st.integers(min_value=1, max_value=size), label="old")
    leaves = make_leaves(size)
    nodes = TreeNodes(leaves)
    root = nodes.root()

    proof = inclusion_proof(index, size, nodes)
    verify_inclusion_proof(index, size, leaves[index], proof, root)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
        changed = list(proof)
        changed[i] = flip(changed[i], bit % 8, bit // 8)
        with pytest.raises(ProofError):
            verify_inclusion_proof(index, size, leaves[index], changed, root)

    c_proof = consistency_proof(old, size, nodes)
    old_root = nodes.root(old)
    verify_consistency_proof(old, size, old_root, root, c_proof)
    if c_proof:
        i = data.draw(st.integers(min_value=0, max_value=len(c_proof) - 1), label="c-element")
        changed = list(c_proof)
        changed[i] = flip(changed[i], 5, 17)
        with pytest.raises(ProofError):
            verify_consistency_proof(old, size, old_root, root, changed)
        with pytest.raises(ProofError):
            verify_consistency_proof(old, size, old_root, flip(root), c_proof)


# ---------------------------------------------------------------------------
# Degenerate sizes and bad requests
# ---------------------------------------------------------------------------


def test_inclusion_degenerate_cases() -> None:
    leaf = hash_leaf(b"data")
    verify_inclusion_proof(0, 1, leaf, [], leaf)
    for index, size in [(0, 0), (1, 0), (2, 1), (1, 1)]:
        with pytest.raises(ProofError):
            verify_inclusion_proof(index, size, leaf, [], leaf)
    with pytest.raises(ProofError):
        verify_inclusion_proof(0, 1, leaf, [], EMPTY_ROOT)
    with pytest.raises(ProofError):
        verify_inclusion_proof(0, 1, b"", [], leaf)  # wrong hash size
    with pytest.raises(ProofError):
        verify_inclusion_proof(0, 1, leaf, [], b"")


def test_consistency_degenerate_cases() -> None:
    root = ROOTS[0]
    other = ROOTS[1]
    verify_consistency_proof(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency_proof(0, 5, EMPTY_ROOT, other, [])
    verify_consistency_proof(1, 1, root, root, [])
    rejected = [
        (1, 1, root, other, []),  # same size, different roots
        (1, 0, root, EMPTY_ROOT, []),  # time travel
        (2, 1, other, root, []),
        (1, 2, root, other, []),  # empty proof
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),  # proof must be empty
        (0, 1, EMPTY_ROOT, root, [EMPTY_ROOT]),
        (1, 1, root, root, [EMPTY_ROOT]),
        (0, 1, root, root, []),  # a size-0 tree has the empty root
    ]
    for args in rejected:
        with pytest.raises(ProofError):
            verify_consistency_proof(*args)


@pytest.mark.parametrize("index,size", [(0, 0), (1, 1), (8, 7), (-1, 3), (True, 3)])
def test_inclusion_proof_request_out_of_range(index: int, size: int) -> None:
    with pytest.raises(InvalidProofRequest):
        inclusion_proof(index, size, make_leaves(8))


@pytest.mark.parametrize("old,new", [(5, 0), (9, 8), (-1, 3)])
def test_consistency_proof_request_out_of_range(old: int, new: int) -> None:
    with pytest.raises(InvalidProofRequest):
        consistency_proof(old, new, make_leaves(9))


def test_trivial_consistency_proofs_are_empty() -> None:
    leaves = make_leaves(8)
    for size in range(9):
        assert consistency_proof(size, size, leaves) == []
        assert consistency_proof(0, size, leaves) == []


def test_proof_errors_are_invalid_input() -> None:
    assert issubclass(ProofError, InvalidInput)
    assert issubclass(InvalidProofRequest, InvalidInput)
    assert ProofError.code != InvalidProofRequest.code


def test_range_hash_over_right_edge_nodes() -> None:
    leaves = make_leaves(13)
    nodes = TreeNodes(leaves)
    # [8, 13) is the right child of the root of a 13-leaf tree.
    assert merkle.range_hash(nodes, 8, 13) == reference_mth(leaves[8:13])
    assert merkle.range_hash(nodes, 4, 4) == EMPTY_ROOT
