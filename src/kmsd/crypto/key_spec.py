"""Key specs as values: what a key of each ``KeySpec`` can do, so handlers ask the spec instead of comparing names.

One :class:`KeySpec` per member of botocore's ``KeySpec`` enum, transcribed
from the AWS KMS Developer Guide: "Key spec reference" (usages, algorithms,
key sizes), "Asymmetric key specs" (the largest plaintext each RSA and SM2
encryption algorithm takes), "Key type reference" (which specs can be
rotated, imported or made multi-Region).  kmsd creates every spec whose
primitive ``cryptography`` implements (:attr:`KeySpec.creatable`): symmetric,
RSA, NIST and SECG elliptic curves, Edwards25519, HMAC, ML-DSA, ML-KEM-768 and
ML-KEM-1024.  SM2 and ML_KEM_512, which it does not implement, stay here so
that the spec table is whole and their requests are answered as AWS answers a
spec unavailable in the Region.  Algorithm names are the wire values of
botocore's ``EncryptionAlgorithmSpec``, ``SigningAlgorithmSpec``,
``MacAlgorithmSpec``, ``KeyAgreementAlgorithmSpec`` and
``EncapsulationAlgorithmSpec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# KeyUsageType ("Key usage", KMS Developer Guide).
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
SIGN_VERIFY = "SIGN_VERIFY"
GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
KEY_AGREEMENT = "KEY_AGREEMENT"
ENCAPSULATE_DECAPSULATE = "ENCAPSULATE_DECAPSULATE"

# The one table of encryption algorithms: the largest plaintext each takes, by key spec.  "Asymmetric key
# specs": RSAES_OAEP plaintext is at most the modulus size minus twice the hash size minus 2 bytes; SM2PKE
# takes up to 1024 bytes; symmetric Encrypt takes up to 4096 bytes (Encrypt API reference, "Plaintext").
_SYMMETRIC_DEFAULT_LIMITS = MappingProxyType({"SYMMETRIC_DEFAULT": 4096})


def _rsa_oaep_limits(modulus_bytes: int) -> Mapping[str, int]:
    return MappingProxyType(
        {"RSAES_OAEP_SHA_1": modulus_bytes - 2 * 20 - 2, "RSAES_OAEP_SHA_256": modulus_bytes - 2 * 32 - 2}
    )


_RSA_SIGNING = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
)


@dataclass(frozen=True)
class KeySpec:
    """One key spec and everything KMS lets a key of that spec do.

    ``key_usages`` lists the usages a key of this spec may be created with, the
    default first when CreateKey may omit ``KeyUsage`` (only SYMMETRIC_DEFAULT:
    the API's default usage is ENCRYPT_DECRYPT).  ``max_plaintext_bytes`` maps
    each encryption algorithm to the largest plaintext it takes, and so lists
    the spec's encryption algorithms.
    """

    name: str
    key_bits: int
    key_usages: tuple[str, ...]
    max_plaintext_bytes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    signing_algorithms: tuple[str, ...] = ()
    mac_algorithms: tuple[str, ...] = ()
    key_agreement_algorithms: tuple[str, ...] = ()
    encapsulation_algorithms: tuple[str, ...] = ()
    rotatable: bool = False  # automatic and on-demand rotation ("Rotate AWS KMS keys")
    importable: bool = False  # Origin EXTERNAL ("Requirements for imported key material")
    multi_region: bool = False  # "Multi-Region keys": supported key types
    creatable: bool = False  # whether kmsd creates keys of this spec (`cryptography` implements it)
    in_legacy_enum: bool = True  # a member of the deprecated CustomerMasterKeySpec enum
    encryption_algorithms: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "encryption_algorithms", tuple(self.max_plaintext_bytes))

    @property
    def is_symmetric_encryption(self) -> bool:
        """The one spec of symmetric encryption keys, which alone generates data keys and takes encryption context."""
        return self.name == SYMMETRIC_DEFAULT.name

    def supports_encryption_algorithm(self, algorithm: str) -> bool:
        return algorithm in self.max_plaintext_bytes

    def same_kind(self, other: KeySpec) -> bool:
        """UpdateAlias: "The current and new KMS key must be the same type (both symmetric or both asymmetric
        or both HMAC)"; the key usage is compared by the caller."""
        return self.is_symmetric_encryption == other.is_symmetric_encryption


SYMMETRIC_DEFAULT = KeySpec(
    "SYMMETRIC_DEFAULT",
    256,
    (ENCRYPT_DECRYPT,),
    _SYMMETRIC_DEFAULT_LIMITS,
    rotatable=True,
    importable=True,
    multi_region=True,
    creatable=True,
)


def _rsa(bits: int) -> KeySpec:
    return KeySpec(
        f"RSA_{bits}",
        bits,
        (ENCRYPT_DECRYPT, SIGN_VERIFY),
        _rsa_oaep_limits(bits // 8),
        signing_algorithms=_RSA_SIGNING,
        importable=True,
        multi_region=True,
        creatable=True,
    )


def _ecc(name: str, bits: int, signing: tuple[str, ...], *, agreement: bool, legacy: bool = True) -> KeySpec:
    # ``legacy``: whether the deprecated CustomerMasterKeySpec enum has the spec (Edwards25519 is newer).
    usages = (SIGN_VERIFY, KEY_AGREEMENT) if agreement else (SIGN_VERIFY,)
    return KeySpec(
        name,
        bits,
        usages,
        signing_algorithms=signing,
        key_agreement_algorithms=("ECDH",) if agreement else (),
        importable=True,
        multi_region=True,
        creatable=True,
        in_legacy_enum=legacy,
    )


def _hmac(bits: int) -> KeySpec:
    return KeySpec(
        f"HMAC_{bits}",
        bits,
        (GENERATE_VERIFY_MAC,),
        mac_algorithms=(f"HMAC_SHA_{bits}",),
        importable=True,
        multi_region=True,
        creatable=True,
    )


def _ml_dsa(level: int, public_key_bits: int) -> KeySpec:
    # FIPS 204 ML-DSA; key_bits is the public key's size, the figure "Key spec reference" gives for it.
    return KeySpec(
        f"ML_DSA_{level}",
        public_key_bits,
        (SIGN_VERIFY,),
        signing_algorithms=("ML_DSA_SHAKE_256",),
        multi_region=True,
        creatable=True,
        in_legacy_enum=False,
    )


def _ml_kem(level: int, public_key_bits: int, *, creatable: bool = True) -> KeySpec:
    # FIPS 203 ML-KEM key encapsulation; key_bits is the encapsulation key's size.  Encapsulate
    # "EncapsulationAlgorithm": "The only valid value is ML_KEM."
    return KeySpec(
        f"ML_KEM_{level}",
        public_key_bits,
        (ENCAPSULATE_DECAPSULATE,),
        encapsulation_algorithms=("ML_KEM",),
        multi_region=True,
        creatable=creatable,
        in_legacy_enum=False,
    )


KEY_SPECS: Mapping[str, KeySpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            SYMMETRIC_DEFAULT,
            _rsa(2048),
            _rsa(3072),
            _rsa(4096),
            _ecc("ECC_NIST_P256", 256, ("ECDSA_SHA_256",), agreement=True),
            _ecc("ECC_NIST_P384", 384, ("ECDSA_SHA_384",), agreement=True),
            _ecc("ECC_NIST_P521", 521, ("ECDSA_SHA_512",), agreement=True),
            # secp256k1 is for signing only ("Key spec reference": "commonly used for cryptocurrencies").
            _ecc("ECC_SECG_P256K1", 256, ("ECDSA_SHA_256",), agreement=False),
            _ecc(
                "ECC_NIST_EDWARDS25519", 256, ("ED25519_SHA_512", "ED25519_PH_SHA_512"), agreement=False, legacy=False
            ),
            _hmac(224),
            _hmac(256),
            _hmac(384),
            _hmac(512),
            # SM2 (China Regions only): encryption, signing or key agreement; not created, `cryptography` has no SM2.
            KeySpec(
                "SM2",
                256,
                (ENCRYPT_DECRYPT, SIGN_VERIFY, KEY_AGREEMENT),
                MappingProxyType({"SM2PKE": 1024}),
                signing_algorithms=("SM2DSA",),
                key_agreement_algorithms=("ECDH",),
                importable=True,
            ),
            _ml_dsa(44, 10496),
            _ml_dsa(65, 15616),
            _ml_dsa(87, 20736),
            # `cryptography` 51 has ML-KEM-768 and ML-KEM-1024 only.
            _ml_kem(512, 6400, creatable=False),
            _ml_kem(768, 9472),
            _ml_kem(1024, 12544),
        )
    }
)

# Every encryption algorithm any spec takes: the values of EncryptionAlgorithmSpec.
ENCRYPTION_ALGORITHMS = frozenset(name for spec in KEY_SPECS.values() for name in spec.encryption_algorithms)


def key_spec(name: str) -> KeySpec:
    """The spec called ``name``; KeyError for a name that is no key spec."""
    return KEY_SPECS[name]


def default_key_spec() -> KeySpec:
    """The spec CreateKey uses when the request names none (CreateKey "KeySpec": "Default: SYMMETRIC_DEFAULT")."""
    return SYMMETRIC_DEFAULT


def default_encryption_algorithm() -> str:
    """The algorithm an encryption request uses when it names none (Encrypt "EncryptionAlgorithm")."""
    return SYMMETRIC_DEFAULT.name
