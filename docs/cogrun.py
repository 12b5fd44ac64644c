"""The runner behind the docs' cog blocks: real `kb` commands, their real output, normalised one way.

    python docs/cogrun.py            # regenerate every block in README.md and docs/*.md
    python docs/cogrun.py --check    # fail if any block is out of date (tests/test_docs.py runs this)

In a Markdown file a block looks like this (the output between the markers is written by cog):

    <!-- [[[cog run("kb query --marker LDH --format table") ]]] -->
    <!-- [[[end]]] -->

`run(*commands)` writes one fenced block with each command after `$ ` and what it printed (stdout and
stderr in the order a terminal shows them). Commands run in this process, in the repository root, as a
terminal user would see them: stdout counts as a terminal (so the default format is `table`), 100
columns wide (`COLUMNS=100`), no colour (`NO_COLOR=1`), and the managed database is built once from the
bundled seeds in a scratch data directory. Besides `kb ...`, a command can be `echo $?` (the previous
exit code), `cat FILE`, `head -N FILE` or `tail -N FILE`, and a `kb` command may end in `| head -N`.
`kb serve ...` starts a real server in a child process (shown: the line it prints when it listens), on a
free port that the transcript shows as the default 8000; `curl -s http://127.0.0.1:8000/...` then requests it (`| python -m json.tool` pretty-prints the body;
`-X POST -H 'Content-Type: ...' --data-binary @FILE` posts a file), and the server is stopped at the
end of the block.

Run-dependent parts are normalised by `normalise`, the same for every document:
- the scratch data directory becomes `~/.local/share` (where the managed database lives by default)
  and scratch work directories become `.`;
- durations (`in 1.57 s`, `"seconds": 1.57`) become `‹t›`;
- the knowledge base's content hash (`content 1a2b...`, `"content": "1a2b..."`) becomes `‹content›`,
  so that a curation change does not churn every document (its counts and items still do).
"""
from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
COLUMNS = 100

_scratch: Path | None = None
_last_exit = 0


def _data_dir() -> Path:
    """A scratch XDG data directory, its managed database built from the bundled seeds (once per process)."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="kb-docs-"))
        atexit.register(shutil.rmtree, _scratch, True)
        os.environ["XDG_DATA_HOME"] = str(_scratch / "data")
        os.environ.pop("KB_DB", None)
        os.environ["COLUMNS"] = str(COLUMNS)
        os.environ["NO_COLOR"] = "1"
        sys.path.insert(0, str(ROOT))
    return _scratch


def work_dir(name: str) -> Path:
    """A scratch directory for commands that write files (shown as `.` in the output)."""
    path = _data_dir() / "work" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class _Terminal(io.StringIO):
    def isatty(self) -> bool:  # the docs show what a person at a terminal sees
        return True


class _Stderr(io.StringIO):
    """stderr, written into the same transcript in order, but not counted as a terminal: a progress bar is
    erased when its work ends, so the person at the terminal is left seeing none (cli/progress.py)."""

    def __init__(self, into: io.StringIO) -> None:
        super().__init__()
        self._into = into

    def write(self, text: str) -> int:
        return self._into.write(text)


def _kb(argv: list[str], cwd: Path, terminal: bool) -> tuple[str, int]:
    from cli.main import main

    buf = _Terminal() if terminal else io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["kb", *argv]
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(_Stderr(buf) if terminal else buf):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return buf.getvalue(), code


def _file_command(words: list[str], cwd: Path) -> str:
    name, args = words[0], words[1:]
    n = int(args.pop(0)[1:]) if name in ("head", "tail") and args and args[0].startswith("-") else None
    lines = (cwd / args[0]).read_text(encoding="utf-8").splitlines()
    if name == "head":
        lines = lines[:n]
    elif name == "tail":
        lines = lines[-n:]
    return "\n".join(lines) + "\n"


_servers: list = []
_port: dict[str, int] = {}  # the port a server really listens on, shown as 8000


def _serve(argv: list[str], cwd: Path) -> str:
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        _port["real"] = probe.getsockname()[1]
    argv = [*argv, "--port", str(_port["real"])]

    code = "import sys; from cli.main import main; sys.argv = ['kb'] + sys.argv[1:]; main()"
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))))
    _servers.append(proc)
    lines = []
    for line in proc.stdout:  # up to the line that says where it listens
        lines.append(line)
        if line.startswith("kb: serving") or line.startswith("kb: error"):
            break
    return "".join(lines)


def _curl(words: list[str], pretty: bool, cwd: Path) -> str:
    """`curl -s [-X METHOD] [-H 'Name: value'] [--data-binary @FILE] URL`, run with urllib."""
    import urllib.error
    import urllib.request

    url = next(w for w in words[1:] if w.startswith("http")).replace("127.0.0.1:8000", f"127.0.0.1:{_port.get('real', 8000)}")
    options = dict(zip(words[1:-1], words[2:]))
    headers = dict(h.split(": ", 1) for a, h in zip(words[1:-1], words[2:]) if a == "-H")
    data = (cwd / options["--data-binary"].removeprefix("@")).read_bytes() if "--data-binary" in options else None
    request = urllib.request.Request(url, data=data, headers=headers, method=options.get("-X", "POST" if data else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8")
    if pretty:
        body = json.dumps(json.loads(body), ensure_ascii=False, indent=4)
    return body.rstrip("\n") + "\n"


def _stop_servers() -> None:
    while _servers:
        proc = _servers.pop()
        proc.terminate()
        proc.wait(timeout=30)


def _one(command: str, cwd: Path, terminal: bool, select) -> str:
    global _last_exit
    head = None
    match = re.fullmatch(r"(.*?)\s*\|\s*head -(\d+)", command)
    if match:
        command, head = match.group(1), int(match.group(2))
    out = _command(command, cwd, terminal, select)
    return out if head is None else "".join(out.splitlines(keepends=True)[:head])


def _command(command: str, cwd: Path, terminal: bool, select) -> str:
    global _last_exit
    if command == "echo $?":
        return f"{_last_exit}\n"
    if command.startswith("curl "):
        pretty = command.endswith("| python -m json.tool")
        return _curl(shlex.split(command.split("|")[0]), pretty, cwd)
    words = shlex.split(command)
    if words[0] in ("cat", "head", "tail"):
        return _file_command(words, cwd)
    if words[0] != "kb":
        raise ValueError(f"cogrun runs kb commands, curl, echo $?, cat, head and tail; got {command!r}")
    if words[1:2] == ["serve"]:
        return _serve(words[1:], cwd)
    out, _last_exit = _kb(words[1:], cwd, terminal)
    if select is not None:
        out = json.dumps(select(json.loads(out)), ensure_ascii=False, indent=2) + "\n"
    return out


def normalise(text: str) -> str:
    scratch = str(_data_dir())
    if "real" in _port:
        text = text.replace(f"127.0.0.1:{_port['real']}", "127.0.0.1:8000")
    text = re.sub(re.escape(scratch) + r"/work/[^/\s]+/?", "./", text)
    text = text.replace(scratch + "/data", "~/.local/share")
    text = re.sub(r"\.//", "./", text)
    text = re.sub(r"\bin \d+(\.\d+)? s\b", "in ‹t› s", text)
    text = re.sub(r'"seconds": \d+(\.\d+)?', '"seconds": ‹t›', text)
    text = re.sub(r'\bcontent [0-9a-f]{16}\b', "content ‹content›", text)
    text = re.sub(r'"content": "[0-9a-f]{16}"', '"content": "‹content›"', text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def output(*commands: str, cwd: str | Path | None = None, terminal: bool = True, select=None) -> str:
    """The transcript of `commands` (each after `$ `), normalised."""
    _data_dir()
    where = Path(cwd) if cwd is not None else ROOT
    parts = []
    try:
        for command in commands:
            parts.append(f"$ {command}\n" + _one(command, where, terminal, select))
    finally:
        _stop_servers()
    return normalise("".join(parts))


def run(*commands: str, cwd: str | Path | None = None, terminal: bool = True, select=None, lang: str = "",
        raw: bool = False) -> None:
    """Write the transcript of `commands` into the document as one fenced block.

    `terminal=False` runs them as a pipe would (JSON by default); `select` maps a command's JSON output
    to the part shown (say so in the text: "abridged"); `raw=True` writes one command's output as it is,
    without the fence and the `$` line (a `--format md` table that the page then renders)."""
    import cog

    text = output(*commands, cwd=cwd, terminal=terminal, select=select)
    cog.outl(text.split("\n", 1)[1] if raw else f"```{lang}\n{text}\n```")


def main(argv: list[str]) -> int:
    from cogapp import Cog

    os.chdir(ROOT)
    mode = ["--check", "--diff", "--check-fail-msg", "run `python docs/cogrun.py` to refresh them"] if "--check" in argv else ["-r"]
    return Cog().main(["cog", *mode, "-p", "from cogrun import run, output, work_dir", "-I", "docs", *DOCS])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
