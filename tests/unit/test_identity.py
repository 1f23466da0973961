from bot.shop.identity import signed_identity, verified_customer_id

SECRET = "s3cret"


def metadata(customer_id="cust-emma", expires=2_000, secret=SECRET):
    return signed_identity(secret, customer_id, expires)


def test_valid_signature_names_the_customer():
    assert verified_customer_id(SECRET, metadata(), now=1_000) == "cust-emma"


def test_expired_forged_or_tampered_identities_are_refused():
    assert verified_customer_id(SECRET, metadata(expires=999), now=1_000) is None
    assert verified_customer_id(SECRET, metadata(secret="guess"), now=1_000) is None
    tampered = {**metadata(), "customer_id": "cust-liam"}
    assert verified_customer_id(SECRET, tampered, now=1_000) is None
    assert verified_customer_id(SECRET, {**metadata(), "expires": "2000"}, now=1_000) is None
    assert verified_customer_id(SECRET, None, now=1_000) is None
    assert verified_customer_id(SECRET, {"customer_id": "cust-emma"}, now=1_000) is None
