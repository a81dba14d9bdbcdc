"""The ledger: a hash chain in which any changed byte is found, at the entry that changed."""

from __future__ import annotations

from sqlmodel import Session

from nocontact.db import transaction
from nocontact.models import Checkpoint
from nocontact.people.service import add_person, remove_person
from nocontact.runtime import Runtime
from nocontact.vault import ledger
from nocontact.vault.ledger import ChainLine, chain, first_fault


def _grow(rt: Runtime, n: int) -> list[ChainLine]:
    with transaction(rt.engine) as s:
        for i in range(n):
            add_person(s, rt.household_id, f"p{i}", "ally", emails=[f"p{i}@example.org"])
        remove_person(s, rt.household_id, "p0")
        ledger.append(s, rt.household_id, "vault_open", user=1)
    with Session(rt.engine) as s:
        ledger.verify_household(s, rt.household_id)
        return chain(s, rt.household_id)


def test_an_untouched_chain_verifies_on_both_engines(any_rt: Runtime) -> None:
    lines = _grow(any_rt, 4)
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    assert first_fault(lines) is None


def test_changing_any_byte_of_any_entry_fails_at_that_entry(rt: Runtime) -> None:
    lines = _grow(rt, 3)
    checked = 0
    for idx, line in enumerate(lines):
        body = line.body.encode()
        for pos in range(len(body)):
            changed = bytearray(body)
            changed[pos] ^= 0x01
            try:
                text = changed.decode()
            except UnicodeDecodeError:
                continue
            tampered = [*lines[:idx], ChainLine(line.seq, line.prev_hash, line.hash, text)]
            tampered += lines[idx + 1 :]
            fault = first_fault(tampered)
            assert fault is not None and fault[0] == line.seq, (line.seq, pos)
            checked += 1
        for field in ("hash", "prev_hash"):
            value = getattr(line, field)
            flipped = ("1" if value[0] == "0" else "0") + value[1:]
            args = {"seq": line.seq, "prev_hash": line.prev_hash, "hash": line.hash}
            args[field] = flipped
            tampered = [*lines[:idx], ChainLine(body=line.body, **args), *lines[idx + 1 :]]
            fault = first_fault(tampered)
            assert fault is not None and fault[0] == line.seq
    assert checked > 300


def test_a_removed_or_reordered_entry_is_found(rt: Runtime) -> None:
    lines = _grow(rt, 3)
    assert first_fault(lines[:2] + lines[3:]) == (lines[3].seq, "expected entry 3, found 4")
    swapped = [lines[0], lines[2], lines[1], *lines[3:]]
    fault = first_fault(swapped)
    assert fault is not None and fault[0] == lines[2].seq


def test_a_signed_checkpoint_pins_the_head(any_rt: Runtime) -> None:
    lines = _grow(any_rt, 2)
    with transaction(any_rt.engine) as s:
        cp = ledger.checkpoint(s, any_rt.household_id, any_rt.signer)
    pem = any_rt.signer.public_pem()
    assert ledger.checkpoint_holds(cp, pem, lines)
    forged = Checkpoint(**{**cp.model_dump(), "statement": cp.statement.replace('"seq"', '"Seq"')})
    assert not ledger.checkpoint_holds(forged, pem, lines)
    rewritten = [*lines[:-1], ChainLine(lines[-1].seq, lines[-1].prev_hash, "0" * 64, "{}")]
    assert not ledger.checkpoint_holds(cp, pem, rewritten)
