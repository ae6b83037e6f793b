"""The referential of ticket categories and subcategories (code, label, active): both are required on
a ticket, as in Chorus Pro, and only active ones are offered and accepted for a new ticket. It is
configuration, read from a file and validated when the service starts (with the routing table, whose
categories it must hold)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus_common.problems import field_problem

Code = Field(min_length=1, max_length=100, pattern=r"^[A-Z0-9_]+$")


class Subcategory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Code
    label: str = Field(min_length=1, max_length=200)
    active: bool = True


class Category(Subcategory):
    subcategories: list[Subcategory] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_subcategories(self) -> Category:
        codes = [s.code for s in self.subcategories]
        if len(codes) != len(set(codes)):
            raise ValueError(f"a subcategory appears twice in {self.code}")
        return self


class Referential(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: list[Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_categories(self) -> Referential:
        codes = [c.code for c in self.categories]
        if len(codes) != len(set(codes)):
            raise ValueError("a category appears twice in the referential")
        return self

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def active(self) -> list[Category]:
        """The categories offered for a new ticket, each with its active subcategories only."""
        return [
            c.model_copy(update={"subcategories": [s for s in c.subcategories if s.active]})
            for c in self.categories
            if c.active
        ]

    def check(self, category_code: str, subcategory_code: str) -> None:
        """Refuse (422 naming the field) a category or subcategory that does not exist or is inactive."""
        category = self.category(category_code)
        if category is None or not category.active:
            offered = ", ".join(c.code for c in self.active())
            raise field_problem(
                "category",
                "unknown-category",
                "Unknown category",
                f"{category_code!r} is not one of {offered}",
            )
        subcategory = next((s for s in category.subcategories if s.code == subcategory_code), None)
        if subcategory is None or not subcategory.active:
            offered = ", ".join(s.code for s in category.subcategories if s.active)
            raise field_problem(
                "subcategory",
                "unknown-subcategory",
                "Unknown subcategory",
                f"{subcategory_code!r} is not a subcategory of {category_code}: {offered}",
            )

    def label(self, category_code: str) -> str | None:
        """The category's label, as the requester saw it when choosing it."""
        category = self.category(category_code)
        return category.label if category is not None else None
