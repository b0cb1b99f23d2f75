"""The import graph of the amtfl_tf package: cycles and upward arrows.

  python tools/import_graph.py            # prints the graph's problems
  python tools/import_graph.py --edges    # and every edge

Every ``import``/``from ... import`` of an ``amtfl_tf`` module is an edge,
wherever it appears (function-level imports included: a lazy import hides
a cycle, it does not remove it). An import of a package's ``__init__`` as a
step on the way to a submodule is not counted as an edge to the package.
Exit status 1 when there is a cycle, a library module imports
``amtfl_tf.cli`` (the script layer), or a module imports another's private
(underscore) name.
"""

from __future__ import annotations

import ast
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "amtfl_tf")


def modules() -> dict[str, str]:
    out = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f),
                                      os.path.dirname(ROOT))[:-3]
                name = rel.replace(os.sep, ".")
                if name.endswith(".__init__"):
                    name = name[:-9]
                out[name] = os.path.join(folder, f)
    return out


def edges(mods: dict[str, str]) -> dict[str, set[str]]:
    graph = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:
                    pkg = mod if path.endswith("__init__.py") else \
                        mod.rsplit(".", 1)[0]
                    for _ in range(node.level - 1):
                        pkg = pkg.rsplit(".", 1)[0]
                    base = f"{pkg}.{base}"
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods
                           else base for a in node.names]
            for t in targets:
                if t in mods and t != mod:
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def private_imports(mods: dict[str, str]) -> list[str]:
    """``from amtfl_tf.x import _name`` across modules (a private name,
    function or module, used outside the module that owns it)."""
    out = []
    for mod, path in sorted(mods.items()):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("amtfl_tf"):
                names = [node.module] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names
                         if a.name.startswith("amtfl_tf")]
            else:
                continue
            bad = [n for n in names for part in n.split(".")
                   if part.startswith("_") and not part.startswith("__")]
            if bad:
                out.append(f"{mod} imports private {sorted(set(bad))}")
    return out


def problems() -> list[str]:
    mods = modules()
    graph = edges(mods)
    out = [f"cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    out += [f"{m} imports amtfl_tf.cli (the script layer)"
            for m, targets in sorted(graph.items())
            if "amtfl_tf.cli" in targets and m != "amtfl_tf.cli"]
    return out + private_imports(mods)


def main() -> int:
    graph = edges(modules())
    if "--edges" in sys.argv:
        for m in sorted(graph):
            print(m, "->", ", ".join(sorted(graph[m])) or "-")
    found = problems()
    for p in found:
        print(p)
    print(f"{len(graph)} modules, "
          f"{sum(len(v) for v in graph.values())} imports; "
          f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
