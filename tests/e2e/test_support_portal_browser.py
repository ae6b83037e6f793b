"""The signed-out support portal in a real headless Chromium, on the whole platform.

A user fills the form (first with errors), solves the captcha in the page, submits, opens the follow
link from the mail in the catcher's Maildir, answers the question an agent asked over the API, and sees
the agent's solution. Screenshots of the form and the follow page are written to test-output/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, FilePayload, Page, async_playwright, expect

from chorus_common.auth import mint_dev_token
from chorus_testing.fixtures import eventually
from chorus_testing.platform import ROOT, Platform

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-output"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
AGENT = {"authorization": "Bearer " + mint_dev_token("agent-support", [], ["support-agent"])}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


async def agent(
    http: httpx.AsyncClient, platform: Platform, ticket_id: str, action: str, message: str | None = None
) -> None:
    body = {"action": action, **({"message": message} if message else {})}
    response = await http.post(
        platform.url("support-portal") + f"/tickets/{ticket_id}/actions", json=body, headers=AGENT
    )
    assert response.status_code == 200, response.text


async def test_a_signed_out_user_creates_follows_and_answers_a_ticket_in_a_browser(
    platform: Platform, http: httpx.AsyncClient, browser: Browser
):
    email = f"jeanne-{uuid.uuid4().hex[:8]}@example.fr"
    page: Page = await browser.new_page()
    await page.goto(platform.url("support-portal") + "/")
    await expect(page.get_by_role("heading", name="Nous contacter")).to_be_visible()

    # Submitting with missing and wrong fields shows clear errors next to them, keeping what was typed.
    await page.get_by_label("Nom", exact=True).fill("Jeanne Martin")
    await page.get_by_label("Adresse électronique").fill("pas-une-adresse")
    await page.get_by_role("button", name="Envoyer la sollicitation").click()
    await expect(page.locator("#errors")).to_contain_text("Adresse électronique")
    await expect(page.get_by_label("Adresse électronique")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Objet")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Nom", exact=True)).to_have_value("Jeanne Martin")
    await expect(page.locator("#errors")).to_contain_text("Vérification anti-robot")

    await page.get_by_label("Adresse électronique").fill(email)
    await page.get_by_label("Catégorie", exact=True).select_option("COMPTE")
    await page.get_by_label("Sous-catégorie").select_option(label="Connexion")
    await page.get_by_label("Objet").fill("Compte bloqué")
    await page.get_by_label("Description").fill("Mon compte est bloqué depuis ce matin, que faire ?")
    # The captcha: the portal's own ALTCHA widget works out its proof of work in the browser.
    await page.get_by_text("Je ne suis pas un robot", exact=True).click()
    await expect(page.get_by_text("Vérifié", exact=True)).to_be_visible(timeout=30_000)
    await page.screenshot(path=str(SCREENSHOTS / "support-portal-form.png"), full_page=True)
    await page.get_by_role("button", name="Envoyer la sollicitation").click()
    reference = await page.locator("#reference").inner_text()
    assert re.fullmatch(r"SOL-\d{4}-\d{6}", reference)

    [mail] = await eventually(lambda: platform.mails_to(email), within=30)
    assert reference in mail["Subject"]
    follow_link = re.search(r"http://\S+/suivi/\S+", mail.get_content())
    assert follow_link is not None

    todo = await http.get(
        platform.url("support-portal") + "/tickets", params={"list": "to-do", "page_size": 200}, headers=AGENT
    )
    [ticket] = [t for t in todo.json()["items"] if t["reference"] == reference]
    await agent(http, platform, ticket["id"], "PRISE_EN_CHARGE")
    await agent(
        http, platform, ticket["id"], "DEMANDE_COMPLEMENT", "Quel est l'identifiant de votre structure ?"
    )
    await eventually(lambda: len(platform.mails_to(email)) == 2, within=30)

    await page.goto(follow_link.group(0))
    await expect(page.locator("#reference")).to_have_text(reference)
    await expect(page.locator("#status")).to_have_text("Complément demandé")
    await expect(page.get_by_text("Quel est l'identifiant de votre structure ?")).to_be_visible()
    await page.get_by_label("Votre réponse").fill("SIRET 11000000000015")
    await page.get_by_role("button", name="Envoyer la réponse").click()
    await expect(page.locator("#status")).to_have_text("Complément apporté")
    await expect(page.get_by_text("SIRET 11000000000015")).to_be_visible()

    await agent(http, platform, ticket["id"], "PRISE_EN_CHARGE")
    await agent(http, platform, ticket["id"], "PROPOSITION_SOLUTION", "Votre compte est débloqué.")
    await page.reload()
    await expect(page.locator("#status")).to_have_text("Solution proposée")
    await expect(page.get_by_text("Votre compte est débloqué.")).to_be_visible()
    # A screenshot of the error, attached: the agent sees it.
    screenshot_file: FilePayload = {"name": "erreur.png", "mimeType": "image/png", "buffer": PNG}
    await page.get_by_label("Fichier").set_input_files(files=[screenshot_file])
    await page.get_by_role("button", name="Joindre la pièce").click()
    await expect(page.locator("#attachments")).to_contain_text("erreur.png")
    attached = await http.get(
        platform.url("support-portal") + f"/tickets/{ticket['id']}/attachments", headers=AGENT
    )
    assert [a["content_type"] for a in attached.json()] == ["image/png"]
    screenshot = SCREENSHOTS / "support-portal-follow.png"
    image = await page.screenshot(path=str(screenshot), full_page=True)
    assert image.startswith(b"\x89PNG")
    print(f"screenshot: {screenshot}")

    # The solution does not help: the user re-sends the ticket with why, then closes it.
    await page.get_by_label("Pourquoi").fill("Le compte est toujours bloqué.")
    await page.get_by_role("button", name="Renvoyer la sollicitation").click()
    await expect(page.locator("#status")).to_have_text("Renvoyée")
    await page.get_by_role("button", name="Clôturer la sollicitation").click()
    await expect(page.get_by_role("heading", name="Sollicitation clôturée")).to_be_visible()
    closed = await http.get(platform.url("support-portal") + f"/tickets/{ticket['id']}", headers=AGENT)
    assert closed.json()["status"] == "CLOTURE"

    await page.goto(platform.url("support-portal") + "/suivi/" + str(uuid.uuid4()) + ".forged")
    await expect(page.get_by_role("heading", name="Lien invalide")).to_be_visible()
    await page.close()
