"""The layers of docs/architecture.md, checked on the source: the domain never imports a front door,
jobs are created in one module, and the completion email has one call site."""

import ast
from pathlib import Path

import imports

PACKAGE = Path(imports.__file__).parent
FRONT_DOORS = ("api", "dashboard", "management")


def modules() -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "migrations"
    ]


def imported(tree: ast.Module) -> set[str]:
    """Every module named by an import, and every ``from X import name`` as X.name too."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def called(tree: ast.Module) -> set[str]:
    return {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}


def front_door_imports(tree: ast.Module) -> set[str]:
    return {name for name in imported(tree) if name.split(".")[:2] in [["imports", door] for door in FRONT_DOORS]}


def test_the_scan_finds_a_front_door_import_where_there_is_one():
    assert "imports.api.v3" in front_door_imports(dict(modules())["api/views.py"])


def test_no_domain_module_imports_a_front_door():
    offending = sorted(
        f"{path}: {name}"
        for path, tree in modules()
        if path.split("/")[0] not in FRONT_DOORS
        for name in front_door_imports(tree)
    )
    assert offending == []


def test_import_jobs_are_created_in_one_module():
    creating = {"ImportJob", "ImportJob.objects.create", "ImportJob.objects.bulk_create",
                "ImportJob.objects.get_or_create"}
    assert sorted(path for path, tree in modules() if called(tree) & creating) == ["jobs.py"]


def test_the_completion_email_is_sent_from_one_call_site():
    sites = [
        (path, node.lineno)
        for path, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("job_finished_email")
    ]
    assert len(sites) == 1 and sites[0][0] == "jobs.py"
