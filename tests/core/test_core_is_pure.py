import json
import subprocess
import sys
from pathlib import Path

import imports.core

CORE = Path(imports.core.__file__).parent
ROOT = CORE.parent.parent


def test_core_imports_only_the_standard_library_and_msgspec() -> None:
    modules = sorted(f"imports.core.{path.stem}" for path in CORE.glob("*.py") if path.stem != "__init__")
    assert "imports.core.reader" in modules
    script = (
        "import importlib, json, sys\n"
        # msgspec, a typed JSON decoder in C (issue 13), is pure in the sense that matters: no I/O,
        # no state; what it loads itself is not the core's doing.
        "import msgspec\n"
        "before = set(sys.modules)\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))\n"
    )
    # A fresh interpreter: this test process may have Django loaded already.
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(result.stdout))
    assert "django" not in loaded
    assert loaded - sys.stdlib_module_names - {"imports"} == set()
