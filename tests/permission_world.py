"""A team world for the permission matrix: one actor per role column, and,
for every action of `permissions.csv`, an attempt that performs it through
the services on a thing made for that attempt.

Used by the backend matrix (services) and, through its seeding, by the REST
matrix (HTTP).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labdeck.backend.context import Actor, Backend
from labdeck.backend.services import (
    alert_rules,
    artifacts,
    identity,
    invitations,
    members,
    orgs,
    projects,
    registry,
    reports,
    runs,
    service_accounts,
    system,
    team_settings,
    teams,
)

TEAM = "acme"
PROJECT = "p"
_serial = itertools.count(1)


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


@dataclass
class World:
    backend: Backend
    sys: Actor  # an admin account, not a member of the team
    ta: Actor  # team admin
    mem: Actor  # member (the owner in "own" cases)
    mem2: Actor  # another member
    va: Actor  # view-only member
    ra: Actor  # member made registry admin
    model_id: int
    artifact_id: int

    def column(self, column: str) -> Actor:
        return {
            "view_only": self.va,
            "member": self.mem,
            "registry_admin": self.ra,
            "team_admin": self.ta,
            "system_admin": self.sys,
        }[column]

    def member_user(self, role: str = "member") -> str:
        name = fresh("u")
        identity.create_user(self.backend, name, email=f"{name}@example.org")
        members.add_member(self.backend, self.ta, TEAM, name, role)
        return name


def build_world(backend: Backend) -> World:
    def user(name: str, admin: bool = False) -> Actor:
        return identity.create_user(backend, name, admin=admin, email=f"{name}@example.org")

    boss = user("boss", admin=True)
    sys_admin = user("sysadmin", admin=True)
    ta, mem, mem2, va, ra = (user(n) for n in ("ta", "mem", "mem2", "va", "ra"))
    teams.create_team(backend, boss, TEAM, "work", "acmeorg")
    for name, role in (
        ("ta", "admin"),
        ("mem", "member"),
        ("mem2", "member"),
        ("va", "view_only"),
        ("ra", "member"),
    ):
        members.add_member(backend, boss, TEAM, name, role)
    members.set_registry_admin(backend, boss, TEAM, "ra", True)
    members.remove_member(backend, ta, TEAM, "boss")
    projects.create_project(backend, ta, TEAM, PROJECT, "team")
    orgs.create_custom_role(backend, boss, "acmeorg", "auditor", "view_only", ["log experiments"])
    art = artifacts.create_artifact(
        backend, ta, TEAM, PROJECT, {"name": "weights", "type": "model"}, [("w.bin", b"0123")]
    )
    model = registry.create_model(backend, ta, TEAM, "classifier")
    registry.link_version(backend, ta, model["id"], art["id"])
    return World(backend, sys_admin, ta, mem, mem2, va, ra, model["id"], art["id"])


Attempt = Callable[[World, Actor, Actor], Any]


def _report(w: World, owner: Actor) -> int:
    return int(reports.create_report(w.backend, owner, TEAM, PROJECT, "r", "body")["id"])


def _run(w: World, owner: Actor) -> str:
    return str(runs.create_run(w.backend, owner, TEAM, PROJECT)["id"])


def _artifact(w: World) -> int:
    made = artifacts.create_artifact(
        w.backend, w.ta, TEAM, PROJECT, {"name": fresh("a"), "type": "dataset"}, [("f", b"x")]
    )
    return int(made["id"])


def _project(w: World, owner: Actor) -> str:
    name = fresh("proj")
    projects.create_project(w.backend, owner, TEAM, name, "team")
    return name


# action -> attempt(world, who, owner): performs the action as `who` on a thing
# that `owner` created (only "own" rows care who the owner is).
ATTEMPTS: dict[str, Attempt] = {
    "view team settings": lambda w, who, o: team_settings.get_settings(w.backend, who, TEAM),
    "add team members": lambda w, who, o: members.add_member(
        w.backend, who, TEAM, identity_name(w), "member"
    ),
    "remove team members": lambda w, who, o: members.remove_member(
        w.backend, who, TEAM, w.member_user()
    ),
    "manage team settings": lambda w, who, o: team_settings.patch_settings(
        w.backend, who, TEAM, {"code_saving_default": True}
    ),
    "invite members": lambda w, who, o: invitations.invite(
        w.backend, who, TEAM, f"{fresh('i')}@example.org", "member"
    ),
    "change member roles": lambda w, who, o: members.change_role(
        w.backend, who, TEAM, w.member_user(), "view_only"
    ),
    "add or remove team admins": lambda w, who, o: members.change_role(
        w.backend, who, TEAM, w.member_user(), "admin"
    ),
    "manage service accounts": lambda w, who, o: service_accounts.create_service_account(
        w.backend, who, TEAM, fresh("bot")
    ),
    "assign custom roles": lambda w, who, o: members.change_role(
        w.backend, who, TEAM, w.member_user(), "auditor"
    ),
    "view team alert rules": lambda w, who, o: alert_rules.list_team_rules(w.backend, who, TEAM),
    "manage team alert rules": lambda w, who, o: alert_rules.create_team_rule(
        w.backend, who, TEAM, {"key_pattern": "cpu", "comparison": ">", "value": 90}
    ),
    "add aliases": lambda w, who, o: registry.put_alias(
        w.backend, who, w.model_id, fresh("alias"), None
    ),
    "add models to the registry": lambda w, who, o: registry.create_model(
        w.backend, who, TEAM, fresh("model")
    ),
    "view models in the registry": lambda w, who, o: registry.get_model(w.backend, who, w.model_id),
    "download models": lambda w, who, o: registry.download_model(
        w.backend, who, w.model_id, "1", "w.bin"
    ),
    "add or remove registry admins": lambda w, who, o: members.set_registry_admin(
        w.backend, who, TEAM, w.member_user(), True
    ),
    "add or remove protected aliases": lambda w, who, o: registry.put_protected_alias(
        w.backend, who, w.model_id, fresh("prod"), None
    ),
    "view reports": lambda w, who, o: reports.get_report(w.backend, who, _report(w, o)),
    "create reports": lambda w, who, o: reports.create_report(
        w.backend, who, TEAM, PROJECT, "t", "b"
    ),
    "edit reports": lambda w, who, o: reports.patch_report(
        w.backend, who, _report(w, o), {"title": "new"}
    ),
    "delete reports": lambda w, who, o: reports.delete_report(w.backend, who, _report(w, o)),
    "follow reports": lambda w, who, o: reports.follow_report(w.backend, who, _report(w, o)),
    "comment on reports": lambda w, who, o: reports.comment_report(
        w.backend, who, _report(w, o), "nice"
    ),
    "view experiment metadata": lambda w, who, o: runs.get_run(w.backend, who, _run(w, o)),
    "edit experiment panels and workspaces": lambda w, who, o: runs.patch_run(
        w.backend, who, _run(w, o), {"notes": "n"}
    ),
    "log experiments": lambda w, who, o: runs.create_run(w.backend, who, TEAM, PROJECT),
    "delete experiments": lambda w, who, o: runs.delete_run(w.backend, who, _run(w, o)),
    "stop experiments": lambda w, who, o: runs.stop_run(w.backend, who, _run(w, o)),
    "view artifacts": lambda w, who, o: artifacts.get_artifact(w.backend, who, w.artifact_id),
    "create artifacts": lambda w, who, o: artifacts.create_artifact(
        w.backend, who, TEAM, PROJECT, {"name": fresh("a"), "type": "dataset"}, [("f", b"x")]
    ),
    "delete artifacts": lambda w, who, o: artifacts.delete_artifact(w.backend, who, _artifact(w)),
    "edit metadata": lambda w, who, o: artifacts.patch_artifact(
        w.backend, who, w.artifact_id, {"metadata": {"k": 1}}
    ),
    "edit aliases": lambda w, who, o: artifacts.put_alias(
        w.backend, who, w.artifact_id, fresh("al")
    ),
    "delete aliases": lambda w, who, o: _delete_artifact_alias(w, who),
    "download artifact": lambda w, who, o: artifacts.download_file(
        w.backend, who, w.artifact_id, "w.bin"
    ),
    "create projects": lambda w, who, o: projects.create_project(
        w.backend, who, TEAM, fresh("proj"), "team"
    ),
    "edit project overview": lambda w, who, o: projects.patch_project(
        w.backend, who, TEAM, _project(w, o), {"description": "d"}
    ),
    "delete projects": lambda w, who, o: projects.delete_project(
        w.backend, who, TEAM, _project(w, w.ta)
    ),
    "configure system settings": lambda w, who, o: system.set_storage_quota(
        w.backend, who, "team", TEAM, 10**9
    ),
    "create or delete teams": lambda w, who, o: teams.create_team(
        w.backend, who, fresh("team"), "work", "acmeorg"
    ),
    "create organizations and custom roles": lambda w, who, o: orgs.create_org(
        w.backend, who, fresh("org")
    ),
}


def identity_name(w: World) -> str:
    name = fresh("n")
    identity.create_user(w.backend, name, email=f"{name}@example.org")
    return name


def _delete_artifact_alias(w: World, who: Actor) -> Any:
    alias = fresh("gone")
    artifacts.put_alias(w.backend, w.ta, w.artifact_id, alias)
    return artifacts.delete_alias(w.backend, who, w.artifact_id, alias)
