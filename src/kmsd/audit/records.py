"""One finished call (:class:`~kmsd.audit.call_record.CallRecord`) as a CloudTrail record.

The fields and their order are those of the CloudTrail User Guide ("CloudTrail
record contents for management, data, and network activity events") and of the
KMS Developer Guide's logged examples (Encrypt, GenerateDataKey, Decrypt):
``eventVersion``, ``userIdentity``, ``eventTime`` (UTC, to the second),
``eventSource``, ``eventName``, ``awsRegion`` (IAM is global, and CloudTrail
records it in us-east-1), ``sourceIPAddress``, ``userAgent``, ``errorCode``
and ``errorMessage`` for a call that failed, ``requestParameters``,
``responseElements``, ``additionalEventData`` (what the service noted, e.g. the
``keyMaterialId`` a cryptographic operation used), ``requestID``, ``eventID``,
``readOnly``, ``resources``
(``ARN``, ``accountId``, ``type``), ``eventType`` ``AwsApiCall``,
``managementEvent``, ``recipientAccountId`` and ``eventCategory``
``Management``.

``responseElements`` is recorded only for a call that changes something ("An
example is responseElements, which is present in events for actions that make
changes"), and for STS's credential operations, whose answer names the session;
a read, and so every cryptographic operation of KMS, records ``null``.  What of
the parameters and the answer is kept is :mod:`kmsd.audit.redaction`'s.
"""

from __future__ import annotations

from typing import Any

from kmsd.audit.call_record import CallRecord
from kmsd.audit.redaction import Redactor, iso_seconds
from kmsd.audit.user_identity import user_identity
from kmsd.call_notes import ResourceNote

EVENT_VERSION = "1.11"  # the current version of the record format (CloudTrail User Guide, "eventVersion")
# IAM is a global service: CloudTrail records its calls in US East (N. Virginia).
GLOBAL_SERVICE_REGION = "us-east-1"
GLOBAL_SERVICES = frozenset({"iam"})
# STS answers with credentials on every call but GetCallerIdentity, and CloudTrail records them (less the secrets)
# although the calls are read-only.
_ANSWER_RECORDED_READS = {"sts": frozenset({"AssumeRole", "GetSessionToken", "GetFederationToken"})}
_NO_SERVICE = frozenset[str]()
# KMS records the algorithm a cryptographic operation used even where the request left it to the default: "The
# CloudTrail log entry for a Decrypt operation always includes the encryptionAlgorithm in the requestParameters
# even if the encryption algorithm wasn't specified in the request" (KMS Developer Guide, "Decrypt"; its Encrypt and
# ReEncrypt examples show the same).  An asymmetric key has no default: its requests name the algorithm.
_DEFAULT_PARAMETERS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "kms": {
        "Encrypt": (("encryptionAlgorithm", "SYMMETRIC_DEFAULT"),),
        "Decrypt": (("encryptionAlgorithm", "SYMMETRIC_DEFAULT"),),
        "ReEncrypt": (
            ("sourceEncryptionAlgorithm", "SYMMETRIC_DEFAULT"),
            ("destinationEncryptionAlgorithm", "SYMMETRIC_DEFAULT"),
        ),
    }
}
_NO_DEFAULTS: dict[str, tuple[tuple[str, str], ...]] = {}


def cloudtrail_record(
    record: CallRecord, redactor: Redactor | None, event_id: str, resources: list[ResourceNote]
) -> dict[str, Any]:
    """The record of ``record`` for its caller's account; the caller must be known (SigV4 verified).

    ``redactor`` is the allow-list of the call's service (None: no parameters or answer are recorded);
    ``resources`` what the call acted on.  ``recipientAccountId`` is the caller's account: a copy for another
    account replaces it.
    """
    caller = record.caller
    assert caller is not None  # an unauthenticated request makes no record (see kmsd.audit.observer)
    service = record.service
    operation = record.operation or ""
    error = record.error
    body: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(caller.principal),
        "eventTime": iso_seconds(record.event_time),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": operation,
        "awsRegion": GLOBAL_SERVICE_REGION if service in GLOBAL_SERVICES else caller.region,
        "sourceIPAddress": record.source_ip,
        "userAgent": record.user_agent,
    }
    if error is not None:
        body["errorCode"] = error.code
        if error.message:
            body["errorMessage"] = error.message
    request_parameters = None
    response_elements = None
    if redactor is not None and operation:
        request_parameters = redactor.request_parameters(operation, record.params)
        if error is None and (record.writes or operation in _ANSWER_RECORDED_READS.get(service, _NO_SERVICE)):
            response_elements = redactor.response_elements(operation, record.result)
    defaults = _DEFAULT_PARAMETERS.get(service, _NO_DEFAULTS).get(operation)
    if defaults is not None and request_parameters is not None:
        request_parameters = {
            **request_parameters,
            **{name: value for name, value in defaults if name not in request_parameters},
        }
    body["requestParameters"] = request_parameters
    body["responseElements"] = response_elements
    if error is None and record.notes.event_data:
        body["additionalEventData"] = dict(record.notes.event_data)
    body["requestID"] = record.request_id
    body["eventID"] = event_id
    body["readOnly"] = is_read_only(record)
    if resources:
        body["resources"] = [{"ARN": note.arn, "accountId": note.account_id, "type": note.type} for note in resources]
    body["eventType"] = "AwsApiCall"
    body["managementEvent"] = True
    body["recipientAccountId"] = caller.principal.account_id
    body["eventCategory"] = "Management"
    return body


def is_read_only(record: CallRecord) -> bool:
    """CloudTrail's ``readOnly``: the call changes nothing.  STS's calls are all read-only to CloudTrail, though
    kmsd stores the sessions they issue."""
    return record.service == "sts" or not record.writes
