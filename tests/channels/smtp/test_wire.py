"""The bytes the relay writes after DATA, and how split outcomes fold into one reply."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from nocontact.channels.smtp.downstream import Reply, wire_data
from nocontact.channels.smtp.outcome import final_reply

OK, LATER = "250 ok", "451 later"


def undot(wire: bytes) -> bytes:
    """What a strict server (RFC 5321 §4.5.2) reads back."""
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
    lines = wire[: -len(b".\r\n")].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def test_well_formed_mail_goes_out_unchanged() -> None:
    raw = b"Subject: hi\r\n\r\n.leading dot\r\n..two\r\nend\r\n"
    assert undot(wire_data(raw)) == raw


@given(st.lists(st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b"MAIL"]), max_size=40))
def test_no_line_ending_of_any_kind_can_end_the_data_early(parts: list[bytes]) -> None:
    wire = wire_data(b"".join(parts))
    body = wire[: -len(b".\r\n")]
    # a lenient server splitting on CR, LF or CRLF must not find a lone dot line either
    assert b"." not in re.split(rb"\r\n|\r|\n", body)[:-1] or body == b""
    assert not re.search(rb"(^|[\r\n])\.[\r\n]", body)


def test_split_outcomes_fold_without_loss_or_duplicates() -> None:
    ok, earlier = Reply(250, "ok"), Reply(250, "done before", earlier=True)
    gone, busy = Reply(550, "5.1.1 no such user"), Reply(452, "4.2.2 quota")
    assert final_reply({"a": ok, "b": earlier}, OK, LATER) == OK
    assert final_reply({"a": ok, "b": busy}, OK, LATER) == LATER
    assert final_reply({"a": gone, "b": busy}, OK, LATER) == LATER
    # a permanent refusal next to a fresh delivery: retry, so the refusal is reported alone
    assert final_reply({"a": ok, "b": gone}, OK, LATER) == LATER
    assert final_reply({"a": earlier, "b": gone}, OK, LATER) == "550 5.1.1 no such user"
    assert final_reply({"a": gone}, OK, LATER) == "550 5.1.1 no such user"


def test_downstream_reply_text_is_one_printable_line() -> None:
    assert Reply(550, "5.1.1 bad\r\n550 injected\x00").line() == "550 5.1.1 bad  550 injected"
