"""kmsd: a self-hosted key management service that speaks the AWS KMS, IAM and STS APIs.

The packages follow the request pipeline (see DESIGN.md): ``policy`` (the IAM
policy language), ``crypto`` (key material and ciphertext formats), ``store``
(persistence), ``iam`` (identities and credentials), ``authz`` (the KMS
authorizer), ``kms`` (the KMS operations), ``api`` (HTTP, SigV4, wire codecs)
and ``cli`` (the ``kmsd`` command).
"""

__version__ = "0.1.0"
