"""Where a Zoho org lives: accounts servers, API domains, API versions and scope names."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

ACCOUNTS_SERVERS = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}
API_DOMAIN_SUFFIXES = {
    "us": "com",
    "eu": "eu",
    "in": "in",
    "au": "com.au",
    "jp": "jp",
    "cn": "com.cn",
    "ca": "ca",
    "sa": "sa",
}
ENVIRONMENT_HOSTS = {"production": "www", "sandbox": "sandbox", "developer": "developer"}
VERSIONS = {"crm": [f"v{n}" for n in range(2, 9)], "bigin": ["v1", "v2"]}
DEFAULT_VERSIONS = {"crm": "v8", "bigin": "v2"}
SCOPE_PREFIXES = {"crm": "ZohoCRM", "bigin": "ZohoBigin"}  # as in ZohoCRM.users.READ


def trusted_api_domains(data_center: str, accounts_url: str | None) -> set[str]:
    """The API domains a token answer may name: the data center's, or the accounts override's.

    The access token goes wherever the token answer's ``api_domain`` says; anything else (plain
    http, another domain) is refused.
    """
    suffix = API_DOMAIN_SUFFIXES.get(data_center, "com")
    trusted = {f"https://{host}.zohoapis.{suffix}" for host in ENVIRONMENT_HOSTS.values()}
    if accounts_url:
        parts = urlsplit(accounts_url)
        trusted.add(f"{parts.scheme}://{parts.netloc}")
    return trusted


def configured_api_domain(
    data_center: str, environment: str, accounts_url: str | None, api_domain: str | None
) -> str | None:
    """The API domain when settings decide it; None when the token answer's is authoritative."""
    if api_domain:
        return api_domain
    if environment == "production" or accounts_url:
        return None
    suffix = API_DOMAIN_SUFFIXES[data_center]
    return f"https://{ENVIRONMENT_HOSTS[environment]}.zohoapis.{suffix}"


@dataclass(frozen=True)
class ApiPaths:
    """The REST paths and scope names of one product and API version (``/crm/v8``)."""

    product: str = "crm"
    version: str = "v8"

    @property
    def root(self) -> str:
        """The REST API's path prefix: ``/crm/v8`` or ``/bigin/v2``."""
        return f"/{self.product}/{self.version}"

    def records(self, module: str) -> str:
        """A module's records path: ``/crm/v8/Leads``."""
        return f"{self.root}/{module}"

    def module_scope(self, module: str) -> str:
        """The scope that reads a module: ``ZohoCRM.modules.Leads.READ``."""
        return f"{SCOPE_PREFIXES[self.product]}.modules.{module}.READ"
