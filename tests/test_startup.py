"""A short command does not load what it does not use (start-up is most of a small poll), and
the collector does not scan what start-up made for the rest of the process (cli.main)."""

from __future__ import annotations

import gc
import subprocess
import sys

from nocontact.cli import main
from nocontact.runtime import Runtime


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_poll_on_a_current_schema_does_not_import_alembic_or_what_only_some_mail_needs() -> None:
    # phonenumbers: only when a number is read; the co-parent holding: only for co-parent mail
    code = (
        "import sys, nocontact.cli, nocontact.runtime, nocontact.channels.imap.poller; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('alembic', 'mako', 'phonenumbers') or m == 'nocontact.coparent.holding'))"
    )
    assert _run(code) == "[]"


def test_the_command_module_loads_no_database_code_before_main_runs() -> None:
    # main() pauses the collector first; what loads before it would be scanned as it is made
    code = (
        "import sys, nocontact.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'sqlmodel', "
        "'pydantic', 'imapclient', 'pyrage'}))"
    )
    assert _run(code) == "[]"


def test_the_command_line_freezes_start_up_and_resumes_the_collector(rt: Runtime) -> None:
    code = (
        "import gc, sys; from nocontact.cli import main; "
        f"sys.argv = ['nocontact', '--home', {str(rt.home)!r}, 'vault', 'status', '--json']; "
        "code = main(); print(code, gc.isenabled(), gc.get_freeze_count() > 10_000)"
    )
    assert _run(code).splitlines()[-1] == "0 True True"


def test_the_collector_is_back_on_after_a_command_that_fails_before_start_up_ends() -> None:
    code = (
        "import gc, sys; from nocontact.cli import main; sys.argv = ['nocontact', 'nosuch']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print(e.code, gc.isenabled())"
    )
    assert _run(code) == "2 True"


def test_main_called_in_process_leaves_the_collector_alone(rt: Runtime) -> None:
    frozen = gc.get_freeze_count()
    assert main(["--home", str(rt.home), "vault", "status", "--json"]) == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
