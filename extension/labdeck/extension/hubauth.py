"""The labdeck service's sign-in under JupyterHub (F-ID-4): a JupyterHub
token, validated by the Hub.

`HubTokenIdentityProvider` is the jupyter_server IdentityProvider of
`labdeck serve`. It takes the token of a request (`Authorization: token …`
or `Bearer …`; `?token=` only where `HubAuth.allow_token_in_url`, off by
default as in JupyterHub) and asks the Hub who owns it through
`jupyterhub.services.auth.HubAuth`, which the Hub configures through the
environment it gives a managed service (`JUPYTERHUB_API_URL`,
`JUPYTERHUB_API_TOKEN`, `JUPYTERHUB_SERVICE_NAME`; `c.HubAuth.*` for a
service run by hand). The Hub's answer is the only proof:

- unknown, expired or revoked tokens (the Hub answers 403): nobody, 401;
- a token without the service's access scope
  (`access:services!service=<name>`, `HubAuth.access_scopes`): 403;
- a Hub service's token (not a person's): 403;
- the Hub unreachable: 503 with Retry-After, never a guess.

The user's `admin` flag comes with the Hub's answer: Hub admins are
labdeck admins (`identity.ensure_user(hub_admin=…)`). Hub groups are not
mirrored as teams (docs/hub.md says why). HubAuth caches an answer for
`HubAuth.cache_max_age` seconds (300 by default): a revoked token or an
admin flag changed on the Hub takes effect within that time.

A labdeck API key (`Bearer ldk_…`) is never sent to the Hub: the labdeck
handler authenticates it itself.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from jupyterhub.services.auth import HubAuth
from tornado import web
from traitlets import Instance, default

from labdeck.backend.errors import Forbidden, Unavailable
from labdeck.backend.tokens import API_KEY_PREFIX

from .handlers import SignInRefused

# How long a client should wait before asking again while the Hub is away.
HUB_RETRY_AFTER = 5


class HubUser(User):
    """A jupyter_server user with the Hub's model of them (`admin`, `groups`,
    `scopes`): what `signin.SignInPolicy` reads, as for JupyterHub's own
    `JupyterHubUser`."""

    hub_user: dict[str, Any]

    def __init__(self, hub_user: dict[str, Any]) -> None:
        self.hub_user = hub_user
        super().__init__(username=str(hub_user["name"]))


class HubTokenIdentityProvider(IdentityProvider):
    hub_auth = Instance(HubAuth)

    @default("hub_auth")
    def _default_hub_auth(self) -> HubAuth:
        return HubAuth(parent=self)

    @default("token")
    def _no_jupyter_token(self) -> str:
        # The Hub is the only authority: no token of jupyter_server's own.
        return ""

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False

    def get_handlers(self) -> list[Any]:
        # No login or logout page: people sign in to the Hub.
        return []

    def validate_security(self, app: Any, ssl_options: dict[str, Any] | None = None) -> None:
        # jupyter_server would warn that it has no token and no password;
        # every request is checked with the Hub instead.
        return None

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        token = self.hub_auth.get_token(handler, in_cookie=False)
        if not token or token.startswith(API_KEY_PREFIX):
            return None
        try:
            model = await self.hub_auth.user_for_token(token, sync=False)
        except web.HTTPError as exc:
            # HubAuth answers 500/502 when the Hub cannot be asked.
            self.log.warning("labdeck: the Hub could not check a token: %s", exc)
            raise SignInRefused(
                Unavailable("JupyterHub cannot check the token now", retry_after=HUB_RETRY_AFTER)
            ) from None
        if not model:
            return None
        if model.get("kind", "user") != "user":
            raise SignInRefused(Forbidden("only people sign in to labdeck, not Hub services"))
        if not self.hub_auth.check_scopes(self.hub_auth.access_scopes, model):
            needed = " or ".join(sorted(self.hub_auth.access_scopes)) or "an access scope"
            raise SignInRefused(Forbidden(f"the token lacks the scope {needed}"))
        # Token-authenticated: jupyter_server then needs no XSRF cookie.
        handler._token_authenticated = True  # type: ignore[attr-defined]
        return HubUser(model)
