"""A short name for the device behind a session ("Chrome on Android"), for Settings.

Built only from a fixed vocabulary: the User-Agent header is whatever the other side says, so
none of its text is stored or shown.
"""

from __future__ import annotations

# Order matters: Edge and Opera also say "Chrome"; Chrome also says "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "Mac"),
    ("Linux", "Linux"),
)


def label(user_agent: str) -> str:
    ua = user_agent[:1024]
    browser = next((name for mark, name in _BROWSERS if mark in ua), "A browser")
    system = next((name for mark, name in _SYSTEMS if mark in ua), "")
    return f"{browser} on {system}" if system else browser
