"""Progress bars (cli/progress.py): drawn on stderr when stderr is a terminal, absent when it is piped, and
never in stdout, which is byte-for-byte the same either way.

Each command runs in a subprocess twice: once with stderr on a pseudo-terminal (os.openpty; stdout a
pipe), once with both piped. The bar is transient, but rich draws its final state once before erasing it,
so the 100% frame is in what the terminal received whatever the speed of the machine.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BAR = "━"  # rich's bar segments


RICH_AT_EXIT = ("import atexit, sys\n"
                "atexit.register(lambda: sys.stderr.write('\\nRICH=%s\\n' % ('rich' in sys.modules)))\n"
                "sys.argv = ['kb'] + sys.argv[1:]\nfrom cli.main import main\nmain()\n")


def _on_terminal(args: list[str], env: dict, entry: list[str] = ["-m", "cli.main"]) -> tuple[int, bytes, str]:  # noqa: B006
    """Run `kb ARGS` with stderr on a pseudo-terminal: (exit code, stdout bytes, what the terminal got)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, *entry, *args], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    os.close(slave)
    received: list[bytes] = []

    def pump():  # drain the terminal while the command runs, so it never blocks on a full buffer
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed its end
                break
            if not data:
                break
            received.append(data)

    reader = threading.Thread(target=pump)
    reader.start()
    out = proc.stdout.read()
    proc.wait(timeout=120)
    reader.join()
    os.close(master)
    return proc.returncode, out, b"".join(received).decode("utf-8", "replace")


def _piped(args: list[str], env: dict) -> tuple[int, bytes, str]:
    result = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, env=env, cwd=ROOT,
                            timeout=120)
    return result.returncode, result.stdout, result.stderr.decode()


@pytest.fixture()
def env(built_db, tmp_path):
    return dict(os.environ, KB_DB=str(built_db), COLUMNS="100", XDG_DATA_HOME=str(tmp_path / "xdg"))


def _both(args, env, stage: str):
    code, out, terminal = _on_terminal(args, env)
    assert code == 0, terminal
    assert f"kb: {stage}" in terminal and BAR in terminal and "100%" in terminal, terminal
    piped_code, piped_out, piped_err = _piped(args, env)
    assert piped_code == 0, piped_err
    assert BAR not in piped_err and "\x1b" not in piped_err and stage not in piped_err
    return out, piped_out


def test_evaluate_on_a_jsonl_shows_a_bar_on_a_terminal_only(env, tmp_path):
    record = json.loads((ROOT / "examples" / "P001.json").read_text())
    lines = [json.dumps({**record, "id": f"P{i:03d}"}) for i in range(25)]
    (tmp_path / "many.jsonl").write_text("\n".join(lines) + "\n")
    out, piped_out = _both(["evaluate", str(tmp_path / "many.jsonl"), "--format", "json"], env, "evaluating records")
    assert out == piped_out and len(out.splitlines()) == 25
    # the table output too: the bar never lands in stdout
    out, piped_out = _both(["evaluate", str(tmp_path / "many.jsonl"), "--format", "md"], env, "rendering summaries")
    assert out == piped_out and BAR.encode() not in out


def test_one_record_draws_no_bar_even_on_a_terminal(env):
    """A single record is never long: no bar, and rich is not imported for one (JSON to a pipe)."""
    code, out, terminal = _on_terminal(["evaluate", "examples/P001.json", "--format", "json"], env, ["-c", RICH_AT_EXIT])
    assert code == 0 and json.loads(out)["patient"]["id"] == "P001"
    assert BAR not in terminal and "kb: evaluating" not in terminal, terminal
    assert terminal.rstrip().endswith("RICH=False"), terminal


def test_pam_train_shows_a_bar_on_a_terminal_only(env, tmp_path):
    x, y = ROOT / "tests/fixtures/pamr/pub14_x.csv", ROOT / "tests/fixtures/pamr/pub14_y.csv"
    args = lambda name: ["pam", "train", str(x), str(y), "--out", str(tmp_path / name), "--folds", "5", "--format", "json"]  # noqa: E731
    code, out, terminal = _on_terminal(args("model.json"), env)
    # the final frame; the steps between (reading, fitting, cross-validation, ...) show as the bar refreshes
    assert code == 0 and "kb: trained: model.json" in terminal and BAR in terminal, terminal
    assert "100%" in terminal
    piped_code, piped_out, piped_err = _piped(args("model.json"), env)
    assert piped_code == 0 and BAR not in piped_err and "\x1b" not in piped_err
    assert out == piped_out


def test_score_shows_a_bar_on_a_terminal_only(env, tmp_path):
    args = lambda name: ["score", str(ROOT / "examples/cohort.csv"), "--out", str(tmp_path / name), "--format", "json"]  # noqa: E731
    code, out, terminal = _on_terminal(args("on-terminal.csv"), env)
    assert code == 0 and "kb: scoring" in terminal and BAR in terminal and "100%" in terminal, terminal
    piped_code, piped_out, piped_err = _piped(args("piped.csv"), env)
    assert piped_code == 0 and BAR not in piped_err and "\x1b" not in piped_err
    # the same bytes but for the run's own duration and output path
    normal = lambda text, name: re.sub(rb'"seconds": [0-9.e-]+', b'"seconds": 0', text).replace(name.encode(), b"OUT")  # noqa: E731
    assert normal(out, "on-terminal.csv") == normal(piped_out, "piped.csv")
    assert (tmp_path / "on-terminal.csv").read_bytes() == (tmp_path / "piped.csv").read_bytes()


def test_piped_runs_do_not_import_rich(env, tmp_path):
    """Start-up pays nothing for the bars: without a terminal rich is not even imported."""
    x, y = ROOT / "tests/fixtures/pamr/pub14_x.csv", ROOT / "tests/fixtures/pamr/pub14_y.csv"
    result = subprocess.run([sys.executable, "-c", RICH_AT_EXIT, "pam", "train", str(x), str(y), "--out", str(tmp_path / "m.json"),
                             "--format", "json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stderr.rstrip().endswith("RICH=False"), result.stderr
