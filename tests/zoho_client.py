"""A tiny, independent Zoho client for the emulator's own tests (not the tap's code)."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from typing import Any

import requests

CREDENTIALS = {
    "client_id": "emulator-client-id",
    "client_secret": "emulator-client-secret",
    "refresh_token": "emulator-refresh-token",
}


class ZohoTestClient:
    """Speaks to an emulator the way a Zoho user would with curl."""

    def __init__(self, url: str, credentials: dict[str, str] | None = None) -> None:
        self.url = url
        self.session = requests.Session()
        self._token: str | None = None
        self.credentials = credentials or CREDENTIALS

    def token(self) -> str:
        if self._token is None:
            answer = self.session.post(
                f"{self.url}/oauth/v2/token",
                params={"grant_type": "refresh_token", **self.credentials},
                timeout=10,
            ).json()
            self._token = answer["access_token"]
        return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {self.token()}"}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(f"{self.url}{path}", headers=self.headers(), timeout=30, **kwargs)

    def create_job(self, body: Any, api: str = "crm", version: str = "v2") -> requests.Response:
        return self.session.post(
            f"{self.url}/{api}/bulk/{version}/read", headers=self.headers(), json=body, timeout=30
        )

    def wait(self, job_id: str, api: str = "crm", version: str = "v2") -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = self.get(f"/{api}/bulk/{version}/read/{job_id}").json()["data"][0]
            if status["state"] in ("COMPLETED", "FAILURE"):
                return status  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish")

    def export(
        self, body: Any, api: str = "crm", version: str = "v2"
    ) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """Create a job, wait for it, download and parse its CSV."""
        created = self.create_job(body, api, version)
        assert created.status_code == 201, created.text
        job_id = created.json()["data"][0]["details"]["id"]
        status = self.wait(job_id, api, version)
        assert status["state"] == "COMPLETED", status
        raw = self.download(status["result"]["download_url"])
        return status, parse_csv(raw, job_id)

    def download(self, download_url: str) -> bytes:
        response = self.get(download_url)
        assert response.status_code == 200, response.text
        return response.content


def zip_member(raw: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert archive.namelist() == [name]
        return archive.read(name)


def parse_csv(raw_zip: bytes, job_id: str) -> list[dict[str, str]]:
    text = zip_member(raw_zip, f"{job_id}.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def ground_truth(
    url: str, module: str, product: str = "crm", fields: str = ""
) -> list[dict[str, str]]:
    import json

    params = {"product": product, **({"fields": fields} if fields else {})}
    response = requests.get(f"{url}/__emulator__/records/{module}", params=params, timeout=60)
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line]
