"""The audit trail: one CloudTrail-shaped event per API call, kept in the store, chained, and queryable.

:mod:`kmsd.audit.call_record` is what the API layer records of each call and
shows its observers (the audit trail is one; metrics and the request log are
others).  :mod:`kmsd.audit.event` is the contract between the two halves: what an event
is once it has been built from a call (:class:`AuditEvent`: the CloudTrail
record with its secrets removed, and the fields LookupEvents filters on), and
what keeps events (:class:`AuditSink`).  Building events from the calls the API
layer records is one half; storing, chaining, verifying and querying them is
the other.
"""
