"""The invariants of `labdeck.backend.locks` under real concurrency, on both
databases: each round lines up its contenders (a thread and a database
connection each) on a barrier and releases them together, and every round
is judged; the failure message says in how many rounds an invariant broke."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from races import Contenders, contenders
from seed import add_team
from sqlalchemy import func, select

from labdeck.backend import storage
from labdeck.backend.context import Actor, Backend
from labdeck.backend.errors import Conflict, Forbidden, NotFound, TooLarge
from labdeck.backend.models import (
    Membership,
    MetricPoint,
    MetricRollup,
    MetricSeries,
    OrgMember,
    Team,
    User,
)
from labdeck.backend.rollups import TIERS
from labdeck.backend.services import account, invitations, members, projects, runs
from labdeck.backend.services.ingest import write_samples

ROUNDS = 20
WRITERS = 8


@pytest.fixture
def pool(backend: Backend) -> Iterator[Contenders]:
    with contenders(backend, WRITERS) as contending:
        yield contending


def samples(start: float, n: int, keys: int) -> list[dict[str, Any]]:
    return [
        {"t": start + i, "values": {f"k{k}": float(i + k) for k in range(keys)}} for i in range(n)
    ]


# -- 1. quota -------------------------------------------------------------------------------


def test_concurrent_writes_never_take_a_team_past_its_quota(
    backend: Backend, make_user: Callable[..., Actor], pool: Contenders
) -> None:
    """Eight writers of 60 points each against a quota with room for 100:
    one fits, and usage never passes the quota."""
    points = 60
    quota = storage.POINT_BYTES * 100
    over: list[str] = []
    for r in range(ROUNDS):
        admin = make_user(f"q{r}")
        add_team(backend, f"quota-{r}", {admin: "admin"}, storage_quota_bytes=quota)
        projects.create_project(backend, admin, f"quota-{r}", "p")
        run_ids = [runs.create_run(backend, admin, f"quota-{r}", "p")["id"] for _ in range(WRITERS)]
        outcomes = pool.run(
            [
                lambda bk, run_id=run_id, admin=admin: write_samples(
                    bk, admin, run_id, samples(0, points, 1)
                )
                for run_id in run_ids
            ]
        )
        unexpected = [o.error for o in outcomes if o.error and not isinstance(o.error, TooLarge)]
        assert not unexpected, unexpected
        with backend.db.reader() as s:
            team_id = s.scalar(select(Team.id).where(Team.name == f"quota-{r}"))
            used = storage.usage_for_team(s, team_id)
        if used > quota or sum(o.ok for o in outcomes) != 1:
            over.append(f"{used * 100 // quota}% ({sum(o.ok for o in outcomes)} writes accepted)")
    assert not over, f"{len(over)}/{ROUNDS} rounds passed the quota: {over}"


# -- 2. a batch resent while the first copy is still being written ---------------------------


def counters(backend: Backend, run_id: str, owner: Actor) -> dict[str, Any]:
    """What is stored for a run, and what every counter says about it."""
    with backend.db.reader() as s:
        series = select(MetricSeries.id).where(MetricSeries.run_id == run_id)
        points = s.scalar(select(func.count()).where(MetricPoint.series_id.in_(series)))
        counted = s.scalar(select(func.sum(MetricSeries.count)).where(MetricSeries.id.in_(series)))
        tiers = dict(
            s.execute(
                select(MetricRollup.tier, func.sum(MetricRollup.count))
                .where(MetricRollup.series_id.in_(series))
                .group_by(MetricRollup.tier)
            ).all()
        )
        used = storage.usage_for_user(s, owner.user_id)
    return {
        "points": points,
        "series.count": counted,
        "rollups": [tiers.get(t) for t in TIERS],
        "usage": used // storage.POINT_BYTES,
    }


def test_a_batch_sent_eight_times_at_once_is_counted_once(
    backend: Backend, make_user: Callable[..., Actor], pool: Contenders
) -> None:
    """A duplicate is a point at a (series, t) already stored: the first value
    stays, and every counter (series count, rollups, usage, the `written`
    answers) agrees with the points stored."""
    me = make_user("resender")
    projects.create_project(backend, me, "resender", "p")
    batch = samples(1000, 100, 5)
    expected = {"points": 505, "series.count": 505, "rollups": [505] * len(TIERS)}
    wrong: list[dict[str, Any]] = []
    used = 0
    for _ in range(ROUNDS):
        run_id = runs.create_run(backend, me, "resender", "p")["id"]
        # The run has recorded before (its series exist), as a kernel's has.
        write_samples(backend, me, run_id, samples(0, 1, 5))
        outcomes = pool.run(
            [lambda bk, run_id=run_id: write_samples(bk, me, run_id, batch)] * WRITERS
        )
        assert all(o.ok for o in outcomes), outcomes
        seen = counters(backend, run_id, me)
        # Usage is the account's total: this round adds to what the others left.
        seen["usage"], used = seen["usage"] - used, seen["usage"]
        seen["written"] = sum(o.value["written"] for o in outcomes)
        if seen != expected | {"usage": 505, "written": 500}:
            wrong.append(seen)
    assert not wrong, f"{len(wrong)}/{ROUNDS} rounds over-counted; first: {wrong[:2]}"


# -- 3. a team always keeps an admin ----------------------------------------------------------


def _delete(who: str) -> Callable[[Backend, dict[str, Any]], Any]:
    return lambda bk, w: account.delete_account(bk, w[who], w[who + "_name"])


def _leave(who: str) -> Callable[[Backend, dict[str, Any]], Any]:
    return lambda bk, w: members.remove_member(bk, w[who], w["team"], w[who + "_name"])


def _demote(who: str, whom: str) -> Callable[[Backend, dict[str, Any]], Any]:
    return lambda bk, w: members.change_role(bk, w[who], w["team"], w[whom + "_name"], "member")


def _remove(who: str, whom: str) -> Callable[[Backend, dict[str, Any]], Any]:
    return lambda bk, w: members.remove_member(bk, w[who], w["team"], w[whom + "_name"])


def _promote_then_leave(bk: Backend, w: dict[str, Any]) -> None:
    """b makes c an admin, then leaves (c now being an admin too)."""
    members.change_role(bk, w["b"], w["team"], w["c_name"], "admin")
    members.remove_member(bk, w["b"], w["team"], w["b_name"])


INTERLEAVINGS = {
    "a deletes their account, b leaves": (_delete("a"), _leave("b")),
    "a deletes their account, b demotes itself": (_delete("a"), _demote("b", "b")),
    "a and b delete their accounts": (_delete("a"), _delete("b")),
    "a and b demote each other": (_demote("a", "b"), _demote("b", "a")),
    "a and b remove each other": (_remove("a", "b"), _remove("b", "a")),
    "a and b leave": (_leave("a"), _leave("b")),
    "a leaves, b demotes itself": (_leave("a"), _demote("b", "b")),
    "c (a member) deletes their account, b promotes c then leaves": (
        _delete("c"),
        _promote_then_leave,
    ),
}


def live_admins(backend: Backend, team: str) -> int:
    with backend.db.reader() as s:
        return s.scalar(
            select(func.count())
            .select_from(Membership)
            .join(Team, Team.id == Membership.team_id)
            .join(User, User.id == Membership.user_id)
            .where(
                Team.name == team,
                Membership.role == "admin",
                User.deleted.is_(False),
                User.account_type != "service",
            )
        )


@pytest.mark.parametrize("interleaving", list(INTERLEAVINGS))
def test_a_team_keeps_an_admin_under_any_interleaving(
    backend: Backend, make_user: Callable[..., Actor], pool: Contenders, interleaving: str
) -> None:
    """Team `t` starts with admins a and b (b alone in the last interleaving)
    and member c; the two calls race; whatever each answers, the team still
    has an admin who can sign in."""
    first, second = INTERLEAVINGS[interleaving]
    promoting = interleaving.startswith("c ")
    orphaned = 0
    for r in range(ROUNDS):
        w: dict[str, Any] = {"team": f"t{r}"}
        for who in "abc":
            w[who + "_name"] = f"{who}{r}"
            w[who] = make_user(f"{who}{r}")
        roles = {w["b"]: "admin", w["c"]: "member"}
        if not promoting:
            roles[w["a"]] = "admin"
        add_team(backend, w["team"], roles)
        outcomes = pool.run([lambda bk, w=w: first(bk, w), lambda bk, w=w: second(bk, w)])
        # Refusals are fine (the last admin, a permission lost a moment ago,
        # a member already gone); anything else is not.
        errors = [o.error for o in outcomes if o.error is not None]
        assert all(isinstance(e, (Conflict, Forbidden, NotFound)) for e in errors), errors
        orphaned += live_admins(backend, w["team"]) == 0
    assert orphaned == 0, f"{orphaned}/{ROUNDS} rounds left a team with no admin"


# -- 4. two invitations of one organization -------------------------------------------------


def test_two_invitations_of_one_organization_are_accepted_at_once(
    backend: Backend, make_user: Callable[..., Actor], pool: Contenders
) -> None:
    """Teams x and y of one organization invite the same person, who accepts
    both at the same moment: both answers are yes, and they are a member of
    both teams and once of the organization."""
    failed: list[Any] = []
    for r in range(ROUNDS):
        admin, guest = make_user(f"adm{r}"), make_user(f"guest{r}")
        org_team = add_team(backend, f"x{r}", {admin: "admin"})
        with backend.db.transaction() as s:
            org_id = s.get(Team, org_team).org_id
            s.add(Team(name=f"y{r}", type="work", org_id=org_id))
            s.flush()
            y = s.scalar(select(Team.id).where(Team.name == f"y{r}"))
            s.add(Membership(team_id=y, user_id=admin.user_id, role="admin"))
        ids = [
            invitations.invite(backend, admin, team, f"guest{r}@example.org", "member")["id"]
            for team in (f"x{r}", f"y{r}")
        ]
        outcomes = pool.run(
            [lambda bk, i=i, g=guest: invitations.accept_invitation(bk, g, i) for i in ids]
        )
        with backend.db.reader() as s:
            teams = s.scalar(select(func.count()).where(Membership.user_id == guest.user_id))
            orgs = s.scalar(select(func.count()).where(OrgMember.user_id == guest.user_id))
        if not all(o.ok for o in outcomes) or (teams, orgs) != (2, 1):
            failed.append([o.error for o in outcomes if o.error] + [(teams, orgs)])
    assert not failed, f"{len(failed)}/{ROUNDS} rounds refused an acceptance: {failed[:3]}"
