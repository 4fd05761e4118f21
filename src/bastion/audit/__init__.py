"""The tamper-evident audit log: one RFC 6962 Merkle tree per workspace, signed checkpoints.

Modules, inside out:

    merkle      hashing, tree heads, inclusion/consistency proofs, the Frontier
    entries     the audit entry and its canonical encoding (the leaf data)
    notes       Ed25519 signed notes and key strings (C2SP signed-note)
    checkpoint  signed tree heads (C2SP tlog-checkpoint) and their saved JSON form
    verify      the offline verifier a client runs with public material only
    errors      the audit error tree (all under ``InvalidInput``)

Nothing here does I/O except :func:`verify_log` reading a JSONL export; the
database keeps, per workspace, the entries, the :class:`Frontier` and the
signed checkpoints (see the integration notes in ``verify``'s docstring).
"""

from bastion.audit._time import format_timestamp, parse_timestamp
from bastion.audit.checkpoint import (
    Checkpoint,
    checkpoint_from_json,
    checkpoint_origin,
    checkpoint_to_json,
    parse_and_verify_checkpoint,
    sign_checkpoint,
    workspace_of_origin,
)
from bastion.audit.entries import (
    ENTRY_FIELDS,
    AuditEntry,
    entry_line,
    find_entry_problem,
    leaf_bytes,
    leaf_hash,
    parse_entry_line,
)
from bastion.audit.errors import (
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
from bastion.audit.merkle import (
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
from bastion.audit.notes import (
    VerifierKey,
    compute_key_id,
    generate_signing_key,
    open_note,
    parse_signer_key,
    sign_note,
    signer_key_string,
    verifier_key_string,
)
from bastion.audit.verify import (
    Problem,
    ProblemKind,
    VerifyReport,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

__all__ = [
    "EMPTY_ROOT",
    "ENTRY_FIELDS",
    "HASH_SIZE",
    "AuditEntry",
    "AuditError",
    "AuditVerificationError",
    "BadCheckpointSignature",
    "Checkpoint",
    "CheckpointError",
    "CheckpointMismatch",
    "Frontier",
    "InvalidAuditEntry",
    "InvalidKey",
    "InvalidProofRequest",
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
