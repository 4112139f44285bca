"""The KMS operations: keys, aliases, tags, key policies, rotation and the cryptographic operations.

:class:`kmsd.kms.service.KmsService` is the entry point: a dispatch table from
operation name to handler, each handler in the module of its family
(``keys``, ``deletion``, ``aliases``, ``tags``, ``key_policies``, ``rotation``,
``crypto_ops``).  Shared machinery: ``resolve`` (what a ``KeyId`` names),
``key_states`` (AWS's key state table as data), ``paging`` (Limit/Marker),
``metadata`` (KeyMetadata), ``expiry`` (keys whose deletion window ended) and
``materials`` (key material under the root key).
"""
