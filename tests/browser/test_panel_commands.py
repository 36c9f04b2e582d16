"""Issue 12: the command "labdeck: Open my settings", run from JupyterLab's
command palette in a real browser, brings the labdeck panel back into view
and shows its Me tab, whichever tab was shown before and whatever the left
sidebar showed. Reuses the lab-driving helpers of test_panel.py."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from test_panel import (
    PANEL,
    no_page_errors,
    open_lab,
    open_panel,
    owner,  # noqa: F401 (the module-scoped fixture)
    run_command,
    section,
    tab,
)


def _selected(page: Page, name: str) -> None:
    expect(page.locator(f"{PANEL} [role=tab][aria-selected=true]")).to_have_text(name)


def test_open_my_settings_shows_the_panels_me_tab(
    page: Page,
    lab: dict[str, str],
    owner: str,  # noqa: F811
) -> None:
    check_errors = no_page_errors(page)
    open_lab(page, lab)
    open_panel(page)
    runs = tab(page, "Runs")
    _selected(page, "Runs")
    expect(runs).to_have_id("jp-labdeck-tabpanel-runs")

    # Another sidebar panel takes the left area: labdeck's is hidden.
    page.locator(".jp-SideBar.jp-mod-left [data-id=filebrowser]").click()
    expect(page.locator("#filebrowser")).to_be_visible()
    expect(page.locator(PANEL)).to_be_hidden()

    run_command(page, "labdeck: Open my settings")
    expect(page.locator(PANEL)).to_be_visible()
    _selected(page, "Me")
    shown = page.locator(f"{PANEL} [role=tabpanel]:not([hidden])")
    expect(shown).to_have_count(1)
    expect(shown).to_have_id("jp-labdeck-tabpanel-me")
    profile = section(page, "Profile")
    expect(profile.get_by_label("Name", exact=True)).to_be_visible()
    expect(profile.get_by_text(owner, exact=True)).to_be_visible()
    expect(page.locator(f"{PANEL} #jp-labdeck-tabpanel-runs")).to_be_hidden()

    # From the Teams tab, with the panel already in view, too.
    tab(page, "Teams")
    _selected(page, "Teams")
    run_command(page, "labdeck: Open my settings")
    _selected(page, "Me")
    expect(profile.get_by_label("Name", exact=True)).to_be_visible()
    check_errors()
