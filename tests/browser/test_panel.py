"""The labdeck sidebar panel, status bar item and commands (F-UI-3, F-UI-8) in
a real JupyterLab, under the server's default authentication (its token; the
panel uses the browser session, never an API key).

Other accounts (an invitee with an API key, another team's admin) are made
with the `labdeck` command line, as an operator would, and act through the
REST API with their keys. A screenshot of every view goes to
tests/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

SCREENSHOTS = Path(__file__).parent.parent / "screenshots"
LABDECK_CLI = Path(sys.executable).parent / "labdeck"
PANEL = "#labdeck-panel"


# -- the REST API and the command line, as other people use them ---------------


def api(
    lab: dict[str, str], method: str, path: str, body: Any = None, *, key: str | None = None
) -> tuple[int, Any]:
    """Call the REST API as the server's owner (its token) or as a key's owner."""
    auth = f"Bearer {key}" if key else f"token {lab['token']}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{lab['url']}/labdeck/api{path}",
        data=data,
        method=method,
        headers={"Authorization": auth, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def cli(lab: dict[str, str], *args: str) -> str:
    env = {**os.environ, "LABDECK_DATABASE_URL": lab["database_url"]}
    done = subprocess.run(
        [str(LABDECK_CLI), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def account_with_key(lab: dict[str, str], name: str, *, admin: bool = False) -> str:
    """An account made by the operator, with a verified email; its new API key."""
    cli(lab, "user", "create", name, "--email", f"{name}@example.org", *(["--admin"] * admin))
    found = re.search(r"ldk_\S+", cli(lab, "key", "create", name))
    assert found, "the CLI prints the new key"
    return found.group(0)


# -- driving JupyterLab --------------------------------------------------------


@pytest.fixture(scope="module")
def owner(lab: dict[str, str]) -> str:
    """The server's owner signs in first (on a fresh database: an admin account)."""
    code, me = api(lab, "GET", "/me")
    assert code == 200 and me["account_type"] == "admin", me
    return str(me["username"])


def open_lab(page: Page, lab: dict[str, str], notebook: str | None = None) -> None:
    """JupyterLab in a workspace of this test's own (a fresh layout, which
    leaves the default workspace to the other browser tests)."""
    page.set_default_timeout(60_000)
    page.set_viewport_size({"width": 1500, "height": 1000})
    path = f"lab/workspaces/panel-{uuid.uuid4().hex[:8]}"
    if notebook is not None:
        path += f"/tree/{notebook}"
    page.goto(f"{lab['url']}/{path}?token={lab['token']}")
    page.wait_for_selector("#jupyterlab-splash", state="detached")


def run_command(page: Page, label: str) -> None:
    """Run a command from the command palette, by its label. Just after a
    load the shortcut may not be bound yet, or the layout being restored may
    take the focus (and close the palette): then try again."""
    search = page.locator(".lm-CommandPalette-input")
    active = page.locator(".lm-CommandPalette-item.lm-mod-active")
    for attempt in range(6):
        try:
            if not search.is_visible():
                page.keyboard.press("Control+Shift+C")
            search.fill(label, timeout=3000)
            expect(active).to_have_text(re.compile(re.escape(label)), timeout=3000)
            page.keyboard.press("Enter")
            return
        except (AssertionError, PlaywrightError):
            if attempt == 5:
                raise
            page.keyboard.press("Escape")
            page.wait_for_timeout(500)


def open_panel(page: Page) -> Locator:
    run_command(page, "labdeck: Open panel")
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    widen_sidebar(page)
    return panel


def widen_sidebar(page: Page, width: int = 470) -> None:
    """Drag the left sidebar's edge so that the member table fits."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    panel = page.locator(PANEL).bounding_box()
    assert box is not None and panel is not None
    if abs(panel["width"] - width) < 10:
        return
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(panel["x"] + width, y, steps=5)
    page.mouse.up()


def tab(page: Page, name: str) -> Locator:
    page.locator(f"{PANEL} [role=tab]", has_text=name).click()
    panel = page.locator(f"{PANEL} [role=tabpanel]:not([hidden])")
    expect(panel).to_be_visible()
    return panel


def section(page: Page, title: str) -> Locator:
    return page.locator(f"{PANEL} section.jp-labdeck-section").filter(
        has=page.locator("h3", has_text=re.compile(f"^{re.escape(title)}$"))
    )


def shoot(page: Page, name: str, target: Locator | None = None) -> Path:
    """A screenshot of the whole lab, or of one part scrolled into view."""
    path = SCREENSHOTS / f"{name}.png"
    if target is None:
        page.screenshot(path=str(path))
    else:
        target.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(200)
        page.locator(PANEL).screenshot(path=str(path))
    return path


def no_page_errors(page: Page) -> Callable[[], None]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def check() -> None:
        assert not errors, errors

    return check


# -- Me -------------------------------------------------------------------------


def test_me_tab_profile_emails_keys(
    page: Page, lab: dict[str, str], owner: str, tmp_path: Path
) -> None:
    check_errors = no_page_errors(page)
    open_lab(page, lab)
    # A workspace's first start shows the panel by itself, at the sidebar's width.
    expect(page.locator(PANEL)).to_be_visible()
    expect(section(page, "Profile").get_by_label("Name", exact=True)).to_be_visible()
    shoot(page, "panel-default-width")
    panel = open_panel(page)
    me = tab(page, "Me")
    profile = section(page, "Profile")
    expect(profile.get_by_label("Name", exact=True)).to_be_visible()
    expect(profile.get_by_text(owner, exact=True)).to_be_visible()
    shoot(page, "panel-open")
    shoot(page, "me-profile", profile)

    # The server refuses a bad website: its message shows at the field, and
    # what was typed stays.
    profile.get_by_label("Name", exact=True).fill("Browser Tester")
    profile.get_by_label("Institution", exact=True).fill("Test Lab <b>not bold</b>")
    profile.get_by_label("Website", exact=True).fill("ftp://example.org")
    profile.get_by_role("button", name="Save profile").click()
    refusal = profile.locator(".jp-labdeck-field-error")
    expect(refusal).to_contain_text("http")
    expect(profile.get_by_label("Website", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(profile.get_by_label("Name", exact=True)).to_have_value("Browser Tester")
    shoot(page, "me-profile-refused", profile)
    profile.get_by_label("Website", exact=True).fill("https://example.org/lab")
    profile.get_by_role("button", name="Save profile").click()
    expect(profile.get_by_role("status")).to_have_text("Saved")
    assert api(lab, "GET", "/me")[1]["name"] == "Browser Tester"

    # A profile image: uploaded from the panel, re-encoded by the server, shown.
    picture = tmp_path / "me.png"
    Image.new("RGB", (300, 200), (30, 120, 200)).save(picture)
    profile.get_by_label("Upload a profile image", exact=True).set_input_files(str(picture))
    expect(profile.locator("img.jp-labdeck-avatar")).to_be_visible()
    assert api(lab, "GET", "/me")[1]["avatar_url"], "the server keeps the image"
    shoot(page, "me-profile-image", profile)

    # After a reload the profile is what the server kept; typed text is text.
    page.reload()
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    open_panel(page)
    profile = section(page, "Profile")
    expect(profile.get_by_label("Name", exact=True)).to_have_value("Browser Tester")
    institution = profile.get_by_label("Institution", exact=True)
    expect(institution).to_have_value("Test Lab <b>not bold</b>")
    expect(profile.get_by_label("Website", exact=True)).to_have_value("https://example.org/lab")
    assert panel.locator("b", has_text="not bold").count() == 0

    # Keyboard: the tabs move with the arrow keys.
    page.locator(f"{PANEL} [role=tab]", has_text="Me").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator(f"{PANEL} [role=tab][aria-selected=true]")).to_have_text("Teams")
    page.keyboard.press("ArrowLeft")
    expect(page.locator(f"{PANEL} [role=tab][aria-selected=true]")).to_have_text("Me")

    # Add an email: listed, marked unverified (the link was mailed, not opened).
    emails = section(page, "Emails")
    emails.get_by_label("Add an email", exact=True).fill("browser.tester@example.org")
    emails.get_by_role("button", name="Add", exact=True).click()
    row = emails.locator("[data-email='browser.tester@example.org']")
    expect(row.locator(".jp-labdeck-badge.jp-mod-unverified")).to_have_text("unverified")
    color = row.locator(".jp-mod-unverified").evaluate("e => getComputedStyle(e).color")
    error_color = page.evaluate(
        "() => getComputedStyle(document.body).getPropertyValue('--jp-error-color1').trim()"
    )
    assert color == page.evaluate(
        "c => { const d = document.createElement('div'); d.style.color = c;"
        " document.body.appendChild(d); const v = getComputedStyle(d).color; d.remove();"
        " return v; }",
        error_color,
    ), "unverified is shown in the theme's error (red) colour"
    expect(row.locator(".jp-mod-primary")).to_have_text("primary")  # the first one is
    # A second address; making an unverified one primary is refused, with the
    # server's reason next to it.
    emails.get_by_label("Add an email", exact=True).fill("second@example.org")
    emails.get_by_role("button", name="Add", exact=True).click()
    second = emails.locator("[data-email='second@example.org']")
    expect(second.locator(".jp-mod-unverified")).to_have_text("unverified")
    expect(emails.get_by_label("Add an email", exact=True)).to_have_value("")
    second.get_by_role("button", name=re.compile("Make .* primary")).click()
    expect(second.locator(".jp-labdeck-error")).to_contain_text("verif")
    shoot(page, "me-emails", emails)

    # Create an API key: the secret shows once, with a copy button.
    keys = section(page, "API keys")
    keys.get_by_label("New key's name", exact=True).fill("browser test")
    keys.get_by_role("button", name="Create key").click()
    secret = keys.locator(".jp-labdeck-secret-value")
    expect(secret).to_have_text(re.compile(r"^ldk_"))
    key = secret.inner_text()
    expect(keys.get_by_role("button", name="Copy")).to_be_visible()
    shoot(page, "me-api-key-once", keys)
    code, me = api(lab, "GET", "/me", key=key)
    assert code == 200 and me["username"] == owner, "the key shown is a working key"
    prefix = key[: len(api(lab, "GET", "/me/api-keys")[1][-1]["prefix"])]
    keys.get_by_role("button", name="Done").click()
    expect(secret).to_have_count(0)
    page.reload()
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    open_panel(page)
    keys = section(page, "API keys")
    expect(keys.get_by_text(f"{prefix}…")).to_be_visible()
    assert key not in page.content(), "the secret is never shown again"

    for title, name in (
        ("Beta features", "me-beta-features"),
        ("Alerts", "me-alerts"),
        ("GitHub", "me-github"),
        ("Storage", "me-storage"),
        ("Delete account", "me-delete-account"),
    ):
        part = section(page, title)
        expect(part.locator(".jp-labdeck-loading")).to_have_count(0)
        expect(part.locator(".jp-labdeck-error")).to_have_count(0)
        shoot(page, name, part)
    expect(section(page, "Storage").get_by_role("progressbar")).to_be_visible()
    # Turning Slack on without a webhook is refused with the server's reason.
    alerts = section(page, "Alerts")
    alerts.get_by_label("Run finished by Slack", exact=True).check()
    alerts.get_by_role("button", name="Save alerts").click()
    expect(alerts.locator(".jp-labdeck-field-error")).to_contain_text("webhook")
    expect(alerts.get_by_label("Run finished by Slack", exact=True)).to_be_checked()
    # Deleting the account needs the user name typed.
    delete = section(page, "Delete account")
    expect(delete.get_by_role("button", name="Delete my account")).to_be_disabled()
    assert me is not None
    check_errors()


# -- Teams ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def invitee(lab: dict[str, str], owner: str) -> str:
    return account_with_key(lab, "invitee")


def test_teams_create_invite_roles_and_last_admin(
    page: Page, lab: dict[str, str], owner: str, invitee: str
) -> None:
    check_errors = no_page_errors(page)
    open_lab(page, lab)
    open_panel(page)
    teams = tab(page, "Teams")
    shoot(page, "teams-empty", teams)

    create = section(page, "Create a team")
    create.get_by_label("Team name", exact=True).fill("panel-team")
    create.get_by_label("Organization", exact=True).fill("panel-org")
    create.get_by_label("Type", exact=True).select_option("academic")
    create.get_by_role("button", name="Create team").click()
    team = page.locator(f"{PANEL} [data-view=team][data-team='panel-team']")
    expect(team.locator("h2")).to_have_text("panel-team")
    assert api(lab, "GET", "/teams/panel-team")[1]["type"] == "academic"
    members = section(page, "Members")
    expect(members.locator(".jp-labdeck-warning")).to_contain_text("only one admin")

    # Invite the second user, who accepts through the API with their key.
    members.get_by_label("Email", exact=True).fill("invitee@example.org")
    members.get_by_label("Role", exact=True).select_option("member")
    members.get_by_role("button", name="Send invitation").click()
    pending = members.locator("[data-invitation='invitee@example.org']")
    expect(pending).to_contain_text("pending")
    shoot(page, "team-invited", members)
    code, mine = api(lab, "GET", "/me/invitations", key=invitee)
    assert code == 200 and [i["team"] for i in mine] == ["panel-team"]
    code, accepted = api(lab, "POST", f"/invitations/{mine[0]['id']}/accept", key=invitee)
    assert code == 200 and accepted["state"] == "accepted"

    run_command(page, "labdeck: Refresh panel")
    row = section(page, "Members").locator("[data-member='invitee']")
    expect(row).to_contain_text("invitee@example.org")
    role = row.get_by_label("Role of invitee", exact=True)
    expect(role).to_have_value("member")

    # Change the invitee's role; the server has it.
    role.select_option("view_only")
    expect(row.locator(".jp-labdeck-error")).to_have_count(0)

    def invitee_role() -> str:
        page_ = api(lab, "GET", "/teams/panel-team/members")[1]
        return next(m["role"] for m in page_["items"] if m["username"] == "invitee")

    deadline = time.time() + 20
    while invitee_role() != "view_only" and time.time() < deadline:
        time.sleep(0.3)
    assert invitee_role() == "view_only"

    # Demoting the last admin (myself) is refused: the server's reason shows
    # next to that control, and the team still has its admin.
    mine_row = section(page, "Members").locator(f"[data-member='{owner}']")
    mine_row.get_by_label(f"Role of {owner}", exact=True).select_option("member")
    refusal = mine_row.locator(".jp-labdeck-error")
    expect(refusal).to_contain_text("last admin")
    members_now = api(lab, "GET", "/teams/panel-team/members")[1]["items"]
    assert {m["username"]: m["role"] for m in members_now}[owner] == "admin"
    shoot(page, "team-members-last-admin-refused", section(page, "Members"))

    # The other team views, as the team's admin sees them.
    profile = section(page, "Team profile")
    profile.get_by_role("button", name="Edit profile").click()
    profile.get_by_label("Introduction (Markdown)", exact=True).fill(
        '**Welcome** to the panel team.\n\n<img src=x onerror="window.pwned=1">'
        "<script>window.pwned=2</script>"
    )
    profile.get_by_role("button", name="Add a link").click()
    profile.get_by_label("Title", exact=True).fill("Handbook")
    profile.get_by_label("URL", exact=True).fill("https://example.org/handbook")
    profile.get_by_role("button", name="Save profile").click()
    intro = profile.locator(".jp-labdeck-markdown")
    expect(intro.locator("strong")).to_have_text("Welcome")
    expect(profile.get_by_role("link", name="Handbook")).to_have_attribute(
        "href", "https://example.org/handbook"
    )
    assert intro.locator("script").count() == 0
    assert intro.locator("img[onerror]").count() == 0
    assert page.evaluate("() => window.pwned") is None, "the sanitizer dropped the handlers"
    shoot(page, "team-profile", profile)

    roles = section(page, "Custom roles of panel-org")
    roles.get_by_text("Define a custom role").click()
    roles.get_by_label("Role name", exact=True).fill("inviter")
    roles.get_by_label("invite members", exact=True).check()
    roles.get_by_role("button", name="Create role").click()
    expect(roles.get_by_text("also may: invite members")).to_be_visible()
    shoot(page, "team-custom-roles", roles)

    accounts = section(page, "Service accounts")
    accounts.get_by_label("New service account", exact=True).fill("ci-bot")
    accounts.get_by_role("button", name="Create", exact=True).click()
    expect(accounts.locator(".jp-labdeck-secret-value")).to_have_text(re.compile(r"^ldk_"))
    shoot(page, "team-service-accounts", accounts)

    privacy = section(page, "Privacy")
    privacy.get_by_label("Make every project of the team private").check()
    privacy.get_by_role("button", name="Save privacy").click()
    expect(privacy.get_by_role("status")).to_have_text("Saved")
    assert api(lab, "GET", "/teams/panel-team/settings")[1]["force_private"] is True
    shoot(page, "team-privacy", privacy)
    shoot(page, "team-alerts", section(page, "Team alerts"))
    storage = section(page, "Storage connector")
    storage.get_by_label("Storage URL", exact=True).fill("nowhere://bucket")
    storage.get_by_role("button", name="Save storage").click()
    expect(storage.locator(".jp-labdeck-field-error, .jp-labdeck-error").first).to_be_visible()
    expect(storage.get_by_label("Storage URL", exact=True)).to_have_value("nowhere://bucket")
    shoot(page, "team-storage-connector", storage)
    usage = section(page, "Usage")
    expect(usage.get_by_role("progressbar")).to_be_visible()
    with page.expect_download() as exported:
        usage.get_by_role("button", name="Export the team's data").click()
    assert exported.value.suggested_filename == "labdeck-team-panel-team.zip"
    assert zipfile.is_zipfile(exported.value.path())
    shoot(page, "team-usage", usage)
    shoot(page, "team-avatar", page.locator(f"{PANEL} .jp-labdeck-team-head"))

    # The team list, with the invitations addressed to me.
    page.get_by_role("button", name="Back to my teams").click()
    expect(section(page, "My teams").locator("[data-team='panel-team']")).to_be_visible()
    shoot(page, "teams-list", page.locator(f"{PANEL} [data-view=teams]"))
    check_errors()


def test_view_only_member_sees_no_invite_control(
    page: Page, lab: dict[str, str], owner: str
) -> None:
    carol = account_with_key(lab, "carol", admin=True)
    team = {"name": "view-team", "type": "work", "organization": "vo-org"}
    code, _ = api(lab, "POST", "/teams", team, key=carol)
    assert code == 201
    code, _ = api(
        lab, "POST", "/teams/view-team/members", {"username": owner, "role": "view_only"}, key=carol
    )
    assert code == 201
    open_lab(page, lab)
    open_panel(page)
    tab(page, "Teams")
    page.get_by_role("button", name="Open team view-team").click()
    team = page.locator(f"{PANEL} [data-view=team][data-team='view-team']")
    members = section(page, "Members")
    expect(members.locator("[data-member='carol']")).to_be_visible()
    expect(team).to_contain_text("you are View-only")
    # No invite form, no role selector, no remove button, no admin sections.
    expect(page.locator(f"{PANEL} form[aria-label='Invite to view-team']")).to_have_count(0)
    expect(members.locator("select")).to_have_count(0)
    expect(members.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    for admin_only in ("Service accounts", "Privacy", "Usage"):
        expect(section(page, admin_only)).to_have_count(0)
    shoot(page, "team-view-only", team)


# -- Runs, status bar and commands ---------------------------------------------


@pytest.fixture
def notebook(lab: dict[str, str]) -> Iterator[str]:
    name = f"monitored-{int(time.time() * 1000)}.ipynb"
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "source": "block = bytearray(400 * 2**20)\nsum(i * i for i in range(3_000_000))",
            "outputs": [],
            "execution_count": None,
        }
    ]
    content = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    request = urllib.request.Request(
        f"{lab['url']}/api/contents/{name}",
        data=json.dumps({"type": "notebook", "content": content}).encode(),
        method="PUT",
        headers={"Authorization": f"token {lab['token']}"},
    )
    urllib.request.urlopen(request, timeout=30).close()
    yield name


def status_item(page: Page) -> Locator:
    return page.locator(".jp-labdeck-status-button")


def test_monitoring_from_the_palette_status_bar_and_runs(
    page: Page, lab: dict[str, str], owner: str, notebook: str
) -> None:
    check_errors = no_page_errors(page)
    open_lab(page, lab, notebook)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=120_000
    )
    expect(status_item(page)).to_have_count(0)

    page.locator(".jp-Notebook").first.click()
    run_command(page, "labdeck: Start monitoring this kernel")
    item = status_item(page)
    expect(item).to_be_visible(timeout=60_000)
    expect(item).to_contain_text("running")
    figures = item.locator("[data-figures]")
    expect(figures).to_contain_text(re.compile(r"CPU \d"))
    expect(figures).to_contain_text(re.compile(r"Mem \d"))
    first = figures.inner_text()
    run_name = item.locator(".jp-labdeck-status-run").inner_text()

    # A cell that takes memory and CPU: the figures follow.
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")
    expect(figures).not_to_have_text(first, timeout=60_000)
    shoot(page, "status-bar")
    page.locator(".jp-StatusBar-Widget, #jp-main-statusbar").first.screenshot(
        path=str(SCREENSHOTS / "status-bar-item.png")
    )

    # The status bar opens the run in the panel: chart with the cell's band.
    item.click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    widen_sidebar(page)
    run_view = panel.locator("[data-view=run]")
    expect(run_view.locator("h3")).to_have_text(run_name)
    plot = run_view.locator(".js-plotly-plot .main-svg").first
    expect(plot).to_be_visible(timeout=60_000)
    expect(run_view.locator(".scatterlayer .trace").first).to_be_attached()
    # Each recorded cell marker is a band labelled with its execution count.
    run_id = run_view.get_attribute("data-run")
    code, markers = api(lab, "GET", f"/runs/{run_id}/markers")
    assert code == 200 and markers, "the executed cell was recorded"
    label = f"[{markers[0]['execution_count']}]"
    expect(run_view.locator(".annotation-text", has_text=label)).to_be_attached(timeout=30_000)
    expect(run_view.locator(".shapelayer path").first).to_be_attached()
    tick_texts = run_view.locator(".xtick text").all_text_contents()
    assert tick_texts and all(float(t.replace("−", "-")) < 10_000 for t in tick_texts), (
        "the x axis is elapsed time, not epoch seconds",
        tick_texts,
    )
    expect(run_view.get_by_text(re.compile(r"elapsed \((seconds|minutes)\)"))).to_be_attached()
    page.wait_for_timeout(500)
    shoot(page, "runs-chart", run_view)
    with page.expect_download() as exported:
        run_view.get_by_role("button", name="Export CSV").click()
    assert exported.value.suggested_filename == f"{run_id}-metrics.csv"
    header = Path(exported.value.path()).read_text().splitlines()[0]
    assert header.startswith("t,") and "cpu" in header

    run_view.page.get_by_role("button", name="Back to the runs").click()
    runs = panel.locator("[data-view=runs]")
    row = runs.locator("tr", has_text=run_name)
    expect(row.locator(".jp-labdeck-state")).to_have_text("running")
    shoot(page, "runs-list", runs)

    run_command(page, "labdeck: Stop monitoring this kernel")
    expect(status_item(page)).to_have_count(0, timeout=60_000)
    expect(row.locator(".jp-labdeck-state")).to_have_text("finished", timeout=30_000)

    # A second run, then both overlaid from their starts.
    page.locator(".jp-Notebook").first.click()
    run_command(page, "labdeck: Start monitoring this kernel")
    expect(status_item(page)).to_be_visible(timeout=60_000)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_timeout(3000)
    run_command(page, "labdeck: Stop monitoring this kernel")
    expect(status_item(page)).to_have_count(0, timeout=60_000)
    run_command(page, "labdeck: Refresh panel")
    tab(page, "Runs")
    runs = panel.locator("[data-view=runs]")
    expect(runs.locator("tbody tr")).to_have_count(2, timeout=30_000)
    for checkbox in runs.get_by_role("checkbox").all()[:2]:
        checkbox.check()
    runs.get_by_role("button", name=re.compile("Compare")).click()
    compare = panel.locator("[data-view=compare]")
    expect(compare.locator(".js-plotly-plot .main-svg").first).to_be_visible(timeout=60_000)
    expect(compare.locator(".scatterlayer .trace")).to_have_count(2)
    page.wait_for_timeout(500)
    shoot(page, "runs-compare", compare)

    # The panel's settings are the Settings Editor's to edit.
    code, schema = 0, None
    request = urllib.request.Request(
        f"{lab['url']}/lab/api/settings/labdeck:plugin",
        headers={"Authorization": f"token {lab['token']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        code, schema = response.status, json.loads(response.read())
    assert code == 200
    assert set(schema["schema"]["properties"]) == {"refreshInterval", "defaultProject"}
    assert schema["schema"]["properties"]["refreshInterval"]["default"] == 1, "the lab's override"
    check_errors()


def test_dark_theme(page: Page, lab: dict[str, str], owner: str) -> None:
    # A run of its own (the command line's monitor), so the chart has data.
    env = {**os.environ, "LABDECK_DATABASE_URL": lab["database_url"], "JUPYTERHUB_USER": owner}
    burn = "import time; t = time.time()\nwhile time.time() - t < 4: sum(range(10**5))"
    subprocess.run(
        [str(LABDECK_CLI), "monitor", "--project", "dark-demo", "--interval", "0.5", "--"]
        + [sys.executable, "-c", burn],
        env=env,
        check=True,
        timeout=120,
    )
    open_lab(page, lab)
    run_command(page, "Use Theme: JupyterLab Dark")
    expect(page.locator("body[data-jp-theme-light='false']")).to_be_attached(timeout=30_000)
    panel = open_panel(page)
    tab(page, "Me")
    expect(section(page, "Profile").get_by_label("Name", exact=True)).to_be_visible()
    background = panel.evaluate("e => getComputedStyle(e).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert sum(channels) / 3 < 80, f"the panel follows the dark theme: {background}"
    page.wait_for_timeout(300)
    shoot(page, "dark-me")
    tab(page, "Runs")
    runs = panel.locator("[data-view=runs]")
    runs.get_by_label("Project", exact=True).select_option("dark-demo")
    expect(runs.locator("tbody tr").first).to_be_visible()
    runs.get_by_role("button", name=re.compile("^Open run")).first.click()
    expect(panel.locator("[data-view=run] .js-plotly-plot .main-svg").first).to_be_visible()
    page.wait_for_timeout(500)
    shoot(page, "dark-runs-chart", panel.locator("[data-view=run]"))
    # Back to the light theme for whatever runs next in this lab.
    run_command(page, "Use Theme: JupyterLab Light")
    expect(page.locator("body[data-jp-theme-light='true']")).to_be_attached(timeout=30_000)
