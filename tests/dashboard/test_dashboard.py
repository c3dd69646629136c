"""The dashboard in headless Chromium: the list, the filter, pages, an operation's page,
and its buttons."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import google.rpc.status_pb2 as status_pb2
from google.protobuf import any_pb2, struct_pb2, wrappers_pb2
from google.rpc import code_pb2
from playwright.sync_api import expect

import lro
from tests.dashboard.conftest import screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

TIMEOUT_MS = 15_000


def progress(percent: float, stage: str) -> struct_pb2.Struct:
    metadata = struct_pb2.Struct()
    metadata.update({"progress_percent": percent, "stage": stage})
    return metadata


def some_operations(client: lro.Client) -> dict[str, str]:
    """One operation of each status; returns their names by status."""
    done = client.new_operation(metadata=progress(100, "written"))
    done.done(wrappers_pb2.StringValue(value="gs://bucket/export.csv"))
    failed = client.new_operation()
    failed.error(status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message="no access"))
    cancelled = client.new_operation()
    client.cancel_operation(cancelled.name)
    running = client.new_operation(metadata=progress(42.5, "copying"))
    return {
        "done": done.name,
        "failed": failed.name,
        "cancelled": cancelled.name,
        "running": running.name,
    }


def wait_rows(page: Page, count: int) -> None:
    """Wait until the list shows ``count`` rows (the page's CSP forbids evaluated
    strings, so no wait_for_function)."""
    expect(page.locator("#operations tbody tr")).to_have_count(count, timeout=TIMEOUT_MS)


def rows(page: Page) -> dict[str, str]:
    """The list's rows as name -> status."""
    return {
        str(row.get_attribute("data-name")): str(row.get_attribute("data-status"))
        for row in page.locator("#operations tbody tr").all()
    }


def test_the_list_shows_every_operation_with_its_status_and_progress(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    names = some_operations(ui_client)
    page.goto(f"{ui_url}/ui/")
    page.locator("#operations tbody tr").nth(3).wait_for(timeout=TIMEOUT_MS)
    assert rows(page) == {name: status for status, name in names.items()}
    running = page.locator(f'tr[data-name="{names["running"]}"]')
    assert running.locator("td").nth(6).inner_text().strip() == "43%"
    assert running.locator("td").nth(5).inner_text() == "Struct"
    failed = page.locator(f'tr[data-name="{names["failed"]}"]')
    assert failed.locator("td").nth(2).inner_text() == "PERMISSION_DENIED"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", failed.locator("time").first.inner_text()
    )
    screenshot(page, "list")


def test_the_filter_narrows_the_list_and_a_bad_one_says_why(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    names = some_operations(ui_client)
    page.goto(f"{ui_url}/ui/")
    page.locator("#operations tbody tr").nth(3).wait_for(timeout=TIMEOUT_MS)
    page.fill("#filter", "done = false")
    page.click("button[type=submit]")
    wait_rows(page, 1)
    assert rows(page) == {names["running"]: "running"}
    assert "filter=done+%3D+false" in page.url
    page.fill("#filter", "error.code = CANCELLED OR error.code = PERMISSION_DENIED")
    page.click("button[type=submit]")
    wait_rows(page, 2)
    assert set(rows(page)) == {names["cancelled"], names["failed"]}
    page.fill("#filter", "done = maybe")
    page.click("button[type=submit]")
    page.locator("#error").wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#error").inner_text().startswith("INVALID_ARGUMENT")
    wait_rows(page, 0)  # no rows of the previous filter are left
    screenshot(page, "list-bad-filter")


def test_pages_follow_the_page_token_and_the_collection_chooser_lists_a_parent(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    created = [ui_client.new_operation().name for _ in range(53)]
    tenant = ui_client.new_operation(parent="projects/p/locations/l").name
    page.goto(f"{ui_url}/ui/")
    wait_rows(page, 50)
    first_page = list(rows(page))
    page.click("#next")
    wait_rows(page, 3)
    assert first_page + list(rows(page)) == created  # the top-level collection only
    assert page.locator("#next").is_disabled()
    page.click("#previous")
    wait_rows(page, 50)
    assert list(rows(page)) == first_page
    page.fill("#collection", "projects/p/locations/l")
    page.click("button[type=submit]")
    wait_rows(page, 1)
    assert list(rows(page)) == [tenant]
    page.goto(f"{ui_url}/ui/")
    wait_rows(page, 50)
    options = page.locator("#collections option").evaluate_all("els => els.map(e => e.value)")
    assert options == ["operations", "projects/p/locations/l"]  # the collections used


def test_auto_refresh_shows_a_new_operation_without_a_reload(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    page.goto(f"{ui_url}/ui/")
    page.locator("#empty").wait_for(timeout=TIMEOUT_MS)
    name = ui_client.new_operation().name
    page.locator(f'tr[data-name="{name}"]').wait_for(timeout=TIMEOUT_MS)


def test_the_operation_page_shows_metadata_result_state_and_wakeup(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    child = ui_client.new_operation()

    @ui_client.resumable("export", state_type=dict)
    def export(op: lro.Operation[dict[str, int]]) -> None:
        if op.resume_point == "after-child":
            op.done(wrappers_pb2.Int64Value(value=op.state["rows"]))
            return
        op.set_metadata(progress(60, "waiting for the child"))
        op.state = {"rows": 1200}
        op.wait(children=[child.name], timeout=3600, resume_at="after-child")

    parent = ui_client.start("export")
    page.goto(f"{ui_url}/ui/{parent.name}")
    page.get_by_text("after-child").wait_for(timeout=TIMEOUT_MS)
    page.get_by_text('"rows": 1200').wait_for(timeout=TIMEOUT_MS)
    assert '"stage": "waiting for the child"' in page.locator("#metadata").inner_text()
    assert page.locator("#metadata-type").inner_text() == "google.protobuf.Struct"
    assert page.locator("#progress-text").inner_text() == "60%"
    wakeup = page.locator("#wakeup").inner_text()
    assert "handler export" in wakeup
    assert page.locator("#children li").inner_text().split() == ["running", child.name]
    assert page.locator("#status").inner_text() == "running"
    screenshot(page, "operation-waiting")
    child.done()
    page.locator("#status.done").wait_for(timeout=TIMEOUT_MS)  # refreshed by itself
    assert page.locator("#result-title").text_content() == "Response"
    assert '"value": "1200"' in page.locator("#result").inner_text()


def test_an_unknown_response_type_is_shown_opaquely(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    op = ui_client.new_operation()
    secret = any_pb2.Any(type_url="type.googleapis.com/acme.v1.Secret", value=b"\x08\x01")
    op.done(secret)
    page.goto(f"{ui_url}/ui/{op.name}")
    page.locator("#status.done").wait_for(timeout=TIMEOUT_MS)
    result = page.locator("#result").inner_text()
    assert '"@type": "type.googleapis.com/acme.v1.Secret"' in result
    assert '"value": "CAE="' in result
    assert page.locator("#progress-row").is_hidden()  # no progress_percent, no bar
    screenshot(page, "operation-done")


def test_cancel_ends_a_running_operation(page: Page, ui_client: lro.Client, ui_url: str) -> None:
    op = ui_client.new_operation(parent="projects/p", metadata=progress(10, "started"))
    page.goto(f"{ui_url}/ui/{op.name}")
    page.locator("#cancel").click(timeout=TIMEOUT_MS)
    assert "ends with CANCELLED" in page.locator("#confirm-text").inner_text()
    screenshot(page, "operation-cancel-confirm")
    page.locator("#confirm-yes").click()
    page.locator("#status.cancelled").wait_for(timeout=TIMEOUT_MS)
    stored = ui_client.get_operation(op.name)
    assert stored.done
    assert stored.error.code == code_pb2.CANCELLED
    assert page.locator("#cancel").is_hidden()


def test_keep_it_leaves_the_operation_running(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    op = ui_client.new_operation()
    page.goto(f"{ui_url}/ui/{op.name}")
    page.locator("#cancel").click(timeout=TIMEOUT_MS)
    page.get_by_text("Keep it").click()
    page.locator("#confirm").wait_for(state="hidden")
    assert not ui_client.get_operation(op.name).done


def test_delete_removes_the_operation_and_returns_to_the_list(
    page: Page, ui_client: lro.Client, ui_url: str
) -> None:
    op = ui_client.new_operation()
    page.goto(f"{ui_url}/ui/{op.name}")
    page.locator("#delete").click(timeout=TIMEOUT_MS)
    page.locator("#confirm-yes").click()
    page.wait_for_url(f"{ui_url}/ui/", timeout=TIMEOUT_MS)
    page.locator("#empty").wait_for(timeout=TIMEOUT_MS)
    assert ui_client.list_operations()[0] == []


def test_a_missing_operation_says_not_found(page: Page, ui_url: str) -> None:
    page.goto(f"{ui_url}/ui/operations/no-such-operation")
    page.locator("#error").wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#error").inner_text().startswith("NOT_FOUND")
    assert page.locator("#delete").is_hidden()
