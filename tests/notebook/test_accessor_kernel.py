"""`df.junis` after `%load_ext junis_jupyter` (issue 22, finding 2), in a real kernel (nbclient):
with pandas imported before the extension or after it, and the load itself importing no pandas;
unloading leaves no import hook behind. The progress bar is named for the call the user made."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from junis_jupyter.data.batch import ask_many
from junis_jupyter.client import JunisClient

pytestmark = pytest.mark.timeout(240)

ASK = ("df = pd.DataFrame({'city': ['Oslo', 'Lima']})\n"
       "out = df.junis.ask('[[echo]] {city}', progress=False)\n"
       "print(list(out.answer))")
HOOKS = ("import sys\nfrom junis_jupyter.notebook.after_import import AfterImport\n"
         "print('hooks', sum(isinstance(f, AfterImport) for f in sys.meta_path))")


def execute(cwd: Path, *sources: str) -> list[str]:
    """What each cell printed."""
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return ["".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream")
            for c in nb.cells]


def test_pandas_imported_before_the_extension(junis_env: Any, tmp_path: Path) -> None:
    printed = execute(tmp_path, "import pandas as pd", "%load_ext junis_jupyter", ASK, HOOKS)
    assert printed[2].strip() == "['Oslo', 'Lima']"
    assert printed[3].strip() == "hooks 0"            # registered at once: nothing left waiting


def test_pandas_imported_after_the_extension(junis_env: Any, tmp_path: Path) -> None:
    printed = execute(tmp_path, "%load_ext junis_jupyter",
                      "import sys\nprint('pandas' in sys.modules)\n" + HOOKS[len("import sys\n"):],
                      "import pandas as pd", ASK, HOOKS)
    assert printed[1].split() == ["False", "hooks", "1"]   # the load imported no pandas
    assert printed[3].strip() == "['Oslo', 'Lima']"
    assert printed[4].strip() == "hooks 0"


def test_load_then_unload_leaves_no_hook(junis_env: Any, tmp_path: Path) -> None:
    printed = execute(tmp_path, "%load_ext junis_jupyter", "%unload_ext junis_jupyter", HOOKS,
                      "import pandas as pd\nprint(hasattr(pd.DataFrame, 'junis'))")
    assert printed[2].strip() == "hooks 0" and printed[3].strip() == "False"


@pytest.fixture
def client(junis_env: Any) -> Any:
    with JunisClient() as c:
        yield c


def test_the_progress_bar_is_named_for_the_call(client: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import junis_jupyter.data.accessor  # noqa: F401 - registers df.junis
    df = pd.DataFrame({"city": ["Oslo", "Lima"]})
    df.junis.ask("[[echo]] {city}", client=client, progress=True)
    bar = capsys.readouterr().err
    assert "df.junis.ask: 100%" in bar and "ask_many" not in bar
    ask_many(["[[echo]] a"], client=client, progress=True)
    assert "ask_many: 100%" in capsys.readouterr().err
    df.junis.ask("[[echo]] {city}", client=client, progress=True, background=True).wait()
    assert "df.junis.ask (background)" in capsys.readouterr().err
