"""Which person a Jupyter sign-in is (F-ID-1, F-ID-4).

A jupyter_server's IdentityProvider says who signed in, but what its names
mean depends on the provider:

- Single-user providers (jupyter_server's token and password providers,
  "no authentication", most custom ones) guard a server that belongs to one
  person. Whoever gets in — any browser session, any request with the token
  — is that person: the server's owner, the OS account the server (and so
  its kernels and the CLI) runs as. Their user names are random per browser
  and name nobody, so they are ignored.
- Multi-user providers let several different people in and prove each one's
  name: JupyterHub's (`jupyterhub-singleuser`'s `JupyterHubIdentityProvider`,
  and `labdeck serve`'s Hub-token provider), and any custom provider the
  operator lists in the `multi_user_identity_providers` setting. Their user
  name is the person; when the user model comes from a JupyterHub, its
  `admin` flag says whether the person is a labdeck admin.

Classes are matched by dotted name anywhere in the provider's class
hierarchy, so JupyterHub need not be importable where it is not used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from labdeck.backend.services import identity

# Providers whose user names are people, whatever the operator configures.
JUPYTERHUB_PROVIDERS = (
    "jupyterhub.singleuser.extension.JupyterHubIdentityProvider",
    "labdeck.extension.hubauth.HubTokenIdentityProvider",
)


@dataclass(frozen=True)
class SignIn:
    """A proven external name, and what a JupyterHub says of its admin
    status (None: no Hub speaks)."""

    name: str
    hub_admin: bool | None = None


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class SignInPolicy:
    """Decided once per server: who its owner is and which providers name
    their users."""

    def __init__(self, owner: str, multi_user_providers: Iterable[str]) -> None:
        self.owner = owner
        self.multi_user_providers = frozenset(JUPYTERHUB_PROVIDERS) | frozenset(
            multi_user_providers
        )

    @classmethod
    def for_this_process(cls, multi_user_providers: Iterable[str]) -> SignInPolicy:
        return cls(identity.server_owner(), multi_user_providers)

    def names_its_users(self, provider: object) -> bool:
        return any(_dotted(cls) in self.multi_user_providers for cls in type(provider).__mro__)

    def sign_in(self, provider: object, user: Any) -> SignIn:
        """Who `user`, signed in through `provider`, is."""
        if not self.names_its_users(provider):
            return SignIn(self.owner)
        hub_user = getattr(user, "hub_user", None)
        admin = hub_user.get("admin") if isinstance(hub_user, dict) else None
        return SignIn(str(user.username), None if admin is None else bool(admin))
