"""Mail that arrives, end to end: a real jupyter_server whose deliverer sends
through a real SMTP server (aiosmtpd on 127.0.0.1), with no public URL
configured, so its links point where the server listens; the test follows
them over HTTP like the reader of the mail would (F-EM-2, F-TM-3).
Also: threshold rules over REST, and what admins see of deliveries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from mailpeers import Received, SmtpPeer, smtp_settings
from sqlalchemy import update
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from labdeck.backend.models import EmailToken
from labdeck.backend.services import members, teams
from labdeck.extension import schemas

LINK = re.compile(r"https?://\S+")


@pytest.fixture
def smtp() -> Iterator[SmtpPeer]:
    peer = SmtpPeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def jp_server_config(database_url: str, settings: Any, smtp: SmtpPeer) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labdeck": True}},
        "LabdeckApp": {
            "database_url": database_url,
            "storage_url": settings.storage_url,
            "reaper_interval": 0.0,
            "public_url": "",  # links go where the server listens
            "delivery_interval": 0.2,
            **smtp_settings(smtp.port),
        },
    }


async def mail_to(smtp: SmtpPeer, address: str, count: int = 1, timeout: float = 60) -> Received:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [m for m in smtp.inbox.received if address in m.rcpt_tos]
        if len(mine) >= count:
            return mine[count - 1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail #{count} to {address} in {timeout:.0f} s")


async def follow(link: str, key: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = await AsyncHTTPClient().fetch(link, headers=headers)
    except HTTPClientError as err:
        assert err.response is not None
        response = err.response
    return response.code, json.loads(response.body or b"null")


async def test_a_verification_link_arrives_verifies_once_and_expires(
    api_as, make_user, backend, smtp, jp_serverapp, jp_http_port, jp_base_url
) -> None:
    alice = make_user("alice")
    api = api_as(alice)
    code, added = await api("POST", "/me/emails", {"address": "alice.lab@example.org"})
    assert code == 201 and added["mail"]["queued"] is True
    jsonschema.validate(added, schemas.EMAIL_ADDED)
    mail = await mail_to(smtp, "alice.lab@example.org")
    assert mail.message.get_content_type() == "multipart/alternative"
    (link,) = LINK.findall(mail.text)
    assert f'href="{link}"' in mail.html
    # No public URL was configured: the link is where this server listens.
    parts = urlsplit(link)
    assert parts.port == jp_http_port and parts.path.startswith(jp_base_url)
    code, verified = await follow(link)
    assert code == 200 and verified["verified"] is True
    code, again = await follow(link)
    assert code == 422 and "already used" in again["message"]

    code, other = await api("POST", "/me/emails", {"address": "alice.home@example.org"})
    (late,) = LINK.findall((await mail_to(smtp, "alice.home@example.org")).text)
    with backend.db.transaction() as session:  # a day goes by
        session.execute(
            update(EmailToken)
            .where(EmailToken.email_id == other["id"])
            .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        )
    code, expired = await follow(late)
    assert code in (404, 410, 422) and "expired" in expired["message"]
    code, listed = await api("GET", "/me/emails")
    assert [e["verified"] for e in listed] == [True, True, False]


async def test_an_invitation_mail_leads_to_the_invitation(
    api_as, make_user, backend, smtp, jp_serverapp
) -> None:
    ann = make_user("ann", admin=True)
    dave = make_user("dave")
    teams.create_team(backend, ann, "lab", "work", "acme")
    code, invitation = await api_as(ann)(
        "POST", "/teams/lab/invitations", {"email": "dave@example.org", "role": "member"}
    )
    assert code == 201 and invitation["mail"]["queued"] is True
    jsonschema.validate(invitation, schemas.INVITATION_SENT)
    mail = await mail_to(smtp, "dave@example.org")
    assert "lab" in str(mail.message["Subject"])
    links = LINK.findall(mail.text)
    (mine,) = [link for link in links if link.endswith("/labdeck/api/me/invitations")]
    dave_key = api_as(dave).key
    code, pending = await follow(mine, dave_key)
    assert code == 200 and [p["id"] for p in pending] == [invitation["id"]]
    code, accepted = await api_as(dave)("POST", f"/invitations/{invitation['id']}/accept")
    assert code == 200
    assert "dave" in [m["username"] for m in members.list_members(backend, ann, "lab")["items"]]


async def test_rules_over_rest_and_failed_deliveries_for_admins(
    api_as, make_user, backend, smtp, jp_serverapp
) -> None:
    root = make_user("root", admin=True)
    bob = make_user("bob")
    api = api_as(bob)
    body = {"key_pattern": "gpu.*.temp", "comparison": ">", "value": 85, "duration_s": 60}
    code, rule = await api("POST", "/me/alert-rules", body)
    assert code == 201 and rule["channels"] == ["email"]
    code, err = await api("POST", "/me/alert-rules", {**body, "comparison": "~"})
    assert code == 422 and err["field"] == "comparison"
    code, changed = await api("PATCH", f"/me/alert-rules/{rule['id']}", {"value": 90})
    assert code == 200 and changed["value"] == 90
    code, listed = await api("GET", "/me/alert-rules")
    assert [r["value"] for r in listed] == [90]
    code, _ = await api_as(root)("DELETE", f"/me/alert-rules/{rule['id']}")
    assert code == 404, "another person's rule does not exist for them"
    code, _ = await api("DELETE", f"/me/alert-rules/{rule['id']}")
    assert code == 204
    # A recipient the SMTP server refuses: failed for good, and admins see why.
    smtp.inbox.refuse.add("bob@example.org")
    code, _ = await api("POST", "/alerts", {"title": "hello"})
    assert code == 201
    deadline = time.monotonic() + 60
    seen: dict[str, Any] = {"deliveries": []}
    while not seen["deliveries"] and time.monotonic() < deadline:
        code, seen = await api_as(root)("GET", "/system/deliveries")
        await asyncio.sleep(0.2)
    (failed,) = seen["deliveries"]
    assert failed["state"] == "failed" and "550" in failed["last_error"]
    assert seen["smtp_configured"] is True
    code, _ = await api("GET", "/system/deliveries")
    assert code == 403


async def test_a_rest_kernel_raises_its_idle_alert(
    api_as, make_user, backend, jp_serverapp
) -> None:
    from labdeck.backend.services import projects, runs

    bob, eve = make_user("bob"), make_user("eve")
    projects.create_project(backend, bob, "bob", "p")
    run_id = runs.create_run(backend, bob, "bob", "p")["id"]
    body = {"idle_s": 1800, "notebook": "train.ipynb", "kernel_id": "k1", "cpu_percent": 0.2}
    code, err = await api_as(eve)("POST", f"/runs/{run_id}/idle-alert", body)
    assert code == 404
    code, err = await api_as(bob)(
        "POST", f"/runs/{run_id}/idle-alert", {**body, "cpu_percent": "x"}
    )
    assert code == 422 and err["field"] == "cpu_percent"
    code, raised = await api_as(bob)("POST", f"/runs/{run_id}/idle-alert", body)
    assert code == 201 and "Notebook: train.ipynb" in raised["text"]
    assert "No cell has run for 30 min" in raised["text"] and "0.2 % CPU" in raised["text"]


async def test_a_rest_kernel_ends_with_its_error_line_and_sees_its_marks(
    backend, make_user, jp_fetch, jp_http_port, jp_base_url, labdeck_backend
) -> None:
    """What a client-mode kernel sends (`labdeck.client.rest.RestClient`):
    the crash's error line, an idle alert, and the chart's marks back."""
    from sqlalchemy import select

    from labdeck.backend.models import Alert
    from labdeck.backend.services import alert_rules, apikeys
    from labdeck.client.rest import RestClient

    alice = make_user("alice")
    key = apikeys.create_key(backend, alice, "kernel")["secret"]
    client = RestClient(
        f"http://127.0.0.1:{jp_http_port}{jp_base_url}", f"Bearer {key}", timeout=60
    )
    alert_rules.create_my_rule(
        backend, alice, {"key_pattern": "cpu", "comparison": ">", "value": 50}
    )

    def life() -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
        run = client.create_run("alice", client.ensure_project("exp")["name"])
        client.write_samples(run["id"], [{"t": 1.0, "values": {"cpu": 90.0}}])
        marks = client.list_alert_marks(run["id"])
        idle = client.raise_idle_alert(run["id"], idle_s=600, notebook="a.ipynb", kernel_id="k")
        client.end_run(run["id"], "crashed", error="Traceback…\nKeyError: 'lr'\n")
        return run["id"], marks, idle

    run_id, marks, idle = await asyncio.to_thread(life)
    assert [(m["kind"], m["key"]) for m in marks] == [("breach", "cpu")]
    assert "Notebook: a.ipynb" in idle["text"]
    with backend.db.reader() as session:
        crash = session.scalar(
            select(Alert).where(Alert.run_id == run_id, Alert.event == "run_crashed")
        )
    assert crash is not None and "Last error: KeyError: 'lr'" in crash.text
