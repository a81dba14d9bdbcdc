"""A short command does not load what it does not use (start-up is most of a small poll)."""

from __future__ import annotations

import subprocess
import sys


def test_a_poll_on_a_current_schema_does_not_import_alembic() -> None:
    code = (
        "import sys, nocontact.cli, nocontact.runtime, nocontact.channels.imap.poller; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
