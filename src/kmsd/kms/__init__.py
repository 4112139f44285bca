"""The KMS operations: keys, aliases, tags, key policies, rotation and the cryptographic operations.

:class:`kmsd.kms.service.KmsService` is the entry point: a table from
operation name to its resolver and handler, each in the module of its family
(``keys``, ``deletion``, ``aliases``, ``tags``, ``key_policies``, ``rotation``,
``grants``, ``crypto_ops``, ``custom_key_stores``), run as resolve -> decide (:mod:`kmsd.authz`) ->
act.  Shared machinery: ``resolve`` (what a ``KeyId`` names, and the
:class:`~kmsd.kms.resolve.Resolved` a handler receives),
``key_states`` (AWS's key state table as data), ``paging`` (Limit/Marker),
``metadata`` (KeyMetadata), ``expiry`` (keys whose deletion window ended) and
``materials`` (key material under the root key) and ``token_keys`` (keys
whose material lives in a PKCS#11 token).
"""
