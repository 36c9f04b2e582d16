"""Issue 11 item 2, one vocabulary: account types and team/organization roles
are spelled once, in `labdeck.backend.roles` (`AccountType`, `TeamRole`,
`OrgRole` and their predicates). Elsewhere, code that compares, assigns or
passes a role or account type uses those names, never a string literal.

The check reads the source with `ast` and flags a role-name literal only
where it meets a role: an operand of `==`/`!=`/`in`/`not in` (directly or in
a tuple, list or set) whose other side is named `role`, `account_type`,
`*_role` or `*_account_type` (a variable, attribute or `["role"]` item); a
value assigned to such a name; a `role=`/`account_type=` keyword; a default
of such a parameter; the value of a `"role"`/`"account_type"` key in a dict
display. The same word used for something else (the `"admin"` flag of an
organization member's body, a storage quota's `"user"` kind) is not a role
and is not flagged. Alembic migrations spell stored values by design and are
not read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from labdeck.backend import roles
from labdeck.backend.roles import AccountType, OrgRole, TeamRole

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = [
    ROOT / "backend" / "labdeck" / "backend",
    ROOT / "extension" / "labdeck" / "extension",
    ROOT / "kernel" / "labdeck",
    ROOT / "widgets" / "labdeck" / "widgets",
]
ROLE_NAMES = frozenset(str(m) for enum in (AccountType, TeamRole, OrgRole) for m in enum)
ROLE_KEYS = ("role", "account_type")


def _is_role_name(name: str) -> bool:
    return name in ROLE_KEYS or name.endswith(tuple(f"_{k}" for k in ROLE_KEYS))


def _names_a_role(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return _is_role_name(node.id)
    if isinstance(node, ast.Attribute):
        return _is_role_name(node.attr)
    if isinstance(node, ast.Subscript):
        key = node.slice
        return (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and (_is_role_name(key.value))
        )
    return False


def _literals(node: ast.expr | None) -> Iterator[ast.Constant]:
    """Role-name literals of `node`, itself or the items of a tuple/list/set."""
    if isinstance(node, ast.Constant) and node.value in ROLE_NAMES:
        yield node
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for item in node.elts:
            yield from _literals(item)


def role_literals(source: str) -> list[tuple[int, str]]:
    """(line, literal) of every role name spelled where a role is meant."""
    found: list[ast.Constant] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for i, side in enumerate(sides):
                others = sides[:i] + sides[i + 1 :]
                if any(_names_a_role(other) for other in others):
                    found.extend(_literals(side))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_names_a_role(t) for t in targets):
                found.extend(_literals(node.value))
        elif isinstance(node, ast.keyword):
            if node.arg is not None and _is_role_name(node.arg):
                found.extend(_literals(node.value))
        elif isinstance(node, ast.arguments):
            positional = [*node.posonlyargs, *node.args]
            defaults = [None] * (len(positional) - len(node.defaults)) + list(node.defaults)
            pairs = list(zip(positional, defaults, strict=True))
            pairs += list(zip(node.kwonlyargs, node.kw_defaults, strict=True))
            for arg, default in pairs:
                if _is_role_name(arg.arg):
                    found.extend(_literals(default))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                    and _is_role_name(key.value)
                ):
                    found.extend(_literals(value))
    return sorted((c.lineno, str(c.value)) for c in found)


def _sources() -> Iterator[Path]:
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            if "migrations" not in path.parts and path != Path(roles.__file__).resolve():
                yield path


def test_role_names_are_spelled_only_in_roles_py() -> None:
    paths = list(_sources())
    assert len(paths) > 100, "the four source roots were read"
    assert any(p.name == "members.py" for p in paths)
    offenders = {
        str(path.relative_to(ROOT)): hits
        for path in paths
        if (hits := role_literals(path.read_text()))
    }
    assert offenders == {}, (
        "compare and assign roles with labdeck.backend.roles (AccountType, TeamRole, "
        f"OrgRole, is_team_admin, ...), not string literals: {offenders}"
    )


def test_the_check_flags_role_literals_where_a_role_is_meant() -> None:
    flagged = """
if member.role == "admin": pass
if user.account_type != 'service': pass
if row["role"] in ("admin", "member"): pass
if "view_only" == base_role: pass
membership.role = "member"
Membership(team_id=1, user_id=2, role="admin")
def invite(email, role="view_only"): pass
def make(*, account_type="admin"): pass
answer = {"role": "member"}
"""
    assert role_literals(flagged) == [
        (2, "admin"),
        (3, "service"),
        (4, "admin"),
        (4, "member"),
        (5, "view_only"),
        (6, "member"),
        (7, "admin"),
        (8, "view_only"),
        (9, "admin"),
        (10, "member"),
    ]


def test_the_check_leaves_other_uses_of_the_same_words_alone() -> None:
    clean = """
from labdeck.backend.roles import TeamRole, AccountType
if member.role == TeamRole.ADMIN: pass
if user.account_type == AccountType.SERVICE: pass
if "admin" in body: pass
clean["admin"] = validate.flag(body["admin"], "admin")
if kind not in ("user", "team"): pass
FIELDS = ("models_access", "weave_access", "admin")
answer = {"admin": member.is_admin, "role": role_name(m.role, custom)}
log.info("member %s joined", name)
if member.role == other.role: pass
"""
    assert role_literals(clean) == []
