#!/usr/bin/env python3
"""The module map, checked: a module's code may include only its own public headers and those
of the modules it depends on (directly or through them), as src/<module>/CMakeLists.txt declares.

Every module's target sees the whole include/ tree, so the compiler would accept an include of
any module's header; the link usually succeeds too (static libraries end up in the same
executable). This check keeps the DEPENDS lists the truth about which way dependencies point.

Usage: module_map.py REPO_ROOT. Exit status 1 and one line per violation when any is found.
"""

import pathlib
import re
import sys

# lipsyncd_module(NAME ... DEPENDS a b c), or main's target_link_libraries(lipsyncd ...).
MODULE_CALL = re.compile(r"lipsyncd_module\(\s*(\w+)(.*?)\)", re.S)
MAIN_LINKS = re.compile(r"target_link_libraries\(\s*lipsyncd\s(.*?)\)", re.S)
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]lipsyncd/(\w+)/', re.M)
SOURCE_SUFFIXES = {".cpp", ".hpp", ".h", ".cc", ".in"}


def declared_dependencies(src: pathlib.Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for cmake in sorted(src.glob("*/CMakeLists.txt")):
        folder = cmake.parent.name
        text = re.sub(r"#.*", "", cmake.read_text())
        if folder == "main":
            calls = [("main", body) for body in MAIN_LINKS.findall(text)]
        else:
            calls = MODULE_CALL.findall(text)
        if not calls:
            sys.exit(f"{cmake}: no lipsyncd_module() (or, for main, target_link_libraries(lipsyncd))")
        for name, body in calls:
            if name != folder:
                sys.exit(f"{cmake}: declares module {name!r} in folder {folder!r}")
            depends = body.split("DEPENDS", 1)[1] if "DEPENDS" in body else body
            graph[name] = set(re.findall(r"\blipsyncd_(\w+)", depends))
    for name, depends in graph.items():
        unknown = depends - graph.keys()
        if unknown:
            sys.exit(f"src/{name}/CMakeLists.txt depends on unknown module(s): {sorted(unknown)}")
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def cycles(graph: dict[str, set[str]]) -> list[str]:
    return [m for m in graph if m in reachable(graph, m)]


def unbuilt_modules(root: pathlib.Path, graph: dict[str, set[str]]) -> list[str]:
    """Folders under src/ that the top-level CMakeLists.txt does not add (when there is one)."""
    top = root / "CMakeLists.txt"
    if not top.exists():
        return []
    text = re.sub(r"#.*", "", top.read_text())
    added = set(re.findall(r"add_subdirectory\(\s*src/(\w+)\s*\)", text))
    for names in re.findall(r"foreach\(\s*module\s+([^)]*)\)\s*add_subdirectory\(\s*src/\$\{module\}", text):
        added |= set(names.split())
    return [f"src/{m}/ is a module, but the top-level CMakeLists.txt does not add it"
            for m in sorted(graph.keys() - added)]


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    graph = declared_dependencies(root / "src")
    problems = [f"module {m} depends on itself through its DEPENDS" for m in cycles(graph)]
    problems += unbuilt_modules(root, graph)
    for module in sorted(graph):
        allowed = reachable(graph, module) | {module}
        folders = [root / "src" / module, root / "include" / "lipsyncd" / module]
        for folder in folders:
            for file in sorted(folder.rglob("*")):
                if file.suffix not in SOURCE_SUFFIXES or not file.is_file():
                    continue
                text = file.read_text(errors="replace")
                for match in INCLUDE.finditer(text):
                    used = match.group(1)
                    if used not in allowed:
                        line = text.count("\n", 0, match.start()) + 1
                        problems.append(
                            f"{file.relative_to(root)}:{line}: module {module} includes a "
                            f"lipsyncd/{used}/ header, but {used} is not among its dependencies "
                            f"({', '.join(sorted(allowed - {module})) or 'none'}): add "
                            f"lipsyncd_{used} to DEPENDS in src/{module}/CMakeLists.txt if the "
                            f"direction is right, or move the code")
    for problem in problems:
        print(problem)
    print(f"module map: {len(graph)} modules, {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
