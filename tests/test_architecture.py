"""The direction of imports that docs/architecture.md draws, checked on the code itself.

features <- models <- {training, ops, serving} <- cli; ops may read exports and labels through
training; serving reads tier policies and appends to the prediction log (the two record modules
of ops) and imports nothing else of ops, nothing of training, the demo world or the CLI.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "models", "training", "ops", "serving", "demo", "cli")

# What each package may import from the project (its own modules always).
ALLOWED: dict[str, set[str]] = {
    "features": set(),
    "models": {"features"},
    "training": {"features", "models"},
    "ops": {"features", "models", "training"},
    "serving": {"features", "models", "ops.policy_store", "ops.prediction_log"},
    "demo": {"features", "models", "training"},
    "cli": {"features", "models", "training", "ops", "serving", "demo"},
}


def project_imports(path: Path) -> set[str]:
    """Dotted module names of the project imported anywhere in the file (lazy imports too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in PACKAGES)
    return found


def allowed(package: str, module: str) -> bool:
    if module.split(".")[0] == package:
        return True
    return any(module == rule or module.startswith(rule + ".") for rule in ALLOWED[package])


def violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in sorted(project_imports(path)):
                if not allowed(package, module):
                    found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


def test_imports_flow_one_way() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("package", "module", "ok"),
    [
        ("serving", "training.labels", False),
        ("serving", "ops.thresholds", False),
        ("serving", "ops.policy_store", True),
        ("models", "serving.app", False),
        ("training", "ops.thresholds", False),
        ("cli", "serving.launch", True),
    ],
)
def test_rule_reads_as_documented(package: str, module: str, ok: bool) -> None:
    assert allowed(package, module) is ok


def documented_rules() -> dict[str, set[str]]:
    """The "may import" table of docs/architecture.md: package -> modules it may import."""
    rules: dict[str, set[str]] = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].strip("`") in PACKAGES and cells[0].startswith("`"):
            names = re.findall(r"`([a-z_.]+)`", cells[1].split("(")[0])
            rules[cells[0].strip("`")] = set(names)
    return rules


def test_the_architecture_doc_draws_the_rules_checked_here() -> None:
    assert documented_rules() == ALLOWED


def test_every_package_has_tests() -> None:
    for package in PACKAGES:
        assert (ROOT / "tests" / package).is_dir(), f"tests/{package} is missing"
