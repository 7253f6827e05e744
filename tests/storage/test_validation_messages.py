"""A request the storage service refuses as invalid says which field broke which rule, so the
CLI's one line is useful (`body retention_days: Input should be greater than or equal to 1`,
not only "request is invalid"); every problem stays in ``details``."""

from __future__ import annotations

from tests.storage.support import Service, create_site


def test_the_message_names_the_field_and_the_rule(embedded: Service) -> None:
    site = create_site(embedded.url)
    r = site.client.put(f"/v1/sites/{site.site_id}/retention", json={"retention_days": 0})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == "body retention_days: Input should be greater than or equal to 1"
    assert error["details"][0]["loc"] == ["body", "retention_days"]


def test_several_problems_are_counted(embedded: Service) -> None:
    site = create_site(embedded.url)
    r = site.client.put(
        f"/v1/sites/{site.site_id}/retention", json={"retention_days": 0, "extra": 1}
    )
    error = r.json()["error"]
    assert error["message"].startswith("body ") and error["message"].endswith("(and 1 more)")
    assert len(error["details"]) == 2
