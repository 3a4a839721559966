"""The import rules of DESIGN.md, checked rather than trusted.

* Every module whose docstring says "sans-I/O" is imported alone in a fresh interpreter, which must then hold no
  trio, pyserial, socket, selectors or asyncio: not imported by the module, nor by anything it imports.
* link/ never imports indi/; indi/ reaches link/ only through its connection module and the pure link/errors.py.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "indi_astrojolo"
SANS_IO = re.compile(r"\bsans[-\s]?I/?O\b", re.IGNORECASE)
FORBIDDEN = ("trio", "serial", "socket", "selectors", "asyncio")

# The pure modules DESIGN.md names ("Import rules"): each must carry the marker, so the check cannot pass by
# finding nothing to check.
DESIGN_PURE = {
    "indi_astrojolo.link.framing",
    "indi_astrojolo.link.errors",
    "indi_astrojolo.indi.xmlstream",
    "indi_astrojolo.indi.properties",
    "indi_astrojolo.indi.definitions",
    "indi_astrojolo.astrolink4.protocol",
    "indi_astrojolo.nexstar.aux",
    "indi_astrojolo.nexstar.mount",
    "indi_astrojolo.nexstar.astrometry",
    "indi_astrojolo.nexstar.orbit",
    "indi_astrojolo.nexstar.passplan",
    "indi_astrojolo.nexstar.rates",
    "indi_astrojolo.astrolink4.compensation",
    "indi_astrojolo.astrolink4.dew",
    "indi_astrojolo.astrolink4.environment",
    "indi_astrojolo.astrolink4.emulator",  # the model; serve() imports trio only when called
    "indi_astrojolo.nexstar.emulator",
    "indi_astrojolo.nexstar.emulated_focuser",
}

# Run in the fresh interpreter: import one module and say which forbidden modules were loaded, and through which of
# the package's modules each was first asked for.
PROBE = """
import importlib, json, sys
forbidden = set(sys.argv[2].split(","))
already = sorted(forbidden & set(sys.modules))
chains = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in forbidden and top not in chains:
            chain, frame = [], sys._getframe(1)
            while frame is not None:
                module = frame.f_globals.get("__name__", "")
                if module.startswith("indi_astrojolo") and module not in chain:
                    chain.append(module)
                frame = frame.f_back
            chains[top] = chain[::-1]
        return None

sys.meta_path.insert(0, Watch())
importlib.import_module(sys.argv[1])
loaded = {name: chains.get(name, []) for name in sorted(forbidden) if name in sys.modules}
print(json.dumps({"already": already, "loaded": loaded}))
"""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def sans_io_modules() -> list[str]:
    found = []
    for path in package_files():
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if SANS_IO.search(docstring):
            found.append(module_name(path))
    return found


def test_the_modules_design_names_pure_say_sans_io() -> None:
    found = set(sans_io_modules())
    assert found, "no module says sans-I/O: the boundary check below would check nothing"
    assert DESIGN_PURE - found == set(), "pure by DESIGN.md, but the docstring does not say sans-I/O"


def probe(module: str) -> subprocess.CompletedProcess[str]:
    """Import `module` alone in a fresh interpreter that finds this checkout's package first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-c", PROBE, module, ",".join(FORBIDDEN)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False)


def test_sans_io_modules_load_no_io_library() -> None:
    # One interpreter per module, so a leak is pinned on the module that has it; a few at a time.
    modules = sans_io_modules()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(modules, pool.map(probe, modules)))
    leaks = []
    for module, result in results.items():
        assert result.returncode == 0, f"importing {module} failed:\n{result.stderr}"
        report = json.loads(result.stdout)
        assert not report["already"], f"a bare interpreter already holds {report['already']}: the check means nothing"
        for name, chain in report["loaded"].items():
            leaks.append(f"{module} loads {name}" + (f" (through {' -> '.join(chain)})" if chain else ""))
    assert not leaks, "sans-I/O modules that load I/O libraries:\n" + "\n".join(leaks)
