"""Invoice files read as Chorus Pro reads them: the same invoice in each syntax says the same thing;
each EN 16931 rule the gateway applies refuses the file that breaks it; no file loads an entity."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pypdf
import pytest
from lxml import etree

from chorus_testing.invoice_files import Invoice, Line, cii, facturx_pdf, ubl, visible_pdf
from piste_gateway.flows import _submitted
from piste_gateway.invoice_files import Syntax, Unreadable, check, read

LIMIT = 5_000_000
TODAY = date(2026, 12, 7)
INVOICE = Invoice(
    number="F-2026-001",
    seller_id="12345678200010",
    buyer_id="11000201100044",
    seller_name="Fournisseur SARL",
    buyer_name="Ministère",
    service_code="SERV-1",
    engagement="EJ-1",
    lines=(
        Line("Étude", Decimal(2), Decimal("100.50")),
        Line("Livres", Decimal(3), Decimal("10.10"), Decimal("5.5")),
    ),
)
FILES = {
    Syntax.FACTURX: lambda invoice: facturx_pdf(invoice),
    Syntax.CII: lambda invoice: cii(invoice),
    Syntax.CII_MIN: lambda invoice: cii(invoice, "minimum"),
    Syntax.UBL: lambda invoice: ubl(invoice),
    Syntax.UBL_MIN: lambda invoice: ubl(invoice),
}


def payload(syntax: Syntax, invoice: Invoice = INVOICE) -> dict:
    content = FILES[syntax](invoice)
    read_file = read(content, syntax, LIMIT)
    assert check(read_file, TODAY) == []
    flow = {"number": 7, "structure_id": invoice.seller_id, "file_name": "f", "content": content}
    submitted, errors = _submitted(flow, read_file)
    assert errors == [] and submitted is not None
    assert submitted.main_document is not None and submitted.main_document.content == content
    return submitted.model_dump(mode="json", exclude={"main_document"})


def test_each_syntax_gives_the_same_invoice_submitted():
    expected = payload(Syntax.CII)
    assert expected["external_id"] == "CPP000000000007"
    assert (expected["amount_ht"], expected["vat_amount"], expected["amount_ttc"]) == (
        "231.30",
        "41.87",
        "273.17",
    )
    assert expected["recipient"]["service_code"] == "SERV-1" and expected["engagement_number"] == "EJ-1"
    assert expected["supplier"]["structure_id"] == "12345678200010" and expected["issue_date"] == "2026-11-02"
    for syntax in Syntax:
        assert payload(syntax) == expected, syntax


def test_a_frame_named_in_bt_23_is_the_invoices_and_a1_without():
    assert (
        payload(Syntax.UBL, INVOICE.but(frame="A2_FACTURE_FOURNISSEUR_DEJA_PAYEE"))["billing_frame"] == "A2"
    )
    assert payload(Syntax.CII, INVOICE.but(frame=None))["billing_frame"] == "A1"


def reasons(syntax: Syntax, invoice: Invoice) -> list[str]:
    return check(read(FILES[syntax](invoice), syntax, LIMIT), TODAY)


@pytest.mark.parametrize("syntax", [Syntax.CII, Syntax.UBL])
@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        ({"grand_total": Decimal("273.18"), "due": Decimal("273.18")}, "BR-CO-15"),
        ({"tax_total": Decimal("41.86")}, "BR-CO-14"),
        ({"tax_basis": Decimal("231.31")}, "BR-CO-13"),
        ({"line_total": Decimal("231.31"), "tax_basis": Decimal("231.31")}, "BR-CO-10"),
        ({"due": Decimal("270")}, "BR-CO-16"),
        ({"due": Decimal("273.171")}, "BR-DEC"),
    ],
)
def test_totals_that_do_not_add_up_are_refused(syntax: Syntax, broken: dict, rule: str):
    found = reasons(syntax, INVOICE.but(broken=broken))
    assert any(reason.startswith(f"{rule} :") for reason in found), found


@pytest.mark.parametrize("syntax", [Syntax.CII, Syntax.UBL])
@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"issue_date": date(2026, 12, 8)}, "CPP-DATE"),
        ({"type_code": "381"}, "BR-04"),
        ({"currency": "ZZZ"}, "BR-05"),
    ],
)
def test_identity_and_dates_are_checked(syntax: Syntax, changes: dict, rule: str):
    found = reasons(syntax, INVOICE.but(**changes))
    assert any(reason.startswith(f"{rule} :") for reason in found), found


def test_a_vat_amount_that_is_not_its_rate_of_its_basis_is_refused():
    tree = etree.fromstring(cii(INVOICE))
    ram = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    rate = tree.find(f".//{{{ram}}}ApplicableHeaderTradeSettlement/{{{ram}}}ApplicableTradeTax")
    rate.find(f"{{{ram}}}RateApplicablePercent").text = "10"
    found = check(read(etree.tostring(tree), Syntax.CII, LIMIT), TODAY)
    assert any(reason.startswith("BR-CO-17 :") for reason in found), found


def test_a_missing_party_identifier_is_refused():
    tree = etree.fromstring(ubl(INVOICE))
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    for company in tree.iter(f"{{{cbc}}}CompanyID"):
        company.getparent().remove(company)
    found = check(read(etree.tostring(tree), Syntax.UBL, LIMIT), TODAY)
    assert sum(reason.startswith("CPP-PARTIES :") for reason in found) == 2, found


def test_files_breaking_their_xsd_are_unreadable_with_the_reason():
    tree = etree.fromstring(ubl(INVOICE))
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    issue = tree.find(f"{{{cbc}}}IssueDate")
    tree.remove(issue)
    tree.append(issue)  # out of the XSD's order
    with pytest.raises(Unreadable, match=r"XSD UBL 2\.1 Invoice"):
        read(etree.tostring(tree), Syntax.UBL, LIMIT)
    misnamed = cii(INVOICE).replace(b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:Type>380</ram:Type>", 1)
    with pytest.raises(Unreadable, match="CII D16B"):
        read(misnamed, Syntax.CII, LIMIT)
    with pytest.raises(Unreadable, match="n'embarque pas de facture CII"):
        read(visible_pdf(INVOICE), Syntax.FACTURX, LIMIT)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><ID>&secret;</ID></Invoice>"""
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">'
    b"&lol9;</rsm:CrossIndustryInvoice>"
)


@pytest.mark.parametrize(("content", "syntax"), [(XXE, Syntax.UBL), (LAUGHS, Syntax.CII)])
def test_no_file_loads_an_entity_or_a_dtd(content: bytes, syntax: Syntax):
    # libxml2 stops the billion laughs as it parses; the gateway refuses any DTD it lets through.
    with pytest.raises(Unreadable, match=r"DTD|amplification") as refused:
        read(content, syntax, LIMIT)
    assert "root:" not in str(refused.value)


def test_an_xxe_inside_a_factur_x_pdf_is_refused_too():
    # factur-x embeds only an XML valid against its XSD: the hostile one is attached with pypdf.
    hostile = cii(INVOICE).replace(
        b"<rsm:CrossIndustryInvoice",
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><rsm:CrossIndustryInvoice',
        1,
    )
    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(io.BytesIO(visible_pdf(INVOICE))))
    writer.add_attachment("factur-x.xml", hostile)
    pdf = io.BytesIO()
    writer.write(pdf)
    with pytest.raises(Unreadable, match="DTD"):
        read(pdf.getvalue(), Syntax.FACTURX, LIMIT)
