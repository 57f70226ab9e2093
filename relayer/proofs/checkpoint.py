"""EIP-712 route checkpoints (docs/protocol.md): digest, sign, recover, pack for the verifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, SecretStr

from relayer.errors import SignatureError
from relayer.types import Address, Bytes32, ChainId, ChainIdField, Uint64, checksum

DOMAIN_NAME = "xmargin"
DOMAIN_VERSION = "1"
DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
CHECKPOINT_TYPEHASH = keccak(text="Checkpoint(uint64 sourceChainId,address source,uint64 nonce,bytes32 head)")
SIGNATURE_LENGTH = 65
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _SECP256K1_N // 2


class Checkpoint(BaseModel):
    """What validators sign: the state `(nonce, head)` of a route's source contract."""

    model_config = ConfigDict(frozen=True)

    source_chain_id: ChainIdField
    source: Address
    """Source contract: the lockbox for deposits, the ledger for withdrawals."""
    nonce: Uint64
    head: Bytes32

    def as_tuple(self) -> tuple[int, str, int, bytes]:
        """The ABI tuple of the Solidity `Checkpoint` struct."""
        return (self.source_chain_id, self.source, self.nonce, self.head)


def typed_data(cp: Checkpoint, dest_chain_id: ChainId, dest_contract: str) -> dict[str, Any]:
    """EIP-712 full message (eth_account / eth_signTypedData_v4 shape) for `cp` at the destination."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Checkpoint": [
                {"name": "sourceChainId", "type": "uint64"},
                {"name": "source", "type": "address"},
                {"name": "nonce", "type": "uint64"},
                {"name": "head", "type": "bytes32"},
            ],
        },
        "primaryType": "Checkpoint",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": dest_chain_id,
            "verifyingContract": checksum(dest_contract),
        },
        "message": {
            "sourceChainId": cp.source_chain_id,
            "source": cp.source,
            "nonce": cp.nonce,
            "head": cp.head,
        },
    }


def domain_separator(dest_chain_id: ChainId, dest_contract: str) -> bytes:
    """EIP-712 domain separator of a destination verifying contract."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPEHASH, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION),
                dest_chain_id, checksum(dest_contract),
            ],
        )
    )


def digest(cp: Checkpoint, dest_chain_id: ChainId, dest_contract: str) -> bytes:
    """The 32-byte hash signed: keccak(0x1901 || domainSeparator || hashStruct(cp))."""
    struct_hash = keccak(
        encode(["bytes32", "uint64", "address", "uint64", "bytes32"], [CHECKPOINT_TYPEHASH, *cp.as_tuple()])
    )
    return keccak(b"\x19\x01" + domain_separator(dest_chain_id, dest_contract) + struct_hash)


def sign(cp: Checkpoint, dest_chain_id: ChainId, dest_contract: str, key: bytes | str | SecretStr) -> bytes:
    """65-byte signature r || s || v (v = 27/28, low s) of `cp` for the destination."""
    raw = key.get_secret_value() if isinstance(key, SecretStr) else key
    signed = Account.unsafe_sign_hash(digest(cp, dest_chain_id, dest_contract), raw)
    return bytes(signed.signature)


def recover(cp: Checkpoint, dest_chain_id: ChainId, dest_contract: str, signature: bytes) -> str:
    """Signer of `signature` over `cp`, with OpenZeppelin ECDSA rules; SignatureError if invalid."""
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"length {len(signature)}, expected {SIGNATURE_LENGTH}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"v = {v}, expected 27 or 28")
    if not 0 < s <= _HALF_N or not 0 < r < _SECP256K1_N:
        raise SignatureError("r or s out of range (high-s signatures are malleable and rejected)")
    try:
        public_key = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(
            digest(cp, dest_chain_id, dest_contract)
        )
    except BadSignature as err:
        raise SignatureError(f"does not recover: {err}") from err
    return public_key.to_checksum_address()


def pack_signatures(signatures: Mapping[str, bytes]) -> bytes:
    """One blob of 65-byte signatures in strictly ascending signer address order."""
    ordered = sorted(signatures.items(), key=lambda item: int(checksum(item[0]), 16))
    for k, (signer, sig) in enumerate(ordered):
        if len(sig) != SIGNATURE_LENGTH:
            raise SignatureError(f"signature of {signer} has length {len(sig)}")
        if k and int(ordered[k - 1][0], 16) == int(signer, 16):
            raise SignatureError(f"two signatures for signer {checksum(signer)}")
    return b"".join(bytes(sig) for _, sig in ordered)


def unpack_signatures(blob: bytes) -> list[bytes]:
    """The 65-byte signatures in a packed blob; SignatureError if its length is not a multiple of 65."""
    if len(blob) % SIGNATURE_LENGTH:
        raise SignatureError(f"blob length {len(blob)} is not a multiple of {SIGNATURE_LENGTH}")
    return [bytes(blob[i : i + SIGNATURE_LENGTH]) for i in range(0, len(blob), SIGNATURE_LENGTH)]
