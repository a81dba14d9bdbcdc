"""The delivery window: local wall-clock times, the next one strictly after the clock given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nocontact.config import parse_config
from nocontact.coparent.window import next_window
from nocontact.errors import ConfigError


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_next_window_is_the_first_set_time_after_now_in_local_time() -> None:
    times = ["08:00", "18:00"]
    # London in November is UTC+0; New York is UTC-5
    assert next_window(utc(2026, 11, 26, 7, 59), times, "Europe/London") == utc(2026, 11, 26, 8)
    assert next_window(utc(2026, 11, 26, 8, 0), times, "Europe/London") == utc(2026, 11, 26, 18)
    assert next_window(utc(2026, 11, 26, 19), times, "Europe/London") == utc(2026, 11, 27, 8)
    assert next_window(utc(2026, 11, 26, 19), times, "America/New_York") == utc(2026, 11, 26, 23)


def test_delivery_time_stays_at_local_wall_clock_across_daylight_saving() -> None:
    # London moves to UTC+1 on 29 March 2026: 18:00 local is 18:00 UTC before, 17:00 UTC after
    assert next_window(utc(2026, 3, 28, 12), ["18:00"], "Europe/London") == utc(2026, 3, 28, 18)
    assert next_window(utc(2026, 3, 29, 12), ["18:00"], "Europe/London") == utc(2026, 3, 29, 17)


def test_no_delivery_times_means_at_once() -> None:
    now = utc(2026, 11, 26, 6, 30)
    assert next_window(now, [], "Europe/London") == now


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[household]\ncoparent_delivery_times = ["6pm"]\n', "household.coparent_delivery_times"),
        ('[household]\ntimezone = "Europe/Londn"\n', "household.timezone"),
        (
            '[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\npassword = "p"\n'
            'coparent_folder = "Trash"\n',
            "imap[0]",
        ),
        (
            '[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\npassword = "p"\n'
            'coparent_folder = "INBOX"\n',
            "imap[0]",
        ),
    ],
)
def test_bad_batching_settings_are_refused_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, file="f.toml")
    assert e.value.key == key


def test_batching_settings_are_read() -> None:
    cfg = parse_config(
        '[household]\ntimezone = "Europe/London"\ncoparent_delivery_times = ["08:00", "18:30"]\n',
        file="f.toml",
    )
    assert cfg.household.coparent_delivery_times == ["08:00", "18:30"]
    assert cfg.imap == []
