"""Bearer headers for tests, as accepted by a service running with CHORUS_APP_ENV=dev."""

from __future__ import annotations

from collections.abc import Sequence

from chorus_common.auth import mint_dev_token


def bearer(sub: str, *structures: str, roles: Sequence[str] = ()) -> dict[str, str]:
    """An Authorization header for user `sub`, acting for `structures`, e-mail `<sub>@example.fr`."""
    token = mint_dev_token(sub, list(structures), list(roles), email=f"{sub}@example.fr")
    return {"authorization": "Bearer " + token}
