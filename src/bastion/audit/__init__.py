"""The tamper-evident audit log: one RFC 6962 Merkle tree per workspace, signed checkpoints.

Modules, inside out:

    merkle      hashing, tree heads, inclusion/consistency proofs, the Frontier
    entries     the audit entry and its canonical encoding (RFC 8785; the leaf data)
    notes       Ed25519 signed notes and key strings (C2SP signed-note)
    checkpoint  signed tree heads (C2SP tlog-checkpoint) and their saved JSON form
    verify      the offline verifier a client runs with public material only
    manifests   the signed manifest of an export, with the checkpoint it was cut at, and its offline check
    errors      the audit error tree (all under ``InvalidInput``)

Nothing here touches the database; :func:`verify_log` reads a JSONL export.

Integration (what storage keeps per workspace)
    * The entries, keyed by ``(workspace, seq)``; ideally their canonical bytes
      (:func:`leaf_bytes`) as written, so an export replays them verbatim.
    * The log state: ``size`` and the frontier (:meth:`Frontier.to_bytes`,
      32 bytes per set bit of ``size``). Appending is one short write
      transaction that is serialised per workspace: read the state, set
      ``seq = size``, ``frontier.append(leaf_hash(entry))``, insert the entry
      and store the new state together, or not at all.
    * Signed checkpoints, keyed by ``(workspace, size)``: sign
      ``frontier.root()`` every K entries (K bounds how precisely an edited
      entry can be located) and whenever a log is exported. Never sign two
      roots for one size.
    * Optionally the node table :class:`TreeNodes` models (``(level, index) →
      hash``, written once per completed subtree) to serve proofs in O(log n)
      lookups; without it, proofs hash the leaf range.
    * An export is the JSONL lines, the latest checkpoint's saved JSON form
      and the intermediate checkpoints. Keys: the signer key string
      (``PRIVATE+KEY+…``) is a secret setting; the verifier key string is
      published; the key name is the deployment, the origin
      ``<deployment>/<workspace id>``.
"""

from ._time import format_timestamp, parse_timestamp
from .checkpoint import (
    Checkpoint,
    checkpoint_from_json,
    checkpoint_origin,
    checkpoint_to_json,
    parse_and_verify_checkpoint,
    sign_checkpoint,
    workspace_of_origin,
)
from .entries import (
    ENTRY_FIELDS,
    FORMAT_FIELD,
    JCS_FORMAT,
    LEGACY_FORMAT,
    AuditEntry,
    canonical_bytes,
    entry_line,
    find_entry_problem,
    leaf_bytes,
    leaf_hash,
    parse_entry_line,
)
from .errors import (
    AuditError,
    AuditVerificationError,
    BadCheckpointSignature,
    CheckpointError,
    CheckpointMismatch,
    InvalidAuditEntry,
    InvalidKey,
    InvalidProofRequest,
    MalformedCheckpoint,
    ProofError,
    UnknownCheckpointKey,
)
from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    LeafHashList,
    SubtreeSource,
    TreeNodes,
    consistency_proof,
    frontier_at,
    hash_children,
    hash_leaf,
    inclusion_proof,
    range_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from .notes import (
    VerifierKey,
    compute_key_id,
    generate_signing_key,
    open_note,
    parse_signer_key,
    sign_note,
    signer_key_string,
    verifier_key_string,
)
from .verify import (
    Problem,
    ProblemKind,
    VerifyReport,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

__all__ = [
    "AuditEntry",
    "AuditError",
    "AuditVerificationError",
    "BadCheckpointSignature",
    "Checkpoint",
    "CheckpointError",
    "CheckpointMismatch",
    "EMPTY_ROOT",
    "ENTRY_FIELDS",
    "FORMAT_FIELD",
    "Frontier",
    "HASH_SIZE",
    "InvalidAuditEntry",
    "InvalidKey",
    "InvalidProofRequest",
    "JCS_FORMAT",
    "LEGACY_FORMAT",
    "LeafHashList",
    "MalformedCheckpoint",
    "Problem",
    "ProblemKind",
    "ProofError",
    "SubtreeSource",
    "TreeNodes",
    "UnknownCheckpointKey",
    "VerifierKey",
    "VerifyReport",
    "canonical_bytes",
    "checkpoint_from_json",
    "checkpoint_origin",
    "checkpoint_to_json",
    "compute_key_id",
    "consistency_proof",
    "entry_line",
    "find_entry_problem",
    "format_timestamp",
    "frontier_at",
    "generate_signing_key",
    "hash_children",
    "hash_leaf",
    "inclusion_proof",
    "leaf_bytes",
    "leaf_hash",
    "open_note",
    "parse_and_verify_checkpoint",
    "parse_entry_line",
    "parse_signer_key",
    "parse_timestamp",
    "range_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "sign_checkpoint",
    "sign_note",
    "signer_key_string",
    "verifier_key_string",
    "verify_consistency",
    "verify_consistency_proof",
    "verify_inclusion",
    "verify_inclusion_proof",
    "verify_log",
    "workspace_of_origin",
]
