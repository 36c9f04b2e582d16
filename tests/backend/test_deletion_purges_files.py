"""Deleting an account or a team leaves no file behind in storage (F-US-6,
item 17 of issue 10): what the deleted rows pointed to is purged once they
are gone, and `storage_audit.orphans` (`labdeck storage orphans`), the
operator's check, then finds nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from labdeck.backend import storage_audit
from labdeck.backend.context import Actor, Backend, Settings
from labdeck.backend.errors import Forbidden, Invalid, NotFound
from labdeck.backend.models import (
    Membership,
    OrgMember,
    Project,
    RegisteredModel,
    Run,
    Team,
    User,
)
from labdeck.backend.services import (
    account,
    artifacts,
    identity,
    members,
    projects,
    registry,
    runs,
    service_accounts,
    teams,
)


def store(settings: Settings) -> Path:
    return Path(settings.storage_url.removeprefix("file://"))


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def artifact(backend: Backend, actor: Actor, entity: str, project: str, name: str) -> int:
    made = artifacts.create_artifact(
        backend,
        actor,
        entity,
        project,
        {"name": name, "type": "model"},
        [("weights.bin", b"w" * 100), ("conf/a.json", b"{}")],
    )
    return int(made["id"])


def test_deleting_an_account_purges_its_personal_files(
    backend: Backend, make_user: Callable[..., Actor], settings: Settings
) -> None:
    root, kim = make_user("root", admin=True), make_user("kim")
    teams.create_team(backend, root, "vision", "work", "acme")
    members.add_member(backend, root, "vision", "kim", "member")
    projects.create_project(backend, kim, "kim", "mine")
    projects.create_project(backend, root, "vision", "shared")
    artifact(backend, kim, "kim", "mine", "personal")
    artifact(backend, kim, "kim", "mine", "personal")
    team_file = artifact(backend, kim, "vision", "shared", "teamwork")
    assert len(files_under(store(settings))) == 6
    account.delete_account(backend, kim, "kim")
    left = files_under(store(settings))
    # The team's artifact, which kim made, is the team's and stays.
    assert len(left) == 2 and all(f"/{team_file}" in f or "teamwork" in f for f in left)
    assert storage_audit.orphans(backend) == []


@pytest.fixture
def lab(backend: Backend, make_user: Callable[..., Actor]) -> dict[str, Actor]:
    """Team `lab` (org `acme`, which also has team `other`): root is a system
    admin and lab's admin, ann a member of both teams, bob of lab only; lab has
    a service account that logged into other's open project."""
    people = {
        "root": make_user("root", admin=True),
        "ann": make_user("ann"),
        "bob": make_user("bob"),
        "sys": make_user("sys", admin=True),
    }
    teams.create_team(backend, people["root"], "lab", "work", "acme")
    teams.create_team(backend, people["root"], "other", "work", "acme")
    for team in ("lab", "other"):
        members.add_member(backend, people["root"], team, "ann", "member")
    members.add_member(backend, people["root"], "lab", "bob", "admin")
    projects.create_project(backend, people["ann"], "lab", "exp")
    projects.create_project(backend, people["ann"], "other", "open", visibility="open")
    runs.create_run(backend, people["ann"], "lab", "exp")
    runs.create_run(backend, people["ann"], "other", "open")
    artifact(backend, people["ann"], "lab", "exp", "model")
    model = registry.create_model(backend, people["root"], "lab", "best")
    registry.link_version(backend, people["root"], model["id"], 1)
    secret = service_accounts.create_service_account(backend, people["root"], "lab", "ci-bot")
    people["bot"] = identity.authenticate_key(backend, secret["secret"])
    runs.create_run(backend, people["bot"], "other", "open")
    return people


def count(backend: Backend, query: Any) -> int:
    with backend.db.reader() as s:
        return int(s.scalar(query) or 0)


def test_a_system_admin_deletes_a_team_with_its_data_and_files(
    backend: Backend, lab: dict[str, Actor], settings: Settings
) -> None:
    assert files_under(store(settings))
    teams.delete_team(backend, lab["sys"], "lab", "lab")
    assert count(backend, select(func.count()).where(Team.name == "lab")) == 0
    assert files_under(store(settings)) == []
    assert storage_audit.orphans(backend) == []
    assert count(backend, select(func.count()).where(Project.entity == "lab")) == 0
    assert count(backend, select(func.count()).select_from(RegisteredModel)) == 0
    # Runs elsewhere stay: ann's and the service account's in other/open,
    # the latter attributed to the account's tombstone.
    with backend.db.reader() as s:
        creators = s.execute(
            select(User.username, User.deleted).join(Run, Run.created_by == User.id)
        )
        assert sorted(creators) == [("ann", False), ("lab.ci-bot", True)]
        # ann is still in acme through `other`; bob is in no team of it any more.
        in_org = s.scalars(select(User.username).join(OrgMember, OrgMember.user_id == User.id))
        assert sorted(in_org) == ["ann", "root"]
        bobs = select(func.count()).select_from(Membership).join(User).where(User.username == "bob")
        assert s.scalar(bobs) == 0


def test_deleting_a_team_needs_a_system_admin_and_the_name_typed(
    backend: Backend, lab: dict[str, Actor], make_user: Callable[..., Actor]
) -> None:
    outsider = make_user("eve")
    with pytest.raises(NotFound):
        teams.delete_team(backend, outsider, "lab", "lab")
    with pytest.raises(Forbidden) as refused:
        teams.delete_team(backend, lab["bob"], "lab", "lab")
    assert "create or delete teams" in refused.value.message
    with pytest.raises(Invalid) as wrong:
        teams.delete_team(backend, lab["sys"], "lab", "Lab ")
    assert wrong.value.field == "confirm"
    assert count(backend, select(func.count()).where(Team.name == "lab")) == 1


def test_the_operator_lists_orphans_from_the_command_line(
    backend: Backend,
    make_user: Callable[..., Actor],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from labdeck.cli import main

    kim = make_user("kim")
    projects.create_project(backend, kim, "kim", "mine")
    artifact(backend, kim, "kim", "mine", "kept")
    monkeypatch.setenv("LABDECK_STORAGE_URL", settings.storage_url)
    command = ["--database-url", backend.db.url, "storage", "orphans"]
    assert main(command) == 0 and capsys.readouterr().out == ""
    stray = store(settings) / "artifacts" / "99" / "lost" / "v1"
    stray.mkdir(parents=True)
    (stray / "f.bin").write_bytes(b"x")
    assert main(command) == 1
    assert capsys.readouterr().out.strip().endswith("/artifacts/99/lost/v1")
