"""The dashboard's messages page: an admin words an SMS in Finnish, sees the preview
and its length change as they type (UCS-2 once an emoji is in), is told what is
wrong with a bad template, saves it and restores the default."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def test_an_admin_words_an_sms_with_a_live_preview(
    org: Any, new_page: Any, sign_in: Any, axe: Any
) -> None:
    page = new_page(1280, 900)
    sign_in(page, org.emails["admin"], "/dashboard/messages")
    preview, length = page.locator("#messages-preview"), page.locator("#messages-length")
    expect(preview).to_contain_text("ORD-1042")  # the sample order
    page.select_option("#messages-channel", "sms")
    page.fill("#messages-language", "fi")
    page.press("#messages-language", "Tab")  # the language is taken when it is left
    expect(preview).to_contain_text("toimitus ORD-1042 aikataulutettu")
    expect(length).to_contain_text("1 SMS · GSM-7")
    expect(page.locator("#messages-subject-row")).to_be_hidden()

    body = page.locator("#messages-body")
    body.fill("{{ order_reference }} tulossa 🚚")
    expect(preview).to_have_text("ORD-1042 tulossa 🚚")
    expect(length).to_contain_text("UCS-2")
    expect(length).to_contain_text("🚚")
    body.fill("Hei {{ asiakas }}")
    expect(page.locator("#messages-problems")).to_contain_text("unknown variable 'asiakas'")

    body.fill("Hei {{ customer_name }}, ")
    page.get_by_role("button", name="order_reference").click()  # inserted at the cursor
    expect(preview).to_have_text("Hei Aino Virtanen, ORD-1042")
    expect(page.locator("#messages-problems")).to_be_hidden()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#messages-status")).to_have_text("Saved.")
    expect(page.locator("#messages-source")).to_contain_text("Your wording")
    stored = org.api("admin").get("/message-templates/dispatched/sms/fi").json()
    assert (
        stored["customised"] and stored["body"] == "Hei {{ customer_name }}, {{ order_reference }}"
    )
    assert axe(page) == []

    page.get_by_role("button", name="Restore the default").click()
    expect(page.locator("#messages-status")).to_have_text("The default is used again.")
    expect(preview).to_contain_text("toimitus ORD-1042 aikataulutettu")
    assert not org.api("admin").get("/message-templates/dispatched/sms/fi").json()["customised"]
