"""The path parameters of the directory's routes, bounded as the columns they are looked up in."""

from typing import Annotated

from fastapi import Path

StructurePath = Annotated[str, Path(min_length=1, max_length=100, description="the structure's identifier")]
CodePath = Annotated[str, Path(min_length=1, max_length=100, description="the service's code")]
SubPath = Annotated[str, Path(min_length=1, max_length=200, description="the user's subject (token `sub`)")]
LoginPath = Annotated[str, Path(min_length=1, max_length=100, description="a technical account's login")]
