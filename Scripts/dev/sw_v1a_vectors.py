"""Standard Webhooks asymmetric (`v1a`, Ed25519) known answers: vectors/standardwebhooks-v1a.json.

Imported by make-test-vectors.py, which calls write_all() and verify_all(); run that script, not
this module. Ed25519 (RFC 8032) is deterministic, so every run writes the same bytes.

Two vectors are published elsewhere and are reproduced here before they are written:
- the Go reference library's asymmetric test (standard-webhooks/standard-webhooks, pull request
  253, libraries/go/webhook_asymmetric_test.go, TestAsymmetricWebhookSign): the 32-byte seed
  "TESTSIGNINGKEYDONOTUSETHISFORANY", message msg_p5jXN8AQM9LWM0D4loKWxJek at 1614265330 over
  '{"test": 2432232314}'. The public key is not published; it is derived from the seed.
- the `v1a` entry of the spec's example headers (spec/standard-webhooks.md): it verifies under
  Svix's test key (svix-webhooks server/svix-server/src/core/types/mod.rs, whsk_ = seed and public
  key, 64 bytes; its whpk_1SiA4o9… is listed there) over the same message as the Go test, not over
  the id and timestamp printed beside it.
The other cases are ours: wrong key, changed body, a 32-byte value, an empty entry, a key that
is not 32 bytes, mixed symmetric and asymmetric secrets, and the replay window.
"""

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import esp_vectors as ev

GO_SEED = base64.b64decode("VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
GO_SIGNATURE = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
SVIX_SECRET_KEY = base64.b64decode(
    "6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==")
SVIX_PUBLIC = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="
SPEC_SIGNATURE = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
UP_ID, UP_TS, UP_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
GO_SOURCE = ("https://github.com/standard-webhooks/standard-webhooks/pull/253 "
             "(libraries/go/webhook_asymmetric_test.go, TestAsymmetricWebhookSign)")
SPEC_SOURCE = ("https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md "
               "(example headers) and svix-webhooks server/svix-server/src/core/types/mod.rs (the key)")
TOLERANCE = 300


def whpk(key: ed25519.Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "whpk_" + ev.b64(raw)


def sign(key: ed25519.Ed25519PrivateKey, msg_id: str, ts: str, body: bytes) -> str:
    return "v1a," + ev.b64(key.sign(f"{msg_id}.{ts}.".encode() + body))


def verify(secrets: list, headers: dict, body: bytes, verify_at: int) -> bool:
    """An independent verifier of both schemes: v1 under whsec_ secrets, v1a under whpk_ keys."""
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    signed = f"{msg_id}.{ts}.".encode() + body
    publics = []
    for secret in secrets:
        if secret.startswith("whpk_"):
            raw = base64.b64decode(secret[5:] + "=" * (-len(secret[5:]) % 4))
            if len(raw) == 32:
                publics.append(ed25519.Ed25519PublicKey.from_public_bytes(raw))
    symmetric = [s for s in secrets if not s.startswith("whpk_")]
    # sw_verify checks every v1 entry of the header (and the window).
    valid = any(ev.sw_verify(s, headers, body, verify_at, TOLERANCE)[0] for s in symmetric)
    for entry in headers["webhook-signature"].split(" "):
        version, _, value = entry.partition(",")
        if version == "v1a":
            try:
                signature = base64.b64decode(value, validate=True)
            except ValueError:
                continue
            for public in publics:
                try:
                    public.verify(signature, signed)
                    valid = True
                except InvalidSignature:
                    pass
    return valid and abs(verify_at - int(ts)) <= TOLERANCE


def vectors() -> dict:
    go_key = ed25519.Ed25519PrivateKey.from_private_bytes(GO_SEED)
    assert sign(go_key, UP_ID, UP_TS, UP_BODY) == GO_SIGNATURE, "the Go library's published vector"
    svix_key = ed25519.Ed25519PrivateKey.from_private_bytes(SVIX_SECRET_KEY[:32])
    assert whpk(svix_key) == SVIX_PUBLIC and SVIX_SECRET_KEY[32:] == base64.b64decode(SVIX_PUBLIC[5:])
    assert sign(svix_key, UP_ID, UP_TS, UP_BODY) == SPEC_SIGNATURE, "the spec's example v1a entry"

    ours = ev.ed25519_key()
    other = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"postwire standard webhooks other ed25519").digest())
    msg_id = "msg_" + ev.seeded_base62("sw-v1a-1", 27)
    ts = str(ev.T0 + 3000)
    body = b'{"type":"message.bounced","timestamp":"2023-11-14T23:03:20Z","data":{"message_id":"m-1","recipient":"bob@example.com"}}'
    good = sign(ours, msg_id, ts, body)
    hmac_secret = ev.STANDARD_WEBHOOKS_SECRET
    cases = []

    def add(name, secrets, signature, case_body, verify_at, note, case_id=msg_id, case_ts=ts, source=None):
        headers = {"webhook-id": case_id, "webhook-timestamp": case_ts, "webhook-signature": signature}
        case = {"name": name, "secrets": secrets, "headers": headers, "body": case_body.decode(),
                "bodyBase64": ev.b64(case_body), "verifyAt": verify_at,
                "valid": verify(secrets, headers, case_body, verify_at), "note": note}
        if source:
            case["source"] = source
        cases.append(case)

    add("go-library-published", [whpk(go_key)], GO_SIGNATURE, UP_BODY, int(UP_TS),
        "the Go reference library's asymmetric test vector; its public key derived from the published seed",
        UP_ID, UP_TS, GO_SOURCE)
    add("spec-example-signature", [SVIX_PUBLIC], f"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= {SPEC_SIGNATURE}",
        UP_BODY, int(UP_TS), "the spec's example signature header (a v1 entry we hold no secret for, then the v1a "
        "entry) over the Go test's message, under Svix's published test key", UP_ID, UP_TS, SPEC_SOURCE)
    add("own-key", [whpk(ours)], good, body, int(ts), "v1a under the configured public key")
    add("other-key", [whpk(other)], good, body, int(ts), "signed by another key than the one configured")
    add("body-changed", [whpk(ours)], good, body.replace(b"bob@", b"bod@"), int(ts), "one byte of the body changed")
    add("id-changed", [whpk(ours)], good, body, int(ts), "the id the signature covers differs", msg_id[:-1] + "Z")
    add("short-signature", [whpk(ours)], "v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", body, int(ts),
        "a 32-byte value is not an Ed25519 signature (the Go test's negative case)")
    add("empty-entry", [whpk(ours)], "v1a,", body, int(ts), "an entry with no value")
    add("key-wrong-length", ["whpk_" + ev.b64(b"\x01" * 31)], good, body, int(ts),
        "a configured key that is not 32 bytes verifies nothing (and is refused at startup)")
    add("symmetric-and-asymmetric", [hmac_secret, whpk(ours)], f"v1,{ev.b64(b'x' * 32)} {good}", body, int(ts),
        "a source holding a whsec_ secret and a whpk_ key during a move to asymmetric signing; the v1 entry is "
        "wrong, the v1a entry is right")
    add("hmac-entry-public-key-only", [whpk(ours)], "v1," + ev.sw_sign(hmac_secret, msg_id, ts, body), body, int(ts),
        "a correct v1 HMAC entry, but the source holds only a public key: nothing verifies it")
    add("v1a-under-hmac-secret-only", [hmac_secret], good, body, int(ts),
        "a correct v1a entry, but the source holds only a whsec_ secret")
    add("stale", [whpk(ours)], good, body, int(ts) + TOLERANCE + 1, "valid signature, 301 s after its timestamp")
    add("tolerance-edge", [whpk(ours)], good, body, int(ts) + TOLERANCE, "valid signature, exactly 300 s after")
    return {
        "spec": "Standard Webhooks 1.0.0, asymmetric signatures: 'v1a,' + base64(Ed25519 signature of "
                "'{id}.{timestamp}.{body}'); public keys 'whpk_' + base64(32 raw bytes)",
        "toleranceSeconds": TOLERANCE,
        "validMeans": "a verifier holding `secrets` (whsec_ for v1, whpk_ for v1a) accepts the request at "
                      "verifyAt with a 300 s tolerance",
        "cases": cases,
    }


def write_all() -> None:
    ev.write_json("vectors/standardwebhooks-v1a.json", vectors())


def verify_all() -> tuple:
    failures = []
    table = ev.read_json("vectors/standardwebhooks-v1a.json")
    for case in table["cases"]:
        body = base64.b64decode(case["bodyBase64"])
        if body != case["body"].encode():
            failures.append(f"standardwebhooks-v1a {case['name']}: body and bodyBase64 differ")
        if verify(case["secrets"], case["headers"], body, case["verifyAt"]) != case["valid"]:
            failures.append(f"standardwebhooks-v1a {case['name']}: valid is not what an independent verifier says")
    names = {c["name"]: c for c in table["cases"]}
    for name, signature in (("go-library-published", GO_SIGNATURE), ("spec-example-signature", SPEC_SIGNATURE)):
        if not names.get(name, {}).get("valid") or signature not in names[name]["headers"]["webhook-signature"]:
            failures.append(f"standardwebhooks-v1a {name}: the published vector is missing or no longer verifies")
    valid = sum(c["valid"] for c in table["cases"])
    return failures, [f"standardwebhooks-v1a.json   {len(table['cases'])} cases, {valid} valid (2 published)"]
