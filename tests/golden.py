"""Shared helpers of the golden preset tests (`test_golden_*.py`): compare a preset with its official values, and find
the configuration fields that some code reads."""

import ast
import dataclasses
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / 'dataset_condensation'


def check_fields(cfg, want: dict):
    "Every field of `want` equals the preset's (numbers compared as floats, sequences as nested tuples)."

    def norm(v):
        if isinstance(v, (list, tuple)):
            return tuple(norm(a) for a in v)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    bad = {k: (getattr(cfg, k), v) for k, v in want.items() if norm(getattr(cfg, k)) != norm(v)}
    assert not bad, f"{type(cfg).__name__} differs from its source (field: (preset, official)): {bad}"


def names_read() -> set:
    "Attribute names read anywhere in the package (`x.name`, `getattr(x, 'name')`) and parameter names."
    names = set()
    for path in PKG.rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                names.add(node.attr)
            elif isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'getattr' and len(node.args) > 1:
                if isinstance(node.args[1], ast.Constant):
                    names.add(node.args[1].value)
            elif isinstance(node, ast.arguments):
                names.update(a.arg for a in node.args + node.kwonlyargs)
    return names


def read_dynamically() -> set:
    "Fields read through a name table (`getattr(cfg, f)` over a dict), checked by their effect: the students' recipe."
    from dataset_condensation.distill.relabel import STUDENT_RECIPE_FIELDS, SRe2LConfig, student_recipe

    names = set()
    for f, r in STUDENT_RECIPE_FIELDS.items():
        value = 7 if f.endswith(('batch', 'epochs')) else 'x'
        if student_recipe(dataclasses.replace(SRe2LConfig(), **{f: value})).get(r) == value:
            names.add(f)
    return names
