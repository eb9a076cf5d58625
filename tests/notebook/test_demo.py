"""`make demo`'s main: executes notebooks against its own emulator process, writes ipynb + HTML."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from junis_jupyter import demo
from junis_jupyter.emulator import process

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


@pytest.fixture
def started(monkeypatch):
    """Remembers the emulators the demo starts, so the test knows the key to look for."""
    handles = []
    real = process.start_emulator_process

    def spy(*args, **kwargs):
        handle = real(*args, **kwargs)
        handles.append(handle)
        return handle

    monkeypatch.setattr(process, "start_emulator_process", spy)
    return handles


def test_demo_runs_the_quickstart_and_writes_readable_html(tmp_path, started, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--notebooks", str(QUICKSTART)]) == 0
    printed = capsys.readouterr().out
    assert "quickstart" in printed and "2 of 2 notebooks ran cleanly" in printed
    line = next(l for l in printed.splitlines() if l.strip().startswith("quickstart "))
    words = line.split()      # name, N cells, N answers, N API calls, N tokens, s, ok
    answers, calls, tokens = int(words[3]), int(words[5]), int(words[8])
    assert answers == 5 and calls >= answers and tokens > 0   # calls counted by the ledger
    assert str((out / "quickstart.html").resolve()) in printed or str(out / "quickstart.html") in printed
    key = started[0].key
    assert started[0].process.poll() is not None          # the emulator was stopped
    nb = nbformat.read(out / "quickstart.ipynb", as_version=4)
    footers = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if o.get("metadata", {}).get("junis")]
    assert len(footers) == 5 and all(f.metadata["junis"]["total_tokens"] > 0 for f in footers)
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    html = (out / "quickstart.html").read_text(encoding="utf-8")
    assert "<html" in html and "You asked:" in html

    for path in out.iterdir():
        assert key not in path.read_text(encoding="utf-8"), path


def test_a_failing_notebook_and_a_leaked_key_fail_the_demo(tmp_path, started, capsys):
    nb = new_notebook(cells=[
        new_code_cell("import os\nprint(os.environ['JUNIS_API_KEY'])"),
        new_code_cell("1 / 0"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    source = tmp_path / "leaky.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / "out"
    assert demo.main(["--out", str(out), "--notebooks", str(source)]) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "ZeroDivisionError" in printed and "API key appeared" in printed
    key = started[0].key
    written = (out / "leaky.ipynb").read_text(encoding="utf-8")
    assert key not in written and key not in (out / "leaky.html").read_text(encoding="utf-8")
    assert nbformat.reads(written, as_version=4).cells[0].outputs[0].text.startswith("jns_live_…")


def test_no_notebooks_is_an_error(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path / "o"), "--notebooks", str(tmp_path)]) == 2
    assert "no notebooks" in capsys.readouterr().err


def test_demo_runs_the_quickstart_again_from_the_answer_cache(tmp_path, started, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--notebooks", str(QUICKSTART)]) == 0
    lines = capsys.readouterr().out.splitlines()
    again = next(i for i, l in enumerate(lines) if l.strip().startswith("quickstart-from-cache"))
    words = lines[again].split()
    first = next(l for l in lines if l.strip().startswith("quickstart ")).split()
    assert int(words[3]) == 5 and int(words[5]) == int(first[5]) - 5   # 5 answers, no call each
    assert lines[again + 1].strip().startswith("5 of 5 answers came from the answer cache")
    assert "credits saved" in lines[again + 1]
    nb = nbformat.read(out / "quickstart-from-cache.ipynb", as_version=4)
    notes = [o.metadata["junis"]["note"] for c in nb.cells if c.cell_type == "code"
             for o in c.outputs if o.get("metadata", {}).get("junis")]
    assert notes == ["cached"] * 5


def test_the_summary_counts_requests_served_and_never_shows_tokens_it_could_not_see(
        tmp_path, started, capsys):
    """A notebook that keeps a usage ledger of its own (session_analytics sets JUNIS_HOME) once
    showed "0 API calls 0 tokens" for 29 requests: calls are the emulator's count, and tokens
    the demo's ledger did not see are a dash and a line saying why."""
    own = new_notebook(cells=[
        new_code_cell("import os, tempfile\nos.environ['JUNIS_HOME'] = tempfile.mkdtemp()\n"
                      "%load_ext junis_jupyter"),
        new_code_cell("%%junis --new\nHello"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = tmp_path / "own_ledger.ipynb"
    nbformat.write(own, path)
    assert demo.main(["--out", str(tmp_path / "demo"), "--notebooks", str(path)]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines()
                if l.strip().startswith("own_ledger "))
    words = line.split()
    assert int(words[5]) >= 1 and words[8] == "-", line      # name, cells, answers, calls, tokens
