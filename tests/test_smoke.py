def test_healthz_answers(client):
    assert client.get("/healthz").status_code == 200


def test_readyz_reports_every_dependency(client, db):
    body = client.get("/readyz").json()
    assert body == {"database": "ok", "redis": "ok", "broker": "ok"}
