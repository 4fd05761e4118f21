"""Errors raised by the audit log library.

All of them describe bad input (an entry that cannot be logged, a proof or a
checkpoint that does not verify, key material that does not parse), so they
hang under ``InvalidInput`` and adapters map them like any other bad request:

    InvalidInput (bastion.domain.errors)
     └── AuditError                   "audit_error"
          ├── InvalidAuditEntry       "invalid_audit_entry"        not a loggable entry
          ├── InvalidProofRequest     "invalid_proof_request"      index or sizes out of range
          ├── ProofError              "invalid_proof"              a proof does not verify
          ├── AuditVerificationError  "audit_verification_failed"  a checked log has problems
          └── CheckpointError         "invalid_checkpoint"
               ├── InvalidKey             "invalid_key"             a key string does not parse
               ├── MalformedCheckpoint    "malformed_checkpoint"    not a checkpoint note
               ├── UnknownCheckpointKey   "unknown_checkpoint_key"  not signed by the key
               ├── BadCheckpointSignature "bad_checkpoint_signature"
               └── CheckpointMismatch     "checkpoint_mismatch"     saved copies disagree

A verification failure is never reported as success: functions that check
something either return the checked object or raise one of these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..domain.errors import InvalidInput

if TYPE_CHECKING:
    from .checkpoint import Checkpoint


class AuditError(InvalidInput):
    code = "audit_error"


class InvalidAuditEntry(AuditError):
    code = "invalid_audit_entry"


class InvalidProofRequest(AuditError):
    code = "invalid_proof_request"


class ProofError(AuditError):
    code = "invalid_proof"


class AuditVerificationError(AuditError):
    code = "audit_verification_failed"


class CheckpointError(AuditError):
    code = "invalid_checkpoint"


class InvalidKey(CheckpointError):
    code = "invalid_key"


class MalformedCheckpoint(CheckpointError):
    code = "malformed_checkpoint"


class UnknownCheckpointKey(CheckpointError):
    code = "unknown_checkpoint_key"


class BadCheckpointSignature(CheckpointError):
    code = "bad_checkpoint_signature"


class CheckpointMismatch(CheckpointError):
    """The signed note verified, but the informational copies beside it disagree.

    ``checkpoint`` is the verified checkpoint (the note is the only thing
    trusted), so a caller can report the mismatch and still use it.
    """

    code = "checkpoint_mismatch"

    def __init__(self, message: str, *, checkpoint: Checkpoint, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.checkpoint = checkpoint
