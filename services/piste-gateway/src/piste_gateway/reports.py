"""A flow's compte rendu (`fichierCR` of consulterCR): a one-page PDF drawn with fpdf2 saying what the
flow is, where it stands and, when it was rejected, each reason."""

from __future__ import annotations

from typing import Any

from fpdf import FPDF

from piste_gateway.domain import cpro_datetime


def _latin1(text: str) -> str:
    # The PDF's core font (Helvetica) has Latin-1's characters; any other is shown as "?".
    return text.encode("latin-1", "replace").decode("latin-1")


def flow_report(flow: dict[str, Any], numero: str) -> bytes:
    pdf = FPDF()
    pdf.set_title(f"Compte rendu du flux {numero}")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(text=f"Compte rendu de traitement du flux {numero}")
    pdf.ln(10)
    pdf.set_font("helvetica", size=10)
    lines = [
        f"Fichier : {flow['file_name']}",
        f"Syntaxe : {flow['syntax']}",
        f"Déposé le : {cpro_datetime(flow['deposited_at'])} par {flow['login']}",
        f"État : {flow['status']} depuis le {cpro_datetime(flow['status_at'])}",
    ]
    if flow["invoice_number"]:
        lines.append(f"Facture : {flow['invoice_number']} (fournisseur {flow['supplier_id']})")
    for error in flow["invoice_errors"]:
        lines.append(f"Rejet : {error['libelleErreurDP']}")
    for error in flow["technical_errors"]:
        lines.append(f"Incident : {error['libelleErreur']}")
    for line in lines:
        pdf.multi_cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
