"""Invoice files as suppliers' software writes them, for tests and benchmarks: the same invoice as
UN/CEFACT CII D16B (at a Factur-X profile), as UBL 2.1, and as a Factur-X PDF (a PDF drawn with
fpdf2, its CII embedded by the factur-x library). Built with lxml in each schema's element order;
`broken` overrides a total to make a file that breaks an EN 16931 rule."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import facturx
from fpdf import FPDF
from lxml import etree

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
GUIDELINES = {
    "minimum": "urn:factur-x.eu:1p0:minimum",
    "basic": "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
    "en16931": "urn:cen.eu:en16931:2017",
}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    name: str
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal = Decimal(20)

    @property
    def net(self) -> Decimal:
        return (self.quantity * self.price).quantize(CENT)


@dataclass(frozen=True)
class Invoice:
    number: str
    seller_id: str  # SIRET
    buyer_id: str  # SIRET
    seller_name: str = "Fournisseur SARL"
    buyer_name: str = "Ministère"
    service_code: str | None = None  # BT-10
    engagement: str | None = None  # BT-13
    issue_date: date = date(2026, 11, 2)
    currency: str = "EUR"
    frame: str | None = "A1"  # BT-23
    type_code: str = "380"
    lines: tuple[Line, ...] = (Line("Prestation", Decimal(10), Decimal(100)),)
    broken: dict[str, Decimal] = field(default_factory=dict)  # e.g. {"grand_total": Decimal("1")}

    def but(self, **changes: Any) -> Invoice:
        return replace(self, **changes)

    @property
    def line_total(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    def vat(self) -> list[tuple[Decimal, Decimal, Decimal]]:
        """(rate, basis, amount) of each rate."""
        bases: dict[Decimal, Decimal] = {}
        for line in self.lines:
            bases[line.vat_rate] = bases.get(line.vat_rate, Decimal(0)) + line.net
        return [(rate, basis, (basis * rate / 100).quantize(CENT)) for rate, basis in sorted(bases.items())]

    def totals(self) -> dict[str, Decimal]:
        tax = sum((amount for _, _, amount in self.vat()), Decimal(0))
        values = {
            "line_total": self.line_total,
            "tax_basis": self.line_total,
            "tax_total": tax,
            "grand_total": self.line_total + tax,
            "due": self.line_total + tax,
        }
        return {**values, **self.broken}


def _money(value: Decimal) -> str:
    # Two decimals, as invoices write amounts; a `broken` amount with more is written as it is.
    return f"{value:.2f}" if value.as_tuple().exponent >= -2 else str(value)  # type: ignore[operator]


def _sub(parent: etree._Element, namespace: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, f"{{{namespace}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def cii(invoice: Invoice, level: str = "en16931") -> bytes:
    """The invoice in CII D16B, at Factur-X profile `level` (minimum, basic, en16931)."""
    root = etree.Element(
        f"{{{RSM}}}CrossIndustryInvoice", nsmap={"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
    )
    context = _sub(root, RSM, "ExchangedDocumentContext")
    if invoice.frame is not None:
        _sub(_sub(context, RAM, "BusinessProcessSpecifiedDocumentContextParameter"), RAM, "ID", invoice.frame)
    _sub(_sub(context, RAM, "GuidelineSpecifiedDocumentContextParameter"), RAM, "ID", GUIDELINES[level])
    document = _sub(root, RSM, "ExchangedDocument")
    _sub(document, RAM, "ID", invoice.number)
    _sub(document, RAM, "TypeCode", invoice.type_code)
    _sub(
        _sub(document, RAM, "IssueDateTime"),
        UDT,
        "DateTimeString",
        invoice.issue_date.strftime("%Y%m%d"),
        format="102",
    )
    transaction = _sub(root, RSM, "SupplyChainTradeTransaction")
    full = level != "minimum"
    if full:
        for index, line in enumerate(invoice.lines, start=1):
            item = _sub(transaction, RAM, "IncludedSupplyChainTradeLineItem")
            _sub(_sub(item, RAM, "AssociatedDocumentLineDocument"), RAM, "LineID", str(index))
            _sub(_sub(item, RAM, "SpecifiedTradeProduct"), RAM, "Name", line.name)
            price = _sub(_sub(item, RAM, "SpecifiedLineTradeAgreement"), RAM, "NetPriceProductTradePrice")
            _sub(price, RAM, "ChargeAmount", _money(line.price))
            _sub(
                _sub(item, RAM, "SpecifiedLineTradeDelivery"),
                RAM,
                "BilledQuantity",
                str(line.quantity),
                unitCode="C62",
            )
            settlement = _sub(item, RAM, "SpecifiedLineTradeSettlement")
            tax = _sub(settlement, RAM, "ApplicableTradeTax")
            _sub(tax, RAM, "TypeCode", "VAT")
            _sub(tax, RAM, "CategoryCode", "S")
            _sub(tax, RAM, "RateApplicablePercent", str(line.vat_rate))
            summation = _sub(settlement, RAM, "SpecifiedTradeSettlementLineMonetarySummation")
            _sub(summation, RAM, "LineTotalAmount", _money(line.net))
    agreement = _sub(transaction, RAM, "ApplicableHeaderTradeAgreement")
    if invoice.service_code is not None:
        _sub(agreement, RAM, "BuyerReference", invoice.service_code)
    for role, identifier, name in (
        ("SellerTradeParty", invoice.seller_id, invoice.seller_name),
        ("BuyerTradeParty", invoice.buyer_id, invoice.buyer_name),
    ):
        party = _sub(agreement, RAM, role)
        _sub(party, RAM, "Name", name)
        _sub(_sub(party, RAM, "SpecifiedLegalOrganization"), RAM, "ID", identifier, schemeID="0009")
        if role == "SellerTradeParty":
            _sub(_sub(party, RAM, "PostalTradeAddress"), RAM, "CountryID", "FR")
            if full:
                registration = _sub(party, RAM, "SpecifiedTaxRegistration")
                _sub(registration, RAM, "ID", f"FR00{identifier[:9]}", schemeID="VA")
    if invoice.engagement is not None:
        _sub(
            _sub(agreement, RAM, "BuyerOrderReferencedDocument"), RAM, "IssuerAssignedID", invoice.engagement
        )
    _sub(transaction, RAM, "ApplicableHeaderTradeDelivery")
    settlement = _sub(transaction, RAM, "ApplicableHeaderTradeSettlement")
    _sub(settlement, RAM, "InvoiceCurrencyCode", invoice.currency)
    totals = invoice.totals()
    if full:
        for rate, basis, amount in invoice.vat():
            tax = _sub(settlement, RAM, "ApplicableTradeTax")
            _sub(tax, RAM, "CalculatedAmount", _money(amount))
            _sub(tax, RAM, "TypeCode", "VAT")
            _sub(tax, RAM, "BasisAmount", _money(basis))
            _sub(tax, RAM, "CategoryCode", "S")
            _sub(tax, RAM, "RateApplicablePercent", str(rate))
    summation = _sub(settlement, RAM, "SpecifiedTradeSettlementHeaderMonetarySummation")
    if full:
        _sub(summation, RAM, "LineTotalAmount", _money(totals["line_total"]))
    _sub(summation, RAM, "TaxBasisTotalAmount", _money(totals["tax_basis"]))
    _sub(summation, RAM, "TaxTotalAmount", _money(totals["tax_total"]), currencyID=invoice.currency)
    _sub(summation, RAM, "GrandTotalAmount", _money(totals["grand_total"]))
    _sub(summation, RAM, "DuePayableAmount", _money(totals["due"]))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def ubl(invoice: Invoice) -> bytes:
    """The invoice in UBL 2.1 (Invoice), in the XSD's element order."""
    root = etree.Element(f"{{{INV}}}Invoice", nsmap={None: INV, "cac": CAC, "cbc": CBC})
    _sub(root, CBC, "CustomizationID", "urn:cen.eu:en16931:2017")
    if invoice.frame is not None:
        _sub(root, CBC, "ProfileID", invoice.frame)
    _sub(root, CBC, "ID", invoice.number)
    _sub(root, CBC, "IssueDate", invoice.issue_date.isoformat())
    _sub(root, CBC, "InvoiceTypeCode", invoice.type_code)
    _sub(root, CBC, "DocumentCurrencyCode", invoice.currency)
    if invoice.service_code is not None:
        _sub(root, CBC, "BuyerReference", invoice.service_code)
    if invoice.engagement is not None:
        _sub(_sub(root, CAC, "OrderReference"), CBC, "ID", invoice.engagement)
    for role, identifier, name in (
        ("AccountingSupplierParty", invoice.seller_id, invoice.seller_name),
        ("AccountingCustomerParty", invoice.buyer_id, invoice.buyer_name),
    ):
        party = _sub(_sub(root, CAC, role), CAC, "Party")
        _sub(_sub(party, CAC, "PartyName"), CBC, "Name", name)
        legal = _sub(party, CAC, "PartyLegalEntity")
        _sub(legal, CBC, "RegistrationName", name)
        _sub(legal, CBC, "CompanyID", identifier, schemeID="0009")
    currency = {"currencyID": invoice.currency}
    totals = invoice.totals()
    tax_total = _sub(root, CAC, "TaxTotal")
    _sub(tax_total, CBC, "TaxAmount", _money(totals["tax_total"]), **currency)
    for rate, basis, amount in invoice.vat():
        subtotal = _sub(tax_total, CAC, "TaxSubtotal")
        _sub(subtotal, CBC, "TaxableAmount", _money(basis), **currency)
        _sub(subtotal, CBC, "TaxAmount", _money(amount), **currency)
        category = _sub(subtotal, CAC, "TaxCategory")
        _sub(category, CBC, "ID", "S")
        _sub(category, CBC, "Percent", str(rate))
        _sub(_sub(category, CAC, "TaxScheme"), CBC, "ID", "VAT")
    monetary = _sub(root, CAC, "LegalMonetaryTotal")
    _sub(monetary, CBC, "LineExtensionAmount", _money(totals["line_total"]), **currency)
    _sub(monetary, CBC, "TaxExclusiveAmount", _money(totals["tax_basis"]), **currency)
    _sub(monetary, CBC, "TaxInclusiveAmount", _money(totals["grand_total"]), **currency)
    _sub(monetary, CBC, "PayableAmount", _money(totals["due"]), **currency)
    for index, line in enumerate(invoice.lines, start=1):
        element = _sub(root, CAC, "InvoiceLine")
        _sub(element, CBC, "ID", str(index))
        _sub(element, CBC, "InvoicedQuantity", str(line.quantity), unitCode="C62")
        _sub(element, CBC, "LineExtensionAmount", _money(line.net), **currency)
        item = _sub(element, CAC, "Item")
        _sub(item, CBC, "Name", line.name)
        category = _sub(item, CAC, "ClassifiedTaxCategory")
        _sub(category, CBC, "ID", "S")
        _sub(category, CBC, "Percent", str(line.vat_rate))
        _sub(_sub(category, CAC, "TaxScheme"), CBC, "ID", "VAT")
        _sub(_sub(element, CAC, "Price"), CBC, "PriceAmount", _money(line.price), **currency)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def visible_pdf(invoice: Invoice) -> bytes:
    """The invoice as a reader sees it: one page drawn with fpdf2."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=f"Facture {invoice.number} du {invoice.issue_date.isoformat()}")
    pdf.ln(8)
    pdf.cell(text=f"Montant TTC : {_money(invoice.totals()['grand_total'])} {invoice.currency}")
    return bytes(pdf.output())


def facturx_pdf(invoice: Invoice, level: str = "en16931") -> bytes:
    """The invoice as a Factur-X PDF: its CII embedded as factur-x.xml by the factur-x library."""
    generated: bytes = facturx.generate_from_binary(visible_pdf(invoice), cii(invoice, level), check_xsd=True)
    return generated
