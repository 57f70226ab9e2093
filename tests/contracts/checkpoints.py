"""Test-side signing of route checkpoints, written independently of `relayer.proofs` so that the
contract tests cross-check the Python relayer's encoding rather than share its bugs."""

from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

DEPOSIT_TYPEHASH = keccak(
    text="Deposit(uint64 nonce,address depositor,address account,address token,uint256 amount)"
)
WITHDRAWAL_TYPEHASH = keccak(
    text="Withdrawal(uint64 nonce,address account,address recipient,address token,uint256 amount)"
)
NATIVE_TOKEN = "0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE"

# Deterministic throwaway validator keys, for tests only (never fund or reuse them).
VALIDATOR_KEYS = [keccak(text=f"xmargin-test-validator-{i}") for i in range(7)]


def deposit_leaf(nonce, depositor, account, token, amount) -> bytes:
    return keccak(
        encode(
            ["bytes32", "uint64", "address", "address", "address", "uint256"],
            [DEPOSIT_TYPEHASH, nonce, str(depositor), str(account), str(token), int(amount)],
        )
    )


def withdrawal_leaf(nonce, account, recipient, token, amount) -> bytes:
    return keccak(
        encode(
            ["bytes32", "uint64", "address", "address", "address", "uint256"],
            [WITHDRAWAL_TYPEHASH, nonce, str(account), str(recipient), str(token), int(amount)],
        )
    )


def extend(head: bytes, leaf: bytes) -> bytes:
    return keccak(bytes(head) + bytes(leaf))


def fold(head: bytes, nonce: int, messages, leaf_fn) -> bytes:
    """Head after appending `messages` (tuples of the leaf's fields) at `nonce + 1 ...`."""
    for i, fields in enumerate(messages):
        head = extend(head, leaf_fn(nonce + 1 + i, *fields))
    return head


def sign_checkpoint(keys, dest_chain_id, dest_contract, source_chain_id, source, nonce, head) -> bytes:
    """Signatures of `keys` over the checkpoint, ordered by signer address, as one blob."""
    typed = {
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
            "name": "xmargin",
            "version": "1",
            "chainId": int(dest_chain_id),
            "verifyingContract": str(dest_contract),
        },
        "message": {
            "sourceChainId": int(source_chain_id),
            "source": str(source),
            "nonce": int(nonce),
            "head": bytes(head),
        },
    }
    signed = [Account.sign_typed_data(k, full_message=typed) for k in keys]
    pairs = sorted(((Account.from_key(k).address.lower(), s.signature) for k, s in zip(keys, signed, strict=True)))
    return b"".join(bytes(sig) for _, sig in pairs)


def addresses(keys):
    return [Account.from_key(k).address for k in keys]
