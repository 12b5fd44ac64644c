"""The command line as a whole: every command has help, the query path kept light (docs: test_docs.py)."""
from __future__ import annotations

import json
import subprocess
import sys

import typer.main

from cli.main import app

def _commands(group, prefix="kb"):
    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, command in click_group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", command


def test_every_command_has_help():
    commands = dict(_commands(app))
    assert {"kb build", "kb query", "kb markers", "kb sources", "kb show", "kb check"} <= set(commands)
    for name, command in commands.items():
        assert (command.help or "").strip(), f"{name} has no help text"


def test_help_runs_for_every_command(runner):
    for name in dict(_commands(app)):
        result = runner.invoke(app, [*name.split()[1:], "--help"])
        assert result.exit_code == 0, name
        assert "Usage" in result.output


def test_query_path_imports_no_heavy_libraries(built_db):
    code = (
        "import sys\n"
        "from cli.main import app\n"
        f"sys.argv = ['kb', 'query', '--marker', 'LDH', '--db', {str(built_db)!r}, '--format', 'json']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'numpy', 'sqlmodel', 'sqlalchemy', 'pydantic', 'yaml', 'rapidfuzz') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(result.stdout)["evidence"]
    assert "HEAVY=\n" in result.stderr or result.stderr.rstrip().endswith("HEAVY="), result.stderr


# What the `kb query` entry point must not load: the web stack, the standard-input readers, figures, the
# evaluate/PAM/serve commands and their libraries, and rich (JSON output draws no table).
HEAVY = ("fastapi", "starlette", "uvicorn", "jinja2", "fhir", "phenopackets", "google.protobuf", "matplotlib", "pydantic",
         "rich", "pandas", "numpy", "sqlmodel", "sqlalchemy", "yaml", "rapidfuzz", "web", "kb.evaluate", "kb.pam",
         "kb.curate", "cli.evaluate", "cli.pam", "cli.serve", "cli.score", "cli.curate")


def _loaded_after(args: list[str]) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `kb ARGS` through the entry point in a fresh interpreter; the modules loaded by the time it exits."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write('\\nMODULES=' + ','.join(sorted(sys.modules)) + '\\n'))\n"
            "sys.argv = ['kb'] + sys.argv[1:]\nfrom cli.main import main\nmain()\n")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    modules = set(result.stderr.rsplit("MODULES=", 1)[1].split()[0].split(","))
    return result, modules


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_query_entry_point_loads_no_heavy_module(built_db):
    result, modules = _loaded_after(["query", "--marker", "LDH", "--db", str(built_db), "--format", "json"])
    assert result.returncode == 0 and json.loads(result.stdout)["evidence"]
    assert _heavy(modules) == []
    # the check sees what a table needs: the same command drawing a table loads rich (and only that)
    result, modules = _loaded_after(["query", "--marker", "LDH", "--db", str(built_db), "--format", "table"])
    assert result.returncode == 0 and _heavy(modules) == ["rich"] + sorted(m for m in modules if m.startswith("rich."))


def test_entry_point_fast_path_gives_the_same_answer(runner, built_db):
    """`kb query` through main() (a one-command app) prints what the full app prints, exit codes included."""
    args = ["query", "--marker", "lactate dehydrogenase", "--db", str(built_db), "--format", "json"]
    full = runner.invoke(app, args)
    code = "import sys; from cli.main import main; sys.argv = ['kb'] + sys.argv[1:]; main()"
    fast = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert fast.returncode == full.exit_code == 0
    assert json.loads(fast.stdout) == json.loads(full.stdout)
    missing = subprocess.run([sys.executable, "-c", code, "query", "--marker", "zzzz", "--db", str(built_db)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no marker matches 'zzzz'" in missing.stderr


def _main(*args, env=None):
    code = "import sys; from cli.main import main; sys.argv = ['kb'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)


def test_usage_errors_are_one_line_exit_2(built_db):
    for args, says in ((["query", "--markr", "LDH"], "kb query: No such option: --markr"),
                       (["evaluate"], "kb evaluate: Missing argument"), (["nope"], "kb: No such command 'nope'"),
                       (["query", "--marker", "LDH", "--db", str(built_db), "--status"], "Option '--status' requires an argument")):
        result = _main(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("kb: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert says in result.stderr and "╭" not in result.stderr


def test_version_prints_package_and_kb_version(built_db):
    import os
    from importlib.metadata import version

    from kb.core import store
    from kb.query.database import connect

    result = _main("--version", env=dict(os.environ, KB_DB=str(built_db)))
    con = connect(built_db)
    kv = store.kb_version(con)
    con.close()
    assert result.returncode == 0
    assert result.stdout == f"biomarker-kb {version('biomarker-kb')} (kb_version schema {kv['schema']}, content {kv['content']})\n"
