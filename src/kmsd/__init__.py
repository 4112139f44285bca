"""kmsd: a self-hosted key management service that speaks the AWS KMS, IAM and STS APIs.

The packages follow the request pipeline: ``policy`` (the IAM policy
language), ``crypto`` (key material and ciphertext formats), ``store``
(persistence), ``iam`` (identities and credentials), ``authz`` (the KMS
authorizer), ``kms`` (the KMS operations), ``api`` (HTTP, SigV4, wire codecs)
and ``cli`` (the ``kmsd`` command).  docs/architecture.md lists each with its
one job and what it may import; tests/test_layering.py holds the code to it.
"""

__version__ = "0.1.0"
