"""The authorization matrix: every endpoint of every service, against every kind of caller it must refuse.

Each endpoint is called on a resource that exists and belongs to someone else, with a body the owner
could send; the refused calls must leave every table of every service as it was.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from chorus_testing.directory import attached, registered
from chorus_testing.fixtures import eventually
from chorus_testing.identifiers import new_siret as siret
from chorus_testing.platform import SERVICES, Platform

from .conftest import IdentityProvider, new_id, quiescent_fingerprint

ROOT = Path(__file__).resolve().parents[2]
Expectation = Literal["refused", "empty", "none-processed", "open"]
# Open to anyone by design: operations probes, and the signed-out support pages (their secret is the link).
PUBLIC_PREFIXES = ("/health/", "/metrics", "/asyncapi.json", "/public/", "/.well-known/")
# Chorus Pro's API on the gateway takes its own tokens and technical accounts, not the platform's:
# its callers are checked in the gateway's suite (a token with another structure's account, refused).
GATEWAY_PREFIXES = ("/api/oauth/", "/cpro/")


@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    template: str  # as in the OpenAPI document
    path: str
    body: Any = None
    # What a signed-in caller of an unrelated structure gets: a refusal, an empty list, (a bulk
    # action) every item reported as not found, or (the directory's reads: Chorus Pro's annuaire is
    # public to its users) the resource, read-only.
    unrelated: Expectation = "refused"
    files: dict[str, tuple[str, bytes]] | None = None  # a multipart/form-data body instead of JSON
    # For an "empty" list: structures whose users do see the resource there (else the owner's).
    viewers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.template}"


@dataclass
class Owned:
    """Resources created by their owners, and the matrix of endpoints over them."""

    endpoints: list[Endpoint]
    owner_structures: dict[str, list[str]]
    owner_roles: dict[str, list[str]]
    owner_subs: dict[str, str]


def party(structure_id: str, service_code: str | None = None) -> dict[str, Any]:
    return {
        "structure_id": structure_id,
        "name": f"Nom {structure_id}",
        "email": f"contact-{structure_id.lower()}@example.fr",
        "service_code": service_code,
    }


async def created(http: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any) -> Any:
    response = await http.request(method, url, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


PDF = b"%PDF-1.7\n% a piece\n" + b"0" * 200


async def attached_file(http: httpx.AsyncClient, owner_url: str, headers: dict[str, str]) -> str:
    """The id of a PDF its owner attached to the object at `owner_url`."""
    response = await http.post(
        owner_url + "/attachments", files={"file": ("piece.pdf", PDF)}, headers=headers
    )
    assert response.status_code == 201, response.text
    attachment_id: str = response.json()["id"]
    return attachment_id


def attachment_endpoints(service: str, template: str, path: str, attachment_id: str) -> list[Endpoint]:
    """Attaching to the object, listing and downloading its attachments."""
    return [
        Endpoint(
            service, "POST", f"{template}/attachments", f"{path}/attachments", files={"file": ("x.pdf", PDF)}
        ),
        Endpoint(service, "GET", f"{template}/attachments", f"{path}/attachments"),
        Endpoint(
            service,
            "GET",
            f"{template}/attachments/{{attachment_id}}",
            f"{path}/attachments/{attachment_id}",
        ),
    ]


@pytest.fixture(scope="session")
async def owned(
    secured_platform: Platform, http: httpx.AsyncClient, identity_provider: IdentityProvider
) -> Owned:
    idp, platform = identity_provider, secured_platform
    endpoints: list[Endpoint] = []

    admin = idp.headers("operator", [], ["admin"])

    # invoicing-works: an A4 deposited by its supplier, with an MOE and an MOA of the directory; the
    # owner is a user of the supplier and of the MOE
    read_by = ["invoicing-works"]
    supplier = await registered(http, platform, admin, read_by, kind="PRIVEE", name="BTP SA")
    moe = await registered(http, platform, admin, read_by, name="MOE")
    moa = await registered(http, platform, admin, read_by, name="MOA")
    for structure in (supplier, moe):
        await attached(http, platform, admin, structure, "owner", read_by)
    works = platform.url("invoicing-works")
    works_body = {
        "number": new_id("PDM"),
        "billing_frame": "A4",
        "supplier": {"structure_id": supplier},
        "moe": {"structure_id": moe},
        "moa": {"structure_id": moa},
        "amount_ht": "10000.00",
        "vat_amount": "2000.00",
        "amount_ttc": "12000.00",
    }
    invoice = await created(http, "POST", works + "/works-invoices", idp.headers("owner", []), works_body)
    endpoints += [
        Endpoint("invoicing-works", "GET", "/works-invoices", "/works-invoices", unrelated="empty"),
        Endpoint(
            "invoicing-works", "POST", "/works-invoices", "/works-invoices", {**works_body, "number": "X-1"}
        ),
        Endpoint(
            "invoicing-works",
            "GET",
            "/works-invoices/to-process",
            "/works-invoices/to-process?role=MOE",
            unrelated="empty",
            viewers=(moe,),
        ),
        Endpoint(
            "invoicing-works", "GET", "/works-invoices/{invoice_id}", f"/works-invoices/{invoice['id']}"
        ),
        Endpoint(
            "invoicing-works",
            "POST",
            "/works-invoices/{invoice_id}/actions",
            f"/works-invoices/{invoice['id']}/actions",
            {"action": "VALIDATION"},
        ),
        Endpoint(
            "invoicing-works",
            "POST",
            "/works-invoices/rejections/process",
            "/works-invoices/rejections/process",
            {"ids": [invoice["id"]]},
            unrelated="none-processed",
        ),
    ]

    # received-invoices: a recipient with a service, a supplier, an A1 deposited, a delegation; the
    # structures are the directory's, and the owner is a user of the recipient and of the supplier
    received = platform.url("received-invoices")
    read_by = ["received-invoices"]
    recipient = await registered(http, platform, admin, read_by, name="Recipient", services=["SVC"])
    provider = await registered(http, platform, admin, read_by, kind="PRIVEE", name="Provider")
    delegate = await registered(http, platform, admin, read_by, name="Delegate")
    for structure in (recipient, provider):
        await attached(http, platform, admin, structure, "owner", read_by)
    owner = idp.headers("owner", [recipient])
    delegation_body: dict[str, Any] = {
        "delegator_structure_id": recipient,
        "delegate_structure_id": delegate,
        "right": "VALIDATION",
        "scope": "STRUCTURE",
        "service_codes": [],
        "start_date": "2026-01-01",
        "end_date": None,
    }
    delegation = await created(http, "POST", received + "/delegations", owner, delegation_body)
    invoice_body = {
        "external_id": new_id("EXT"),
        "number": new_id("F"),
        "billing_frame": "A1",
        "supplier": party(provider),
        "recipient": party(recipient, "SVC"),
        "amount_ht": "1000.00",
        "vat_amount": "200.00",
        "amount_ttc": "1200.00",
        "currency": "EUR",
        "issue_date": "2026-10-30",
    }
    received_invoice = await created(
        http, "POST", received + "/invoices", idp.headers("owner", [provider]), invoice_body
    )
    invoice_url = f"/invoices/{received_invoice['id']}"
    invoice_file = await attached_file(http, received + invoice_url, idp.headers("owner", [provider]))
    endpoints += [
        Endpoint("received-invoices", "GET", "/delegations", "/delegations", unrelated="empty"),
        Endpoint(
            "received-invoices",
            "POST",
            "/delegations",
            "/delegations",
            {**delegation_body, "start_date": "2026-02-01"},
        ),
        Endpoint(
            "received-invoices",
            "GET",
            "/delegations/{delegation_id}",
            f"/delegations/{delegation['id']}",
        ),
        Endpoint(
            "received-invoices",
            "POST",
            "/delegations/{delegation_id}/actions",
            f"/delegations/{delegation['id']}/actions",
            {"action": "REVOCATION"},
        ),
        Endpoint(
            "received-invoices",
            "GET",
            "/invoices",
            "/invoices?list=deposited",
            unrelated="empty",
            viewers=(provider,),
        ),
        Endpoint(
            "received-invoices",
            "POST",
            "/invoices",
            "/invoices",
            {**invoice_body, "external_id": new_id("EXT")},
        ),
        Endpoint("received-invoices", "GET", "/invoices/{invoice_id}", f"/invoices/{received_invoice['id']}"),
        *attachment_endpoints("received-invoices", "/invoices/{invoice_id}", invoice_url, invoice_file),
        Endpoint(
            "received-invoices",
            "GET",
            "/invoices/{invoice_id}/next-statuses",
            f"/invoices/{received_invoice['id']}/next-statuses",
        ),
        Endpoint(
            "received-invoices",
            "POST",
            "/invoices/{invoice_id}/processing",
            f"/invoices/{received_invoice['id']}/processing",
            {"status": "VALIDEE_1"},
        ),
        Endpoint(
            "received-invoices",
            "POST",
            "/invoices/{invoice_id}/completion",
            f"/invoices/{received_invoice['id']}/completion",
            {"comment": "Pièce ajoutée"},
        ),
        Endpoint(
            "received-invoices",
            "POST",
            "/invoices/{invoice_id}/recycling",
            f"/invoices/{received_invoice['id']}/recycling",
            {"recipient": {"structure_id": recipient}},
        ),
        Endpoint(
            "received-invoices",
            "POST",
            "/invoices/rejections/process",
            "/invoices/rejections/process",
            {"ids": [received_invoice["id"]]},
            unrelated="none-processed",
        ),
        # Chorus Pro's referential of frames: any signed-in caller reads it.
        Endpoint("received-invoices", "GET", "/billing-frames", "/billing-frames", unrelated="open"),
        Endpoint("received-invoices", "GET", "/lifecycle", "/lifecycle", unrelated="open"),
        Endpoint("invoicing-works", "GET", "/billing-frames", "/billing-frames", unrelated="open"),
        Endpoint(
            "received-invoices",
            "PATCH",
            "/delegations/{delegation_id}",
            f"/delegations/{delegation['id']}",
            {"end_date": "2027-12-31"},
        ),
    ]

    # engagements: a purchase order of an issuing ministry, registered at the directory
    issuer = await registered(http, platform, admin, read_by=["engagements"])
    await attached(http, platform, admin, issuer, "ivy", ["engagements"])
    engagement_body = {
        "number": new_id("EJ"),
        "type": "BON_DE_COMMANDE",
        "issuer": {
            "structure_id": issuer,
            "name": "Ministère",
            "email": "achats@min.gouv.fr",
            "kind": "ETAT",
        },
        "supplier": {"structure_id": new_id("SUP"), "name": "BTP SA", "email": "contact@btp.example.fr"},
        "currency": "EUR",
        "lines": [
            {"description": "Ciment", "quantity": "2.5", "unit": "T", "unit_price_ht": "10", "vat_rate": "20"}
        ],
    }
    engagement = await created(
        http,
        "POST",
        platform.url("engagements") + "/engagements",
        idp.headers("ivy", [issuer]),
        engagement_body,
    )
    endpoints += [
        Endpoint("engagements", "GET", "/engagements", "/engagements", unrelated="empty"),
        Endpoint(
            "engagements", "POST", "/engagements", "/engagements", {**engagement_body, "number": "EJ-X"}
        ),
        Endpoint("engagements", "GET", "/engagements/{engagement_id}", f"/engagements/{engagement['id']}"),
        Endpoint(
            "engagements",
            "POST",
            "/engagements/{engagement_id}/actions",
            f"/engagements/{engagement['id']}/actions",
            {"action": "VALIDATION"},
        ),
    ]

    # support-portal: a ticket submitted by a user of a structure of the directory
    requester_structure = await registered(http, platform, admin, ["support-portal"], kind="PRIVEE")
    await attached(http, platform, admin, requester_structure, "rita", ["support-portal"])
    ticket_body = {
        "category": "COMPTE",
        "subcategory": "CONNEXION",
        "title": "Accès impossible",
        "description": "Je ne parviens pas à me connecter.",
        "environment": "PRODUCTION",
        "structure_id": requester_structure,
        "submit": True,
    }
    ticket = await created(
        http,
        "POST",
        platform.url("support-portal") + "/tickets",
        idp.headers("rita", [requester_structure]),
        ticket_body,
    )
    ticket_file = await attached_file(
        http,
        platform.url("support-portal") + f"/tickets/{ticket['id']}",
        idp.headers("rita", [requester_structure]),
    )
    endpoints += [
        Endpoint("support-portal", "GET", "/tickets", "/tickets?list=in-progress", unrelated="empty"),
        Endpoint("support-portal", "POST", "/tickets", "/tickets", ticket_body),
        Endpoint("support-portal", "GET", "/tickets/{ticket_id}", f"/tickets/{ticket['id']}"),
        Endpoint(
            "support-portal",
            "POST",
            "/tickets/{ticket_id}/actions",
            f"/tickets/{ticket['id']}/actions",
            {"action": "CLOTURE"},
        ),
        *attachment_endpoints(
            "support-portal", "/tickets/{ticket_id}", f"/tickets/{ticket['id']}", ticket_file
        ),
    ]

    # notifications: decisions are read by operators only
    notifications = platform.url("notifications")

    async def a_decision() -> dict[str, Any] | None:
        response = await http.get(notifications + "/notifications", headers=admin)
        items: list[dict[str, Any]] = response.json()["items"]
        return items[0] if items else None

    decision = await eventually(a_decision, within=30)
    endpoints += [
        Endpoint("notifications", "GET", "/notifications", "/notifications"),
        Endpoint(
            "notifications", "GET", "/notifications/{notification_id}", f"/notifications/{decision['id']}"
        ),
        Endpoint(
            "notifications",
            "POST",
            "/notifications/{notification_id}/resend",
            f"/notifications/{decision['id']}/resend",
        ),
    ]
    # directory: a company registered by its principal manager, with a service and a user
    directory = platform.url("directory")
    company = siret()
    dora = idp.headers("dora", [company])
    await created(
        http,
        "POST",
        directory + "/structures",
        dora,
        {"identifier": company, "name": "Dora SARL", "email": "d@example.fr"},
    )
    await created(
        http, "POST", f"{directory}/structures/{company}/services", dora, {"code": "SVC", "name": "Achats"}
    )
    await created(
        http,
        "PUT",
        f"{directory}/structures/{company}/users/dan",
        dora,
        {"email": "dan@example.fr", "service_code": "SVC"},
    )
    account = await created(http, "POST", f"{directory}/structures/{company}/technical-accounts", dora, None)
    public_body = {"identifier": siret(), "name": "Ministère", "kind": "PUBLIQUE", "public_category": "ETAT"}
    endpoints += [
        Endpoint("directory", "POST", "/structures", "/structures", public_body),
        Endpoint("directory", "GET", "/structures", f"/structures?identifier={company}", unrelated="open"),
        Endpoint(
            "directory", "GET", "/structures/{structure_id}", f"/structures/{company}", unrelated="open"
        ),
        Endpoint(
            "directory", "PATCH", "/structures/{structure_id}", f"/structures/{company}", {"name": "Eve"}
        ),
        Endpoint(
            "directory",
            "GET",
            "/structures/{structure_id}/services",
            f"/structures/{company}/services",
            unrelated="open",
        ),
        Endpoint(
            "directory",
            "POST",
            "/structures/{structure_id}/services",
            f"/structures/{company}/services",
            {"code": "NEW", "name": "Nouveau"},
        ),
        Endpoint(
            "directory",
            "PATCH",
            "/structures/{structure_id}/services/{code}",
            f"/structures/{company}/services/SVC",
            {"active": False},
        ),
        Endpoint("directory", "GET", "/structures/{structure_id}/users", f"/structures/{company}/users"),
        Endpoint(
            "directory",
            "PUT",
            "/structures/{structure_id}/users/{sub}",
            f"/structures/{company}/users/eve",
            {"email": "eve@example.fr", "role": "GESTIONNAIRE"},
        ),
        Endpoint(
            "directory",
            "DELETE",
            "/structures/{structure_id}/users/{sub}",
            f"/structures/{company}/users/dan",
        ),
        Endpoint("directory", "GET", "/users/me", "/users/me", unrelated="open"),
        Endpoint(
            "directory",
            "POST",
            "/structures/{structure_id}/technical-accounts",
            f"/structures/{company}/technical-accounts",
        ),
        Endpoint(
            "directory",
            "GET",
            "/structures/{structure_id}/technical-accounts",
            f"/structures/{company}/technical-accounts",
        ),
        Endpoint(
            "directory",
            "DELETE",
            "/structures/{structure_id}/technical-accounts/{login}",
            f"/structures/{company}/technical-accounts/{account['login']}",
        ),
        # piste-gateway: the operators' registration of applications
        Endpoint("piste-gateway", "GET", "/admin/clients", "/admin/clients"),
        Endpoint(
            "piste-gateway",
            "POST",
            "/admin/clients",
            "/admin/clients",
            {"name": "ERP", "structure_id": company},
        ),
        Endpoint("piste-gateway", "DELETE", "/admin/clients/{client_id}", f"/admin/clients/{uuid.uuid4()}"),
    ]
    return Owned(
        endpoints,
        owner_structures={
            "directory": [company],
            "invoicing-works": [supplier],
            "received-invoices": [recipient],
            "engagements": [issuer],
            "support-portal": [requester_structure],
            "notifications": [],
            "piste-gateway": [],
        },
        owner_roles={"notifications": ["admin"], "piste-gateway": ["admin"]},
        # support-portal's requester lists are a user's own tickets
        owner_subs={"support-portal": "rita", "directory": "dora", "engagements": "ivy"},
    )


def test_the_matrix_covers_every_authenticated_endpoint_of_every_service(owned: Owned):
    documented = set()
    for service in SERVICES:
        paths = json.loads((ROOT / "docs" / service / "openapi.json").read_text())["paths"]
        for template, operations in paths.items():
            if template.startswith(PUBLIC_PREFIXES + GATEWAY_PREFIXES):
                continue
            documented |= {f"{service} {method.upper()} {template}" for method in operations}
    assert {str(e) for e in owned.endpoints} == documented


async def call(
    http: httpx.AsyncClient, platform: Platform, endpoint: Endpoint, headers: dict[str, str]
) -> httpx.Response:
    url = platform.url(endpoint.service) + endpoint.path
    if endpoint.files is not None:
        return await http.request(endpoint.method, url, files=endpoint.files, headers=headers)
    return await http.request(endpoint.method, url, json=endpoint.body, headers=headers)


async def test_forged_expired_or_missing_tokens_get_401_and_change_nothing(
    secured_platform: Platform, http: httpx.AsyncClient, identity_provider: IdentityProvider, owned: Owned
):
    before = await quiescent_fingerprint(secured_platform)
    calls = 0
    for endpoint in owned.endpoints:
        forgeries = identity_provider.forgeries(
            owned.owner_structures[endpoint.service], owned.owner_roles.get(endpoint.service, [])
        )
        for kind, headers in forgeries.items():
            response = await call(http, secured_platform, endpoint, headers)
            calls += 1
            assert response.status_code == 401, (str(endpoint), kind, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"] == "urn:chorus:problem:unauthenticated"
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert await quiescent_fingerprint(secured_platform) == before
    print(f"\n{calls} forged or missing credentials over {len(owned.endpoints)} endpoints: all 401")


async def test_a_caller_of_an_unrelated_structure_is_refused_or_sees_nothing(
    secured_platform: Platform, http: httpx.AsyncClient, identity_provider: IdentityProvider, owned: Owned
):
    before = await quiescent_fingerprint(secured_platform)
    stranger = identity_provider.headers("eve", [new_id("ELSEWHERE")])
    for endpoint in owned.endpoints:
        response = await call(http, secured_platform, endpoint, stranger)
        if endpoint.unrelated == "empty":
            assert response.status_code == 200, (str(endpoint), response.text)
            assert response.json()["items"] == [], str(endpoint)
            # ... where its owner does see the resource
            viewer = identity_provider.headers(
                owned.owner_subs.get(endpoint.service, "owner"),
                list(endpoint.viewers or owned.owner_structures[endpoint.service]),
                owned.owner_roles.get(endpoint.service, []),
            )
            seen = await call(http, secured_platform, endpoint, viewer)
            assert seen.status_code == 200 and seen.json()["items"], (str(endpoint), seen.text)
        elif endpoint.unrelated == "open":
            assert response.status_code == 200, (str(endpoint), response.text)
        elif endpoint.unrelated == "none-processed":
            assert response.status_code == 200, (str(endpoint), response.text)
            body = response.json()
            assert body["processed"] == 0
            assert {result["outcome"] for result in body["results"]} == {"NOT_FOUND"}
        else:
            assert response.status_code in (403, 404), (str(endpoint), response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
    assert await quiescent_fingerprint(secured_platform) == before


async def test_a_caller_with_the_wrong_role_is_refused(
    secured_platform: Platform, http: httpx.AsyncClient, identity_provider: IdentityProvider, owned: Owned
):
    """Roles the services check: `admin` for notifications, the support agent's roles for agent actions."""
    before = await quiescent_fingerprint(secured_platform)
    agent_of_another_team = ["support-agent-trainee", "agent:NOT-A-TEAM"]
    for endpoint in owned.endpoints:
        if endpoint.service in ("notifications", "piste-gateway"):
            headers = identity_provider.headers("not-an-operator", [], agent_of_another_team)
            response = await call(http, secured_platform, endpoint, headers)
            assert response.status_code == 403, (str(endpoint), response.text)
    ticket = next(e for e in owned.endpoints if e.template == "/tickets/{ticket_id}/actions")
    requester = owned.owner_structures["support-portal"]
    callers = [
        # the requester's own ticket, but an agent's action: the requester lacks the role
        (identity_provider.headers("rita", requester), (403, 409)),
        # an agent of another team
        (identity_provider.headers("agent-x", [], agent_of_another_team), (403, 404)),
    ]
    for action in ("PRISE_EN_CHARGE", "PROPOSITION_SOLUTION", "TRANSFERT_SUPPORT"):
        for headers, refusals in callers:
            response = await http.post(
                secured_platform.url("support-portal") + ticket.path,
                json={"action": action, "message": "x"},
                headers=headers,
            )
            assert response.status_code in refusals, (action, response.text)
    assert await quiescent_fingerprint(secured_platform) == before


async def test_a_supplier_cannot_name_itself_moe_or_moa_nor_act_for_a_structure_its_token_names(
    secured_platform: Platform, http: httpx.AsyncClient, identity_provider: IdentityProvider, owned: Owned
):
    """Parties and rights are the directory's: a deposit naming the supplier's own structure as MOE or
    MOA is refused, and a token claiming a structure its user is not attached to acts for nothing."""
    before = await quiescent_fingerprint(secured_platform)
    deposit = next(e for e in owned.endpoints if str(e) == "invoicing-works POST /works-invoices")
    [supplier] = owned.owner_structures["invoicing-works"]
    for role in ("moe", "moa"):
        body = {**deposit.body, "number": new_id("SELF"), role: {"structure_id": supplier}}
        response = await http.post(
            secured_platform.url("invoicing-works") + deposit.path,
            json=body,
            headers=identity_provider.headers("owner", [supplier]),
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == f"{role}.structure_id"
    claimed = identity_provider.headers("mallory", [supplier])
    response = await call(http, secured_platform, deposit, claimed)
    assert response.status_code == 403, response.text
    assert await quiescent_fingerprint(secured_platform) == before
