"""The routing table: which recipient a ticket's category goes to: the support team, a business
service, or the structure of the directory the ticket concerns (an invoice's or an engagement's,
named by the requester). It is configuration, read from a file and validated when the service starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern="^(SUPPORT|SERVICE|STRUCTURE)$")
    name: str = Field(min_length=1, max_length=200)
    structure_id: str | None = None
    service_code: str | None = None

    @model_validator(mode="after")
    def _service_is_named(self) -> Recipient:
        if self.kind == "SERVICE" and not (self.structure_id and self.service_code):
            raise ValueError("a business service recipient names its structure_id and service_code")
        if self.kind == "SUPPORT" and (self.structure_id or self.service_code):
            raise ValueError("the support team has no structure_id or service_code")
        if self.kind == "STRUCTURE" and self.service_code and not self.structure_id:
            raise ValueError("a service of the concerned structure comes with its structure_id")
        return self


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(min_length=1, max_length=100)
    subcategory: str = Field(min_length=1, max_length=100, description="'*' for every subcategory")
    recipient: Recipient


class RoutingTable(BaseModel):
    """Configuration: which recipient a (category, subcategory) goes to; the rest to `default`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Recipient
    routes: list[Route] = []

    @model_validator(mode="after")
    def _no_duplicates(self) -> RoutingTable:
        keys = [(r.category, r.subcategory) for r in self.routes]
        if len(keys) != len(set(keys)):
            raise ValueError("a (category, subcategory) appears twice in the routing table")
        return self

    def recipient_for(self, category: str, subcategory: str) -> Recipient:
        exact = {(r.category, r.subcategory): r.recipient for r in self.routes}
        return exact.get((category, subcategory)) or exact.get((category, "*")) or self.default
