"""The ``Recipient`` parameter: answering an AWS Nitro enclave with ciphertext only it can open.

Decrypt, DeriveSharedSecret, GenerateDataKey, GenerateDataKeyPair and
GenerateRandom take ``Recipient`` (``RecipientInfo``: an ``AttestationDocument``
and ``KeyEncryptionAlgorithm`` RSAES_OAEP_SHA_256).  KMS Developer Guide,
"Cryptographic attestation support in AWS KMS": KMS verifies that the
document came from a Nitro enclave, then, "instead of returning plaintext data
in the response", encrypts it "with the public key from the attestation
document" and returns it in ``CiphertextForRecipient``; "The plaintext field
is null or empty" (kmsd leaves it out).  Two steps:

- :func:`attest`, before anything else of the call (it is a check of the
  request, and its condition keys must be known when the call is decided,
  which for GenerateRandom is before any resolving): the document is verified
  against the server's trust root at the clock's time
  (:mod:`kmsd.crypto.attestation`) and handed on in the request under
  :data:`~kmsd.authz.request_context.VERIFIED_ATTESTATION`, where the
  authorizer reads ``kms:RecipientAttestation:ImageSha384`` and
  ``kms:RecipientAttestation:PCR<n>``;
- :func:`answering` wraps an operation's handler: after it has done
  everything it does without ``Recipient`` (state, usage, DryRun, the crypto),
  the plaintext member of its response is replaced by ``CiphertextForRecipient``
  (:mod:`kmsd.crypto.cms`).

Guessed wording (AWS documents none): a document that does not verify, has no
usable RSA public key, or is missing is ``ValidationException`` "The
attestation document in the Recipient parameter is not valid."  A missing
``KeyEncryptionAlgorithm`` is taken as RSAES_OAEP_SHA_256, the only value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmsd.authz.request_context import VERIFIED_ATTESTATION
from kmsd.crypto.attestation import Attestation, AttestationError, verify_attestation_document
from kmsd.crypto.cms import envelope_to_recipient
from kmsd.errors import ValidationError
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.resolve import Resolved

INVALID_ATTESTATION = "The attestation document in the Recipient parameter is not valid."
_RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"

# kmsd.kms.service's Handler, which cannot be imported from there (the service imports this module).
Handler = Callable[[KmsContext, Caller, Mapping[str, Any], Resolved], dict[str, Any]]


def attest(ctx: KmsContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """``params`` with the verified attestation of its ``Recipient`` added, or ValidationException."""
    recipient: Mapping[str, Any] | None = params.get("Recipient")
    if recipient is None:
        return params
    algorithm = recipient.get("KeyEncryptionAlgorithm") or _RSAES_OAEP_SHA_256
    document = recipient.get("AttestationDocument")
    if algorithm != _RSAES_OAEP_SHA_256 or not isinstance(document, bytes):
        raise ValidationError(INVALID_ATTESTATION)
    try:
        attestation = verify_attestation_document(document, ctx.attestation_root, ctx.clock.now())
        # A document without an RSA public key cannot receive the answer: refuse it before anything is done.
        attestation.recipient_key()
    except AttestationError:
        raise ValidationError(INVALID_ATTESTATION) from None
    return {**params, VERIFIED_ATTESTATION: attestation}


def answering(handler: Handler, plaintext_member: str) -> Handler:
    """``handler``, answering a request with a verified ``Recipient`` with ``CiphertextForRecipient`` instead of
    ``plaintext_member``."""

    def for_recipient(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
        response: dict[str, Any] = handler(ctx, caller, params, resolved)
        attestation = params.get(VERIFIED_ATTESTATION)
        if not isinstance(attestation, Attestation):
            return response
        plaintext: bytes = response.pop(plaintext_member)
        response["CiphertextForRecipient"] = envelope_to_recipient(
            plaintext, attestation.recipient_key(), ctx.rng.bytes
        )
        return response

    return for_recipient
