"""Files through the production shape (nginx in front of Daphne, `make cluster`): Django checks the signed link and
the viewer, then nginx sends the bytes from its internal location (X-Accel-Redirect); nothing reaches them directly."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from tests.integration.clients import visitor_token
from tests.integration.cluster_support import SHOP_ORIGIN, running_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster():
    with running_cluster("files", daphnes=1, workers=1) as running:
        yield running


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (30, 140, 60)).save(out, format="PNG")
    return out.getvalue()


async def test_a_file_is_sent_by_nginx_only_after_django_checked_the_link(cluster):
    token = await visitor_token(cluster.url, SHOP_ORIGIN)
    async with httpx.AsyncClient(base_url=cluster.url, timeout=15) as client:
        uploaded = await client.post(
            "/api/widget/attachments",
            files={"file": ("parcel.png", png(), "image/png")},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert uploaded.status_code == 201, uploaded.text
        attachment = uploaded.json()["attachment"]

        served = await client.get(attachment["url"])
        assert served.status_code == 200
        assert "X-Accel-Redirect" not in served.headers  # nginx acted on it and did not pass it on
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert len(served.content) == attachment["size"]
        with Image.open(io.BytesIO(served.content)) as image:
            assert image.size == (120, 90)

        stored = list((cluster.workdir / "media" / "attachments").rglob("parcel*.png"))
        assert len(stored) == 1
        direct = "/protected-files/" + str(stored[0].relative_to(cluster.workdir / "media"))
        assert (await client.get(direct)).status_code == 404  # internal: only a redirect from Django reaches it

        value = attachment["url"].split("/")[2]
        tampered = await client.get(f"/files/{value[:-3]}abc/")
        assert tampered.status_code == 404 and tampered.json()["error"]["code"] == "not_found"


async def test_nginx_and_django_both_bound_an_upload(cluster):
    token = await visitor_token(cluster.url, SHOP_ORIGIN)
    async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {token}"}
        over_django = b"%PDF-1.4\n" + b"0" * 10_500_000
        refused = await client.post(
            "/api/widget/attachments", files={"file": ("big.pdf", over_django, "application/pdf")}, headers=headers
        )
        assert (refused.status_code, refused.json()["error"]["code"]) == (413, "too_large")
        over_nginx = b"%PDF-1.4\n" + b"0" * 12_000_000
        refused = await client.post(
            "/api/widget/attachments", files={"file": ("bigger.pdf", over_nginx, "application/pdf")}, headers=headers
        )
        assert refused.status_code == 413  # nginx's client_max_body_size: never reached Daphne
        assert not list((cluster.workdir / "media").rglob("*.pdf"))
