"""MailerSend, Resend / Standard Webhooks, Mandrill and Amazon SES (via SNS) fixtures and vectors.

Imported by make-test-vectors.py, which calls write_all() and verify_all(); run that script, not
this module. Like the rest of that script everything here is deterministic: fixed inputs, HMACs,
RFC 8032 Ed25519, and RSA PKCS#1 v1.5 signatures (deterministic by construction) made with an RSA
key whose primes are derived from a fixed seed. The RSA private key is never written: only the
self-signed certificate (Fixtures/sns/cert.pem) and the messages it signed.

Files written (paths relative to Tests/ProvidersTests/Fixtures/):
    vectors/mailersend-hmac.json       MailerSend `Signature` header known answers
    vectors/standardwebhooks.json      Standard Webhooks / Svix known answers (incl. the spec's own)
    vectors/mandrill.json              X-Mandrill-Signature known answers
    vectors/sns.json                   SNS signature, string-to-sign and SigningCertURL policy cases
    mailersend/<event>.json            one signed MailerSend body per event (+ signatures.json)
    resend/<event>.json                one Resend body per event (+ headers.json: svix-* headers)
    mandrill/batch.form                one x-www-form-urlencoded Mandrill batch (+ batch.signature.json)
    ses/<event>.json                   one signed SNS HTTP body per SES event (+ headers.json)
    sns/cert.pem                       the self-signed stand-in for an SNS signing certificate
    sns/<type>.json                    SubscriptionConfirmation / UnsubscribeConfirmation bodies
    <provider>/expected.json           what a correct normalizer must produce for each fixture
"""

import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.x509.oid import NameOID

FIXTURES = Path(__file__).resolve().parents[2] / "Tests" / "ProvidersTests" / "Fixtures"

T0 = 1700000000  # 2023-11-14T22:13:20Z, as in make-test-vectors.py
MICROS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

MAILERSEND_SECRET = "postwire-mailersend-fixture-secret"
RESEND_SECRET = "whsec_" + base64.b64encode(b"postwire-resend-fixture-secret").decode()
STANDARD_WEBHOOKS_SECRET = "whsec_" + base64.b64encode(b"postwire-standard-webhooks-secret-v1").decode()
STANDARD_WEBHOOKS_OTHER_SECRET = "whsec_" + base64.b64encode(b"postwire-standard-webhooks-rotated-out").decode()
STANDARD_WEBHOOKS_ED25519_SEED = b"postwire standard webhooks ed25519 key v1"
MANDRILL_KEY = "postwire-mandrill-fixture-key"
MANDRILL_URL = "https://postwire:hook-pass@hooks.example.com/webhooks/mandrill/acme"
SNS_RSA_SEED = b"postwire sns fixture rsa key v1"
SNS_OTHER_RSA_SEED = b"postwire sns other rsa key v1"
SNS_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
SNS_REGION = "us-east-1"
AWS_ACCOUNT = "123456789012"
SNS_TOPIC_ARN = f"arn:aws:sns:{SNS_REGION}:{AWS_ACCOUNT}:postwire-ses-events"
SNS_CERT_URL_PATTERN = r"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$"

EVENT_TYPES = ("queued", "sent", "delivered", "deferred", "bounced", "rejected", "failed", "opened",
               "clicked", "complained", "unsubscribed", "subscribed", "autoresponded", "unknown")
BOUNCE_CLASSES = (None, "hard", "soft", "block", "undetermined")
REJECT_REASONS = (None, "invalid", "bounced", "timed_out", "blocked", "spam", "unsubscribed", "other")

IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148")
DESKTOP_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.1 Safari/605.1.15")
CLICK_URL = "https://shop.example.com/spring?utm_source={esp}&utm_campaign=spring-sale"


# --- helpers -------------------------------------------------------------------------------------


def write_bytes(relative: str, data: bytes) -> None:
    path = FIXTURES / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_json(relative: str, value) -> None:
    """Pretty JSON, UTF-8 (not \\u-escaped), keys in the order given, one trailing newline."""
    write_bytes(relative, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode())


def read_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def read_json(relative: str):
    return json.loads(read_bytes(relative))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seeded_digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


def seeded_hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def seeded_alnum(seed: str, length: int, alphabet: str) -> str:
    number = int.from_bytes(hashlib.sha512(seed.encode()).digest(), "big")
    out = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        out.append(alphabet[index])
    return "".join(out)


def seeded_base62(seed: str, length: int) -> str:
    return seeded_alnum(seed, length, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def seeded_base36(seed: str, length: int) -> str:
    return seeded_alnum(seed, length, "0123456789abcdefghijklmnopqrstuvwxyz")


def seeded_uuid(seed: str) -> str:
    return str(uuid.UUID(bytes=seeded_digest(seed)[:16], version=4))


def iso(micros: int, digits: int = 3, suffix: str = "Z") -> str:
    """Unix microseconds -> ISO 8601 UTC with `digits` fractional digits (must not lose precision)."""
    seconds, fraction = divmod(micros, MICROS)
    assert fraction % (10 ** (6 - digits)) == 0, f"{micros} does not fit {digits} fractional digits"
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{fraction:06d}"[:digits]
    return text + suffix


def iso_micros(text: str) -> int:
    """ISO 8601 with Z or an offset -> exact Unix microseconds (integer arithmetic)."""
    return (datetime.fromisoformat(text) - EPOCH) // timedelta(microseconds=1)


def php_json(value) -> str:
    """What PHP's json_encode() writes by default: compact, non-ASCII as \\uXXXX, "/" as "\\/".

    MailerSend and Mandrill both send JSON in this shape (docs/PROVIDERS.md section 1.1; Mandrill's
    own sample payloads contain "http:\\/\\/mandrill.com"). Outside strings JSON text has no "/",
    so escaping every "/" in the serialized text only touches string contents.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def compact_json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


EXPECTED_FIELDS = ("type", "espEvent", "recipient", "occurredAtMicros", "messageId", "bounceClass",
                   "rejectReason", "smtpCode", "clickURL", "userAgent", "ip", "isFirst", "isMachineOpen",
                   "tags", "metadata", "campaign", "dedupKeyInputs")


def expect(type_, esp_event, recipient, occurred, message_id, dedup, notes=None, **fields) -> dict:
    """One expected normalized event with every field present, in a fixed key order."""
    unknown = set(fields) - set(EXPECTED_FIELDS)
    assert not unknown, unknown
    value = {
        "type": type_, "espEvent": esp_event,
        "recipient": recipient.lower() if recipient else None,
        "occurredAtMicros": occurred, "messageId": message_id,
        "bounceClass": None, "rejectReason": None, "smtpCode": None, "clickURL": None,
        "userAgent": None, "ip": None, "isFirst": None, "isMachineOpen": None,
        "tags": [], "metadata": {}, "campaign": None, "dedupKeyInputs": dedup,
    }
    value.update(fields)
    assert value["type"] in EVENT_TYPES and value["bounceClass"] in BOUNCE_CLASSES
    assert value["rejectReason"] in REJECT_REASONS
    assert value["rejectReason"] is None or value["type"] == "rejected", "rejectReason only on rejected"
    assert value["bounceClass"] is None or value["type"] in ("bounced", "deferred")
    if notes:
        value["_notes"] = notes
    return value


COMMON_RULES = [
    "Each key not starting with '_' is a fixture file in this folder; its value is the normalized "
    "event (or, for batches and multi-recipient SES events, the array of events in order).",
    "recipient: addr-spec only, lower-cased. occurredAtMicros: exact Unix microseconds (UTC).",
    "rejectReason only on 'rejected' events (RejectReason: why an ESP refused to send; what the "
    "Mailgun/SendGrid normalizers and the Postmark/SparkPost/Brevo/Mailjet fixtures do): the ESP's "
    "reason mapped to anymail's invalid/bounced/timed_out/blocked/spam/unsubscribed/other, null when "
    "the ESP gives none. anymail (14.3) also sets bounced/spam/unsubscribed on bounces, complaints "
    "and unsubscribes; these files do not.",
    "bounceClass: bounced -> hard/soft/block/undetermined from the ESP's classification; deferred -> "
    "'soft' (a temporary failure, as the Brevo normalizer already does); every other type -> null.",
    "smtpCode: the 3-digit reply code from the ESP's raw SMTP text, when it carries one; else null.",
    "isFirst: only where the ESP sends a separate unique/first-engagement event: true on that event, "
    "false on the every-open/every-click event (which also fires for the first one, so count all "
    "opens from isFirst != true and unique opens from isFirst == true); else null. isMachineOpen: "
    "only where the ESP reports it; else null.",
    "tags: the ESP's list-of-strings tags. Key/value 'tags' (Resend, SES message tags) go to "
    "metadata instead. campaign: metadata['campaign'] where the sender set it, or the ESP's own "
    "campaign/broadcast id; else null.",
    "dedupKeyInputs: the values docs/PROVIDERS.md 13.3 names, in that order; how they are joined or "
    "hashed is the implementation's choice.",
]


def write_expected(folder: str, about: str, rules: list, entries: dict) -> None:
    write_json(f"{folder}/expected.json", {"_about": about, "_rules": COMMON_RULES + rules, **entries})


# --- MailerSend ----------------------------------------------------------------------------------
# Payload shape: the "legacy" activity webhook that docs/PROVIDERS.md section 11 and
# django-anymail's tests/test_mailersend_webhooks.py describe (the latter is a real, sanitized
# MailerSend body). MailerSend's current docs show a newer, flat shape for webhook "version 1"; one
# fixture (activity.sent.flat.json) follows that. Values are invented.

MS_DOMAIN_ID = seeded_base36("ms-domain", 16)
MS_WEBHOOK_ID = seeded_base36("ms-webhook", 16)
MS_URL = "https://hooks.example.com/postwire/mailersend/acme"
MS_FROM = "news@mail.example.com"


def ms_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def ms_iso(micros: int) -> str:
    return iso(micros, 6)  # MailerSend writes 6 fractional digits: 2023-02-27T21:09:49.506000Z


MS_MESSAGES = {
    "alice": {"recipient": "Alice@Example.com", "subject": "Grüße aus São Paulo: spring sale",
              "tags": ["newsletter", "spring-sale"], "sent": T0 * MICROS + 1_200_000},
    "bob": {"recipient": "bob@example.net", "subject": "Your receipt", "tags": ["receipt"],
            "sent": T0 * MICROS + 2_400_000},
    "nobody": {"recipient": "Nobody@Example.org", "subject": "Spring sale starts now",
               "tags": ["newsletter"], "sent": T0 * MICROS + 3_600_000},
    "carol": {"recipient": "carol@example.org", "subject": "Spring sale starts now",
              "tags": ["newsletter"], "sent": T0 * MICROS + 4_800_000},
}


def ms_ids(key: str) -> dict:
    return {name: seeded_hex(f"ms-{name}-{key}", 24) for name in ("email", "message", "recipient")}


def ms_event(file_type: str, key: str, offset_micros: int, status: str, morph) -> tuple:
    message = MS_MESSAGES[key]
    ids = ms_ids(key)
    occurred = message["sent"] + offset_micros
    activity_id = seeded_hex(f"ms-activity-{file_type}", 24)
    body = {
        "type": f"activity.{file_type}",
        "domain_id": MS_DOMAIN_ID,
        "created_at": ms_iso(occurred + 14_507),
        "webhook_id": MS_WEBHOOK_ID,
        "url": MS_URL,
        "data": {
            "object": "activity",
            "id": activity_id,
            "type": file_type,
            "created_at": ms_iso(occurred),
            "email": {
                "object": "email",
                "id": ids["email"],
                "created_at": ms_iso(message["sent"] - 365_000),
                "from": MS_FROM,
                "subject": message["subject"],
                "status": status,
                "tags": message["tags"],
                "message": {"object": "message", "id": ids["message"],
                            "created_at": ms_iso(message["sent"] - 445_000)},
                "recipient": {"object": "recipient", "id": ids["recipient"],
                              "email": message["recipient"], "created_at": "2023-10-02T08:15:00.000000Z"},
            },
            "morph": morph,
            "template_id": "",
        },
    }
    return body, occurred, activity_id


def ms_engagement(kind: str, seed: str, occurred_offset: int, key: str, **extra) -> dict:
    created = MS_MESSAGES[key]["sent"] + occurred_offset - 7_000
    return {"object": kind, "id": seeded_hex(f"ms-morph-{seed}", 24), "created_at": ms_iso(created), **extra}


def mailersend_fixtures() -> tuple:
    """(files {name: bytes}, expected {name: value})."""
    click = CLICK_URL.format(esp="mailersend")
    specs = [
        # file type, message, offset µs, email.status, morph, expected (type, extra fields, notes)
        ("sent", "alice", 306_000, "sent", None, ("sent", {}, None)),
        ("delivered", "alice", 2_665_000, "delivered", None, ("delivered", {}, None)),
        ("soft_bounced", "bob", 5_747_000, "rejected",
         {"object": "recipient_bounce", "reason": "Mailbox full"},
         ("bounced", {"bounceClass": "soft"},
          "morph.reason is human text without an SMTP code, so smtpCode is null.")),
        ("hard_bounced", "nobody", 1_593_000, "rejected",
         {"object": "recipient_bounce", "reason": "Host or domain name not found"},
         ("bounced", {"bounceClass": "hard"}, None)),
        ("deferred", "carol", 30_000_000, "sent", None,
         ("deferred", {"bounceClass": "soft"},
          "MailerSend lists activity.deferred ('temporarily delayed', paid plans only) but publishes no "
          "payload sample for it; this fixture uses the common activity envelope with morph null. "
          "anymail maps it to unknown; docs/PROVIDERS.md 13.1 recommends deferred.")),
        ("opened", "alice", 60_025_000, "delivered",
         ms_engagement("open", "opened", 60_025_000, "alice", ip="203.0.113.7"),
         ("opened", {"isFirst": False, "ip": "203.0.113.7"},
          "activity.opened fires for every open; opened_unique only for the first, so isFirst false "
          "here. The open morph has no user agent.")),
        ("opened_unique", "alice", 60_025_000, "delivered",
         ms_engagement("open", "opened_unique", 60_025_000, "alice", ip="203.0.113.7"),
         ("opened", {"isFirst": True, "ip": "203.0.113.7"},
          "A unique open arrives as its own webhook beside activity.opened, with its own data.id, so "
          "both are kept; count unique opens with isFirst. anymail maps *_unique to unknown.")),
        ("clicked", "alice", 90_691_000, "delivered",
         ms_engagement("click", "clicked", 90_691_000, "alice", ip="203.0.113.7", url=click),
         ("clicked", {"isFirst": False, "ip": "203.0.113.7", "clickURL": click}, None)),
        ("clicked_unique", "alice", 90_691_000, "delivered",
         ms_engagement("click", "clicked_unique", 90_691_000, "alice", ip="203.0.113.7", url=click),
         ("clicked", {"isFirst": True, "ip": "203.0.113.7", "clickURL": click}, None)),
        ("unsubscribed", "alice", 200_791_000, "delivered",
         {"object": "recipient_unsubscribe", "reason": "option_3",
          "readable_reason": "I get too many emails"},
         ("unsubscribed", {}, None)),
        ("spam_complaint", "alice", 300_747_000, "delivered",
         {"object": "spam_complaint", "reason": None},
         ("complained", {}, None)),
    ]
    files, expected = {}, {}
    for file_type, key, offset, status, morph, (type_, extra, notes) in specs:
        body, occurred, activity_id = ms_event(file_type, key, offset, status, morph)
        name = f"activity.{file_type}.json"
        files[name] = php_json(body).encode()
        message = MS_MESSAGES[key]
        expected[name] = expect(type_, f"activity.{file_type}", message["recipient"], occurred,
                                ms_ids(key)["message"], [activity_id], notes,
                                tags=message["tags"], **extra)

    # The flat payload of MailerSend's current docs ("An example of activity.sent event").
    ids = ms_ids("alice")
    flat_created = MS_MESSAGES["alice"]["sent"] + 1_000_000 - 200_000
    flat_id = seeded_hex("ms-activity-sent-flat", 24)
    flat = {
        "type": "activity.sent",
        "created_at": ms_iso(flat_created),
        "data": {
            "id": flat_id, "domain_id": MS_DOMAIN_ID, "message_id": ids["message"],
            "email_id": ids["email"], "type": "sent", "subject": MS_MESSAGES["alice"]["subject"],
            "email": MS_MESSAGES["alice"]["recipient"], "tags": MS_MESSAGES["alice"]["tags"], "meta": [],
        },
    }
    files["activity.sent.flat.json"] = php_json(flat).encode()
    expected["activity.sent.flat.json"] = expect(
        "sent", "activity.sent", MS_MESSAGES["alice"]["recipient"], flat_created, ids["message"], [flat_id],
        "MailerSend's current webhook docs show this flat shape (data.message_id, data.email, data.tags, "
        "no data.created_at, no email/morph objects) for webhook version 1 ('1 Recommended, 2 Legacy'). "
        "The event time is then only the top-level created_at.",
        tags=MS_MESSAGES["alice"]["tags"])
    return files, expected


def mailersend_vectors() -> dict:
    event = {"type": "activity.clicked", "created_at": "2023-11-14T22:14:51.905507Z",
             "data": {"object": "activity", "id": "6553f14b1a2b3c4d5e6f7081", "type": "clicked",
                      "morph": {"object": "click", "url": "https://shop.example.com/spring?a=1&b=2",
                                "ip": "203.0.113.7"}}}
    escaped = php_json(event).encode()
    plain = json.dumps(event, separators=(",", ":")).encode()
    pretty = (json.dumps({"type": "activity.opened", "data": {"subject": "Grüße ✉️", "email": "josé@example.com"}},
                         indent=4, ensure_ascii=False) + "\n").encode()
    long_secret = "s" * 100
    cases = []

    def add(name, secret, body, signature, valid, note):
        cases.append({"name": name, "secret": secret, "body": body.decode(), "bodyBase64": b64(body),
                      "signature": signature, "valid": valid, "note": note})

    sig_escaped = ms_hmac(MAILERSEND_SECRET, escaped)
    add("escaped-slashes", MAILERSEND_SECRET, escaped, sig_escaped, True,
        "compact body with \\/ escaped slashes, as MailerSend sends it: HMAC the bytes as received")
    add("reencoded-without-escapes", MAILERSEND_SECRET, plain, sig_escaped, False,
        "the same JSON re-serialized without \\/ escapes, checked against escaped-slashes' signature: "
        "re-encoding before verifying breaks the signature")
    add("unescaped-own-signature", MAILERSEND_SECRET, plain, ms_hmac(MAILERSEND_SECRET, plain), True,
        "the unescaped body with its own signature: the MAC is over bytes, not over JSON values")
    add("pretty-unicode", MAILERSEND_SECRET, pretty, ms_hmac(MAILERSEND_SECRET, pretty), True,
        "pretty-printed, raw UTF-8 (Grüße, ✉️, josé), trailing newline")
    add("wrong-secret", MAILERSEND_SECRET, escaped, ms_hmac("postwire-mailersend-other-secret", escaped), False,
        "escaped-slashes' body signed with a different secret")
    changed = escaped.replace(b"203.0.113.7", b"203.0.113.8")
    add("body-changed", MAILERSEND_SECRET, changed, sig_escaped, False,
        "escaped-slashes' signature; one character of the body changed")
    add("trailing-newline-added", MAILERSEND_SECRET, escaped + b"\n", sig_escaped, False,
        "escaped-slashes' signature; the body gained a trailing newline")
    add("truncated-signature", MAILERSEND_SECRET, escaped, sig_escaped[:32], False,
        "the first 32 hex digits of the right signature")
    add("empty-signature", MAILERSEND_SECRET, escaped, "", False, "an empty Signature header")
    add("empty-body", MAILERSEND_SECRET, b"", ms_hmac(MAILERSEND_SECRET, b""), True,
        "edge: HMAC of zero bytes")
    add("long-secret", long_secret, escaped, ms_hmac(long_secret, escaped), True,
        "edge: 100-byte secret, longer than the SHA-256 block, so HMAC hashes the key first")
    return {"header": "Signature",
            "algorithm": "lowercase hex HMAC-SHA256(key = UTF-8 signing secret, message = raw body bytes)",
            "fixtureSecret": MAILERSEND_SECRET, "cases": cases}


# --- Standard Webhooks / Svix / Resend -----------------------------------------------------------


def sw_key(secret: str) -> bytes:
    """The HMAC key: base64-decode the part after whsec_ (reference libraries pad it first)."""
    text = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    return base64.b64decode(text + "=" * (-len(text) % 4))


def sw_sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return b64(hmac.new(sw_key(secret), signed, hashlib.sha256).digest())


def sw_verify(secret: str, headers: dict, body: bytes, now: int, tolerance: int = 300) -> tuple:
    """A reference HMAC (v1) verifier, like the standardwebhooks libraries. Returns (ok, reason)."""
    def header(name):
        return headers.get(f"webhook-{name}", headers.get(f"svix-{name}"))

    msg_id, timestamp, signatures = header("id"), header("timestamp"), header("signature")
    if not (msg_id and timestamp and signatures):
        return False, "missing header"
    if not timestamp.isdigit():
        return False, "bad timestamp"
    if int(timestamp) < now - tolerance:
        return False, "timestamp too old"
    if int(timestamp) > now + tolerance:
        return False, "timestamp too new"
    expected = sw_sign(secret, msg_id, timestamp, body)
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return True, "ok"
    return False, "no matching v1 signature"


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(STANDARD_WEBHOOKS_ED25519_SEED).digest())


def ed25519_public_whpk(key: ed25519.Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "whpk_" + b64(raw)


def sw_headers(prefix: str, msg_id: str, timestamp: str, signature: str) -> dict:
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": timestamp, f"{prefix}-signature": signature}


UPSTREAM_SW_SOURCE = ("https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/"
                      "javascript/src/webhook.test.ts (test 'sign function works' and 'multi sig "
                      "payload is valid')")


def standard_webhooks_vectors() -> dict:
    secret, other = STANDARD_WEBHOOKS_SECRET, STANDARD_WEBHOOKS_OTHER_SECRET
    ed_key = ed25519_key()
    msg_id = "msg_" + seeded_base62("sw-vector-1", 27)
    ts = str(T0 + 1000)
    body = b'{"type":"email.delivered","created_at":"2023-11-14T22:29:58.512Z","data":{"email_id":"4ef3a0c5-3b1c-4f0e-9c1e-0b8e9a6f2d11","to":["alice@example.com"]}}'
    sig = sw_sign(secret, msg_id, ts, body)
    ed_sig = b64(ed_key.sign(f"{msg_id}.{ts}.".encode() + body))
    cases = []

    def add(name, prefix, case_secret, headers, case_body, verify_at, note, source=None):
        valid, reason = sw_verify(case_secret, headers, case_body, verify_at)
        case = {"name": name, "headerPrefix": prefix, "secret": case_secret, "headers": headers,
                "body": case_body.decode(), "bodyBase64": b64(case_body), "verifyAt": verify_at,
                "valid": valid, "reason": reason, "note": note}
        if valid:
            hid = headers.get(f"{prefix}-id")
            hts = headers.get(f"{prefix}-timestamp")
            case["signedContent"] = f"{hid}.{hts}." + case_body.decode()
        if source:
            case["source"] = source
        cases.append(case)

    up_secret, up_id, up_ts = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330"
    up_body, up_sig = b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert "v1," + sw_sign(up_secret, up_id, up_ts, up_body) == up_sig
    add("upstream-sign-function", "webhook", up_secret, sw_headers("webhook", up_id, up_ts, up_sig), up_body,
        int(up_ts), "the spec repository's own published vector", UPSTREAM_SW_SOURCE)
    bogus = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    add("upstream-multi-signature", "webhook", up_secret,
        sw_headers("webhook", up_id, up_ts, f"v1,{bogus} v2,{bogus} {up_sig} v1,{bogus}"), up_body, int(up_ts),
        "the upstream 'multi sig payload' header layout around the published signature: one of four "
        "entries (the third) is the valid v1", UPSTREAM_SW_SOURCE)
    add("upstream-secret-without-prefix", "webhook", up_secret[len("whsec_"):],
        sw_headers("webhook", up_id, up_ts, up_sig), up_body, int(up_ts),
        "reference libraries accept the secret with or without whsec_", UPSTREAM_SW_SOURCE)

    add("svix-headers", "svix", secret, sw_headers("svix", msg_id, ts, f"v1,{sig}"), body, int(ts),
        "svix-id / svix-timestamp / svix-signature, as Resend sends them")
    add("webhook-headers", "webhook", secret, sw_headers("webhook", msg_id, ts, f"v1,{sig}"), body, int(ts),
        "the same message with the spec's webhook-* header names")
    old = sw_sign(other, msg_id, ts, body)
    add("second-of-several", "svix", secret, sw_headers("svix", msg_id, ts, f"v1,{old} v1,{sig}"), body, int(ts),
        "two space-separated v1 entries (key rotation); only the second verifies with this secret")
    add("v1a-entry-ignored", "webhook", secret, sw_headers("webhook", msg_id, ts, f"v1a,{ed_sig} v1,{sig}"),
        body, int(ts), "a v1a (Ed25519) entry before the v1 entry: an HMAC verifier skips it. The v1a "
        "value is a real Ed25519 signature of the signed content under ed25519PublicKey")
    add("v1a-only", "webhook", secret, sw_headers("webhook", msg_id, ts, f"v1a,{ed_sig}"), body, int(ts),
        "only a v1a entry: an HMAC-only verifier must reject (an asymmetric verifier with "
        "ed25519PublicKey would accept)")
    add("unknown-version", "webhook", secret, sw_headers("webhook", msg_id, ts, f"v2,{sig}"), body, int(ts),
        "the right MAC under version v2: only v1 entries are HMAC-SHA256")
    add("no-version-prefix", "webhook", secret, sw_headers("webhook", msg_id, ts, sig), body, int(ts),
        "the right MAC without the 'v1,' prefix")
    add("wrong-secret", "svix", secret, sw_headers("svix", msg_id, ts, f"v1,{old}"), body, int(ts),
        "signed with otherSecret")
    changed = body.replace(b"alice@", b"alicf@")
    add("body-changed", "svix", secret, sw_headers("svix", msg_id, ts, f"v1,{sig}"), changed, int(ts),
        "svix-headers' signature; one byte of the body changed")
    add("timestamp-changed", "svix", secret, sw_headers("svix", msg_id, str(int(ts) + 1), f"v1,{sig}"), body,
        int(ts), "svix-headers' signature; the timestamp header is one second later (within tolerance)")
    changed_id = msg_id[:-1] + ("X" if msg_id[-1] != "X" else "Y")
    add("id-changed", "svix", secret, sw_headers("svix", changed_id, ts, f"v1,{sig}"), body, int(ts),
        "svix-headers' signature; the last character of the id changed")
    add("stale-timestamp", "svix", secret, sw_headers("svix", msg_id, ts, f"v1,{sig}"), body, int(ts) + 301,
        "valid signature, verified 301 s after its timestamp (tolerance 300 s)")
    add("future-timestamp", "svix", secret, sw_headers("svix", msg_id, ts, f"v1,{sig}"), body, int(ts) - 301,
        "valid signature, verified 301 s before its timestamp")
    add("tolerance-edge", "svix", secret, sw_headers("svix", msg_id, ts, f"v1,{sig}"), body, int(ts) + 300,
        "verified exactly 300 s after its timestamp: still inside the window")
    slash_body = '{"type":"email.clicked","data":{"click":{"link":"https:\\/\\/shop.example.com\\/a?b=1"},"subject":"Grüße ✉️"}}'.encode()
    slash_id, slash_ts = "msg_" + seeded_base62("sw-vector-2", 27), str(T0 + 2000)
    add("escaped-slash-unicode", "webhook", secret,
        sw_headers("webhook", slash_id, slash_ts, "v1," + sw_sign(secret, slash_id, slash_ts, slash_body)),
        slash_body, int(slash_ts), "body with \\/ escapes and raw UTF-8: sign and verify the bytes as sent")
    padded = "whsec_" + b64(hashlib.sha256(b"postwire sw 31-byte key").digest()[:31]).rstrip("=")
    add("secret-needs-padding", "webhook", padded,
        sw_headers("webhook", msg_id, ts, "v1," + sw_sign(padded, msg_id, ts, body)), body, int(ts),
        "a 31-byte key whose base64 lost its '=' padding: pad before decoding, as the reference "
        "libraries do")
    raw_public = ed_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "spec": "Standard Webhooks 1.0.0 (https://www.standardwebhooks.com); Svix uses the same scheme "
                "with svix-* header names",
        "signedContent": "UTF-8 '{id}.{timestamp}.' followed by the raw body bytes",
        "signature": "each space-separated entry 'v1,' + base64(HMAC-SHA256(key, signed content)); the key "
                     "is the base64-decoded secret after 'whsec_'",
        "toleranceSeconds": 300,
        "secret": secret,
        "secretKeyHex": sw_key(secret).hex(),
        "otherSecret": other,
        "ed25519PublicKey": ed25519_public_whpk(ed_key),
        "ed25519PublicKeyHex": raw_public.hex(),
        "validMeans": "an HMAC-only (v1) verifier accepts the request at verifyAt with a 300 s tolerance",
        "cases": cases,
    }


# Resend payloads: https://resend.com/docs/webhooks/emails/* (examples), contact.created from
# resend-rust's event tests. Values are invented.

RESEND_FROM = "Acme Store <news@mail.example.com>"
RESEND_BROADCAST = seeded_uuid("resend-broadcast")


def resend_fixtures() -> tuple:
    """(files {name: bytes}, headers {name: {...}}, expected {name: value})."""
    alice = {"email_id": seeded_uuid("resend-email-alice"), "to": ["Alice Example <Alice@Example.COM>"],
             "subject": "Grüße ✉️ the spring sale", "sent": T0 * MICROS + 894_719, "broadcast": True}
    others = {
        "bob": {"email_id": seeded_uuid("resend-email-bob"), "to": ["bob@example.net"],
                "subject": "Your receipt", "sent": T0 * MICROS + 10_000_000 + 512_301},
        "carol": {"email_id": seeded_uuid("resend-email-carol"), "to": ["carol@example.org"],
                  "subject": "Your receipt", "sent": T0 * MICROS + 20_000_000 + 100_200},
        "dave": {"email_id": seeded_uuid("resend-email-dave"), "to": ["dave@example.org"],
                 "subject": "Your receipt", "sent": T0 * MICROS + 30_000_000 + 1},
        "erin": {"email_id": seeded_uuid("resend-email-erin"), "to": ["Erin@Example.org"],
                 "subject": "Your receipt", "sent": T0 * MICROS + 40_000_000 + 654_321},
        "frank": {"email_id": seeded_uuid("resend-email-frank"), "to": ["frank@example.com"],
                  "subject": "See you tomorrow", "sent": T0 * MICROS + 50_000_000 + 777_000},
    }
    messages = {"alice": alice, **others}
    tags = {"alice": {"category": "newsletter"},
            "frank": {"category": "reminder", "campaign": "spring-sale"}}
    click_url = CLICK_URL.format(esp="resend")
    click_time = alice["sent"] + 90_517_000 - 894_719 + 1_000  # a whole millisecond

    specs = [
        # event, message, created_at offset from send (ms), extra data object, expected
        ("email.sent", "alice", 1_232, None, ("sent", {})),
        ("email.delivered", "alice", 3_508, None, ("delivered", {})),
        ("email.opened", "alice", 65_106, None, ("opened", {})),
        ("email.clicked", "alice", 90_730,
         ("click", {"ipAddress": "203.0.113.7", "link": click_url, "timestamp": iso(click_time),
                    "userAgent": IPHONE_UA}),
         ("clicked", {"clickURL": click_url, "ip": "203.0.113.7", "userAgent": IPHONE_UA})),
        ("email.complained", "alice", 400_250, None, ("complained", {})),
        ("email.bounced", "bob", 1_593, ("bounce", {
            "diagnosticCode": ["smtp; 550 5.1.1 The email account that you tried to reach does not exist"],
            "message": "The recipient's email provider sent a hard bounce message, but didn't specify the "
                       "reason for the hard bounce. We recommend removing the recipient's email address "
                       "from your mailing list.",
            "subType": "General", "type": "Permanent"}),
         ("bounced", {"bounceClass": "hard", "smtpCode": 550})),
        ("email.delivery_delayed", "carol", 3_600_021, None, ("deferred", {"bounceClass": "soft"})),
        ("email.failed", "dave", 402, ("failed", {"reason": "reached_daily_quota"}), ("failed", {})),
        ("email.suppressed", "erin", 311, ("suppressed", {
            "message": "Resend has suppressed sending to this address because it is on the account-level "
                       "suppression list. This does not count toward your bounce rate metric",
            "type": "OnAccountSuppressionList"}),
         ("rejected", {"rejectReason": "blocked"})),
        ("email.scheduled", "frank", 127, None, ("queued", {})),
    ]
    notes = {
        "email.opened": "Resend's open payload carries no IP or user agent.",
        "email.clicked": "occurredAtMicros is the top-level created_at (docs/PROVIDERS.md 0/10); "
                         "data.click.timestamp, the click itself, is a little earlier.",
        "email.bounced": "bounce.type Permanent -> hard; smtpCode from bounce.diagnosticCode[0].",
        "email.delivery_delayed": "anymail maps it to deferred too.",
        "email.failed": "Not sent at all (here: daily quota); failed.reason would be the description. "
                        "anymail leaves email.failed unknown; docs/PROVIDERS.md 13.1 recommends failed.",
        "email.suppressed": "Refused by Resend's suppression list (recommended mapping: rejected). The "
                            "reason is policy, so 'blocked' (anymail's 'suppressed sending' -> blocked text "
                            "rule). anymail leaves email.suppressed unknown.",
        "email.scheduled": "Accepted for later sending: queued (docs/PROVIDERS.md 13.1).",
    }
    files, headers, expected = {}, {}, {}
    for event, key, offset_ms, extra, (type_, fields) in specs:
        message = messages[key]
        created = message["sent"] - message["sent"] % 1000 + offset_ms * 1000
        data = {}
        if message.get("broadcast"):
            data["broadcast_id"] = RESEND_BROADCAST
        data.update({"created_at": iso(message["sent"], 6, "+00:00"), "email_id": message["email_id"],
                     "from": RESEND_FROM, "to": message["to"], "subject": message["subject"]})
        if extra:
            data[extra[0]] = extra[1]
        message_tags = tags.get(key, {"category": "confirm_email"})
        data["tags"] = message_tags
        body = compact_json({"type": event, "created_at": iso(created), "data": data}).encode()
        name = f"{event}.json"
        files[name] = body
        msg_id = "msg_" + seeded_base62(f"resend-svix-{event}", 27)
        attempt = str(created // MICROS + 2)
        headers[name] = {"svix-id": msg_id, "svix-timestamp": attempt,
                         "svix-signature": "v1," + sw_sign(RESEND_SECRET, msg_id, attempt, body)}
        recipient = message["to"][0].split("<")[-1].rstrip(">")
        expected[name] = expect(type_, event, recipient, created, message["email_id"], [msg_id],
                                notes.get(event), metadata=message_tags,
                                campaign=message_tags.get("campaign",
                                                          RESEND_BROADCAST if message.get("broadcast") else None),
                                **fields)

    contact_created = T0 * MICROS + 60_000_000 + 678_000
    contact = {"type": "contact.created", "created_at": iso(contact_created), "data": {
        "id": seeded_uuid("resend-contact"), "audience_id": seeded_uuid("resend-audience"),
        "segment_ids": [seeded_uuid("resend-audience")], "created_at": iso(contact_created - 1_000),
        "updated_at": iso(contact_created), "email": "Grace@Example.com", "first_name": "Grace",
        "last_name": "Hopper", "unsubscribed": False}}
    body = compact_json(contact).encode()
    msg_id = "msg_" + seeded_base62("resend-svix-contact.created", 27)
    attempt = str(contact_created // MICROS + 1)
    files["contact.created.json"] = body
    headers["contact.created.json"] = {"svix-id": msg_id, "svix-timestamp": attempt,
                                       "svix-signature": "v1," + sw_sign(RESEND_SECRET, msg_id, attempt, body)}
    expected["contact.created.json"] = expect(
        "unknown", "contact.created", "grace@example.com", contact_created, None, [msg_id],
        "Not a message event (docs/PROVIDERS.md 13.1: Resend contact.* -> unknown). Keep it, with the "
        "contact's address as recipient and no message id.")
    return files, headers, expected


# --- Mandrill ------------------------------------------------------------------------------------
# Shapes: Mailchimp Transactional / Mandrill webhook docs (message events, sync events) and the
# sample events Mandrill itself sends (mirrored in influxdata/telegraf and anymail tests).


def mandrill_signature(key: str, url: str, params: list) -> tuple:
    """(signed string, base64 HMAC-SHA1): url + key + value for each POST parameter, sorted by key."""
    signed = url + "".join(k + v for k, v in sorted(params, key=lambda kv: kv[0]))
    return signed, b64(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest())


def form_body(params: list) -> bytes:
    """application/x-www-form-urlencoded as PHP's http_build_query writes it (spaces as '+')."""
    return "&".join(f"{urllib.parse.quote_plus(k)}={urllib.parse.quote_plus(v)}" for k, v in params).encode()


MANDRILL_MSG_BASE = {"subject": "Grüße aus São Paulo: spring sale", "sender": "news@mail.example.com",
                     "tags": ["newsletter", "spring-sale"],
                     "metadata": {"campaign": "spring-sale", "user_id": "123"}}
LOCATION = {"country_short": "US", "country": "United States", "region": "California",
            "city": "San Francisco", "postal_code": "94107", "timezone": "-08:00",
            "latitude": 37.7697, "longitude": -122.3933}
UA_PARSED = {"type": "Browser", "ua_family": "Mobile Safari", "ua_name": "Mobile Safari 17.1",
             "ua_version": "17.1", "ua_url": "https://en.wikipedia.org/wiki/Safari_(web_browser)",
             "ua_company": "Apple Inc.", "ua_company_url": "https://www.apple.com/",
             "ua_icon": "https://cdn.mandrill.com/img/email-client-icons/safari.png",
             "os_family": "iOS", "os_name": "iOS 17.1", "os_url": "https://en.wikipedia.org/wiki/IOS",
             "os_company": "Apple Inc.", "os_company_url": "https://www.apple.com/",
             "os_icon": "https://cdn.mandrill.com/img/email-client-icons/ios.png", "mobile": True}


def mandrill_events() -> tuple:
    """(events list, expected list)."""
    click = CLICK_URL.format(esp="mandrill")
    events, expected = [], []

    def message(n, email, state, send_offset, **extra):
        msg_id = seeded_hex(f"mandrill-msg-{n}", 32)
        msg = {"ts": T0 + send_offset, **MANDRILL_MSG_BASE, "email": email, "state": state,
               "opens": [], "clicks": [], "_id": msg_id, "_version": seeded_base62(f"mandrill-v-{n}", 22)}
        msg.update(extra)
        return msg_id, msg

    def add(event, msg_id, msg, ts, type_, fields=None, notes=None, **top):
        events.append({"event": event, "msg": msg, **top, "_id": msg_id, "ts": ts})
        dedup = [msg_id, event, str(ts)]
        if event == "click":
            dedup.append(top["url"])
        elif event == "open":
            dedup.append(top["ip"])
        expected.append(expect(type_, event, msg["email"], ts * MICROS, msg_id, dedup, notes,
                               tags=MANDRILL_MSG_BASE["tags"], metadata=MANDRILL_MSG_BASE["metadata"],
                               campaign="spring-sale", **(fields or {})))

    m1, msg1 = message(1, "alice@example.com", "sent", 0)
    add("send", m1, msg1, T0 + 2, "sent")
    m2, msg2 = message(2, "bob@example.net", "deferred", 5, smtp_events=[{
        "destination_ip": "192.0.2.10", "diag": "451 4.3.5 Temporarily unavailable, try again later.",
        "source_ip": "198.51.100.25", "ts": T0 + 65, "type": "deferred", "size": 0}])
    add("deferral", m2, msg2, T0 + 66, "deferred", {"bounceClass": "soft", "smtpCode": 451},
        "smtpCode from the last msg.smtp_events[].diag.")
    m3, msg3 = message(3, "Nobody@Example.org", "bounced", 10, bounce_description="bad_mailbox",
                       bgtools_code=10, diag="smtp;550 5.1.1 The email account that you tried to reach does not exist.")
    add("hard_bounce", m3, msg3, T0 + 12, "bounced", {"bounceClass": "hard", "smtpCode": 550})
    m4, msg4 = message(4, "carol@example.org", "soft-bounced", 15, bounce_description="mailbox_full",
                       bgtools_code=22, diag="smtp;552 5.2.2 The email account that you tried to reach is over quota.")
    add("soft_bounce", m4, msg4, T0 + 300, "bounced", {"bounceClass": "soft", "smtpCode": 552},
        "Mandrill sends soft_bounce once it gives up (a bounce, not a deferral), so bounced/soft.")
    _, msg_open = message(1, "alice@example.com", "sent", 0,
                          opens=[{"ts": T0 + 100, "ip": "203.0.113.7", "location": "San Francisco, US", "ua": "iOS/iOS 17.1"}])
    add("open", m1, msg_open, T0 + 100, "opened", {"ip": "203.0.113.7", "userAgent": IPHONE_UA},
        "Mandrill has no unique-open flag (msg.opens lists earlier opens, but a batch may be "
        "out of order), so isFirst is null.",
        ip="203.0.113.7", location=LOCATION, user_agent=IPHONE_UA, user_agent_parsed=UA_PARSED)
    _, msg_click = message(1, "alice@example.com", "sent", 0,
                           opens=[{"ts": T0 + 100, "ip": "203.0.113.7", "location": "San Francisco, US", "ua": "iOS/iOS 17.1"}],
                           clicks=[{"ts": T0 + 160, "url": click}])
    add("click", m1, msg_click, T0 + 160, "clicked", {"clickURL": click, "ip": "203.0.113.7", "userAgent": IPHONE_UA},
        None, url=click, ip="203.0.113.7", location=LOCATION, user_agent=IPHONE_UA, user_agent_parsed=UA_PARSED)
    m5, msg5 = message(5, "dan@example.com", "sent", 20)
    add("spam", m5, msg5, T0 + 500, "complained", {})
    m6, msg6 = message(6, "erin@example.com", "sent", 25)
    add("unsub", m6, msg6, T0 + 600, "unsubscribed", {})
    m7, msg7 = message(7, "suppressed@example.com", "rejected", 30)
    add("reject", m7, msg7, T0 + 30, "rejected", {},
        "Mandrill's reject event carries no reason (msg.state is just 'rejected'), so rejectReason is "
        "null; anymail never sets one for Mandrill either.")
    m8, msg8 = message(8, "frank@example.com", "sent", 35, smtp_events=[{
        "destination_ip": "192.0.2.20", "diag": "250 2.0.0 OK  1700000036 a1b2c3d4e5f6 - gsmtp",
        "source_ip": "198.51.100.25", "ts": T0 + 36, "type": "sent", "size": 4821}])
    add("delivered", m8, msg8, T0 + 36, "delivered", {"smtpCode": 250},
        "'delivered' is in the current Mailchimp Transactional docs' event list (not in older Mandrill "
        "docs, and anymail leaves it unknown). Its payload is not documented; this one follows the "
        "other message events. smtpCode from msg.smtp_events[].diag.")
    sync_ts = T0 + 700
    events.append({"type": "blacklist", "action": "add", "reject": {
        "reason": "hard-bounce", "detail": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "last_event_at": "2023-11-14 22:13:32", "email": "Nobody@Example.org", "created_at": "2023-11-14 22:13:32",
        "expires_at": "2023-11-21 22:13:32", "expired": False, "subaccount": None, "sender": None},
        "ts": sync_ts})
    expected.append(expect("unknown", "blacklist", "Nobody@Example.org", sync_ts * MICROS, None,
                           ["blacklist", "add", "nobody@example.org", str(sync_ts)],
                           "Sync event (no 'event' key; 'type' is the list, 'action' add/remove/change). Not a "
                           "message event: unknown (docs/PROVIDERS.md 13.1). recipient from reject.email. It has no "
                           "_id, so the 13.3 key cannot apply; these inputs are a suggestion. The current docs "
                           "call the lists safelist/denylist; treat whitelist/blacklist/allowlist/denylist/safelist "
                           "alike."))
    events.append({"type": "whitelist", "action": "add", "reject": {
        "email": "vip@example.com", "detail": "CEO, never suppress", "created_at": "2023-11-14 22:25:00"},
        "ts": sync_ts + 20})
    expected.append(expect("unknown", "whitelist", "vip@example.com", (sync_ts + 20) * MICROS, None,
                           ["whitelist", "add", "vip@example.com", str(sync_ts + 20)],
                           "Allowlist sync event: unknown, like the blacklist one."))
    return events, expected


def mandrill_vectors() -> dict:
    events_json = php_json([{"event": "click", "msg": {"ts": T0, "email": "alice@example.com",
                                                       "subject": "Grüße", "_id": seeded_hex("mv", 32)},
                             "url": "https://shop.example.com/a?b=1&c=d e", "ip": "203.0.113.7",
                             "_id": seeded_hex("mv", 32), "ts": T0 + 1}])
    cases = []

    def add(name, url, params, signature, valid, note, key=MANDRILL_KEY):
        signed, _ = mandrill_signature(key, url, params)
        cases.append({"name": name, "key": key, "url": url, "params": [list(p) for p in params],
                      "formBody": form_body(params).decode(), "signedData": signed,
                      "signature": signature, "valid": valid, "note": note})

    plain_url = "https://hooks.example.com/webhooks/mandrill"
    one = [("mandrill_events", events_json)]
    sig_plain = mandrill_signature(MANDRILL_KEY, plain_url, one)[1]
    add("plain-url", plain_url, one, sig_plain, True,
        "one click event; the JSON has \\u00fc and \\/ escapes as Mandrill (PHP) writes them, and the form "
        "encoding has '+' for a space: the value is signed form-decoded, JSON text as is")
    auth_url = "https://postwire:hook-pass@hooks.example.com/webhooks/mandrill"
    sig_auth = mandrill_signature(MANDRILL_KEY, auth_url, one)[1]
    add("basic-auth-url", auth_url, one, sig_auth, True,
        "the URL was entered with user:pass@, so the credentials are part of the signed string "
        "(docs/PROVIDERS.md 5)")
    add("basic-auth-stripped", plain_url, one, sig_auth, False,
        "basic-auth-url's signature checked against the URL rebuilt from the request (no credentials)")
    add("trailing-slash", plain_url + "/", one, sig_plain, False,
        "plain-url's signature checked against the URL with a trailing slash")
    query_url = "https://hooks.example.com/webhooks/mandrill?tenant=acme&v=2"
    add("query-string", query_url, one, mandrill_signature(MANDRILL_KEY, query_url, one)[1], True,
        "the query string is part of the signed URL")
    pct_url = "https://hook%40user:p%2Fss@hooks.example.com/webhooks/mandrill"
    add("percent-encoded-credentials", pct_url, one, mandrill_signature(MANDRILL_KEY, pct_url, one)[1], True,
        "credentials with percent-escapes are signed as entered (not decoded)")
    two = [("mandrill_events", "[]"), ("a_extra", "1")]
    sig_sorted = mandrill_signature(MANDRILL_KEY, plain_url, two)[1]
    add("two-params-sorted", plain_url, two, sig_sorted, True,
        "two POST parameters in body order mandrill_events, a_extra: signed sorted by key "
        "(a_extra1 then mandrill_events[])")
    unsorted = b64(hmac.new(MANDRILL_KEY.encode(), (plain_url + "mandrill_events[]a_extra1").encode(),
                            hashlib.sha1).digest())
    add("two-params-body-order", plain_url, two, unsorted, False,
        "the same two parameters signed in body order instead of sorted")
    empty = [("mandrill_events", "[]")]
    add("empty-batch", plain_url, empty, mandrill_signature(MANDRILL_KEY, plain_url, empty)[1], True,
        "an empty batch, as a webhook test may send")
    add("wrong-key", plain_url, one, mandrill_signature("another-webhook-key", plain_url, one)[1], False,
        "plain-url's data signed with a different webhook key")
    hex_sig = hmac.new(MANDRILL_KEY.encode(), mandrill_signature(MANDRILL_KEY, plain_url, one)[0].encode(),
                       hashlib.sha1).hexdigest()
    add("hex-instead-of-base64", plain_url, one, hex_sig, False,
        "the right HMAC as hex: the header is base64 of the binary digest")
    return {"header": "X-Mandrill-Signature",
            "algorithm": "base64(HMAC-SHA1(key = webhook key, message = UTF-8(url + k1 + v1 + k2 + v2 ...))) "
                         "with the POST parameters form-decoded and sorted by key; url exactly as configured "
                         "in Mandrill, including scheme, user:pass@, path, query",
            "cases": cases}


# --- Amazon SNS / SES ----------------------------------------------------------------------------

SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]
MR_BASES = SMALL_PRIMES[:40]


def is_probable_prime(n: int) -> bool:
    if any(n % p == 0 for p in SMALL_PRIMES):
        return n in SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def seeded_prime(seed: bytes, bits: int = 1024, e: int = 65537) -> int:
    """First probable prime >= a seeded odd start with its top two bits set (so p*q has 2*bits bits)."""
    stream = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(bits // 256 + 1))
    candidate = int.from_bytes(stream, "big") >> (len(stream) * 8 - bits)
    candidate |= (3 << (bits - 2)) | 1
    while not (is_probable_prime(candidate) and (candidate - 1) % e != 0):
        candidate += 2
    return candidate


def seeded_rsa_key(seed: bytes) -> rsa.RSAPrivateKey:
    e = 65537
    p, q = seeded_prime(seed + b"/p"), seeded_prime(seed + b"/q")
    assert p != q
    n, phi = p * q, (p - 1) * (q - 1)
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                    rsa.RSAPublicNumbers(e, n))
    key = numbers.private_key()
    assert key.key_size == 2048
    return key


def sns_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Postwire test fixture (not Amazon)"),
        x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com"),
    ])
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(0x5057534E53)  # "PWSNS"
            .not_valid_before(datetime(2023, 1, 1, tzinfo=timezone.utc))
            .not_valid_after(datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=False, crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))


SNS_FIELDS = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
    "UnsubscribeConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
}
SNS_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


def sns_string_to_sign(message: dict) -> str:
    """Name + '\\n' + value + '\\n' for each signed field present, in the fixed order (Subject only if present)."""
    return "".join(f"{name}\n{message[name]}\n" for name in SNS_FIELDS[message["Type"]] if name in message)


def rsa_sign(key: rsa.RSAPrivateKey, data: bytes, version: str) -> str:
    return b64(key.sign(data, padding.PKCS1v15(), SNS_HASHES[version]()))


def rsa_verify(public_key, data: bytes, signature_b64: str, version: str) -> bool:
    if version not in SNS_HASHES:
        return False
    try:
        public_key.verify(base64.b64decode(signature_b64), data, padding.PKCS1v15(), SNS_HASHES[version]())
        return True
    except (InvalidSignature, ValueError):
        return False


def cert_url_allowed(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return (parts.scheme == "https" and re.fullmatch(SNS_CERT_URL_PATTERN, parts.netloc) is not None
            and parts.path.endswith(".pem"))


def sns_body(message: dict) -> bytes:
    """SNS's layout: 2-space indent and ' : ' between name and value, no trailing newline."""
    return json.dumps(message, indent=2, separators=(",", " : "), ensure_ascii=False).encode()


def sns_envelope(kind: str, msg_id: str, timestamp: str, message_text: str, version: str,
                 subject=None, cert_url=SNS_CERT_URL, token=None) -> dict:
    """The fields of an SNS message in the order SNS writes them; Signature filled in later."""
    if kind == "Notification":
        env = {"Type": kind, "MessageId": msg_id, "TopicArn": SNS_TOPIC_ARN}
        if subject is not None:
            env["Subject"] = subject
        env.update({"Message": message_text, "Timestamp": timestamp, "SignatureVersion": version,
                    "Signature": "", "SigningCertURL": cert_url,
                    "UnsubscribeURL": f"https://sns.{SNS_REGION}.amazonaws.com/?Action=Unsubscribe&"
                                      f"SubscriptionArn={SNS_TOPIC_ARN}:{seeded_uuid('sns-subscription')}"})
        return env
    return {"Type": kind, "MessageId": msg_id, "Token": token, "TopicArn": SNS_TOPIC_ARN,
            "Message": message_text,
            "SubscribeURL": f"https://sns.{SNS_REGION}.amazonaws.com/?Action=ConfirmSubscription&"
                            f"TopicArn={SNS_TOPIC_ARN}&Token={token}",
            "Timestamp": timestamp, "SignatureVersion": version, "Signature": "", "SigningCertURL": cert_url}


def signed_sns(key, env: dict, sign_version=None) -> bytes:
    env = dict(env)
    env["Signature"] = rsa_sign(key, sns_string_to_sign(env).encode(), sign_version or env["SignatureVersion"])
    return sns_body(env)


def sns_headers(env: dict) -> dict:
    headers = {"x-amz-sns-message-type": env["Type"], "x-amz-sns-message-id": env["MessageId"],
               "x-amz-sns-topic-arn": env["TopicArn"]}
    if env["Type"] == "Notification":
        headers["x-amz-sns-subscription-arn"] = f"{SNS_TOPIC_ARN}:{seeded_uuid('sns-subscription')}"
    headers.update({"Content-Type": "text/plain; charset=UTF-8",
                    "User-Agent": "Amazon Simple Notification Service Agent"})
    return headers


SES_SOURCE = "news@mail.example.com"
SES_TAGS = {"ses:configuration-set": ["postwire-events"], "ses:source-ip": ["198.51.100.25"],
            "ses:from-domain": ["mail.example.com"], "ses:caller-identity": ["postwire-sender"],
            "campaign": ["spring-sale"], "user_id": ["123"]}
SES_METADATA = {"campaign": "spring-sale", "user_id": "123"}


def ses_message_id(n: int) -> str:
    return f"0100018b{seeded_hex(f'ses-msg-{n}', 8)}-{seeded_uuid(f'ses-msg-uuid-{n}')}-000000"


def ses_mail(n: int, sent_micros: int, destination: list, subject: str, tags=True) -> dict:
    message_id = ses_message_id(n)
    mail = {"timestamp": iso(sent_micros), "source": f"Acme Store <{SES_SOURCE}>",
            "sourceArn": f"arn:aws:ses:{SNS_REGION}:{AWS_ACCOUNT}:identity/mail.example.com",
            "sendingAccountId": AWS_ACCOUNT, "messageId": message_id, "destination": destination,
            "headersTruncated": False,
            "headers": [{"name": "From", "value": f"Acme Store <{SES_SOURCE}>"},
                        {"name": "To", "value": ", ".join(destination)},
                        {"name": "Subject", "value": subject}],
            "commonHeaders": {"from": [f"Acme Store <{SES_SOURCE}>"], "to": destination,
                              "messageId": message_id, "subject": subject}}
    if tags:
        mail["tags"] = SES_TAGS
    return mail


def ses_fixtures(key) -> tuple:
    """(files {name: bytes}, headers {name: {...}}, expected {name: [events]})."""
    base = T0 * MICROS
    click = CLICK_URL.format(esp="ses")
    specs = []  # (file, n, sns offset µs, version, event dict, [expected events])

    def ses_expect(type_, esp, recipient, occurred, n, sns_id, notes=None, tags=True, **fields):
        return expect(type_, esp, recipient, occurred, ses_message_id(n), [sns_id, recipient.lower()], notes,
                      metadata=SES_METADATA if tags else {}, campaign="spring-sale" if tags else None, **fields)

    def spec(file, n, version, build):
        sns_id = seeded_uuid(f"sns-{file}")
        event, expected, published = build(sns_id)
        specs.append((file, sns_id, published, version, event, expected))

    # Send: no per-recipient data, one event per mail.destination address.
    def send(sns_id):
        sent = base + 10_100_000
        dest = ["alice@example.com", "Bob@Example.NET"]
        event = {"eventType": "Send", "mail": ses_mail(1, sent, dest, "Spring sale starts now"), "send": {}}
        note = "Send has no recipient list of its own: one event per mail.destination address; the event " \
               "time is mail.timestamp (send: {} has none)."
        return event, [ses_expect("sent", "Send", a, sent, 1, sns_id, note) for a in dest], sent + 211_000
    spec("send.json", 1, "1", send)

    def delivery(sns_id):
        sent, at = base + 10_100_000, base + 12_345_000
        event = {"eventType": "Delivery",
                 "mail": ses_mail(1, sent, ["alice@example.com", "Bob@Example.NET"], "Spring sale starts now"),
                 "delivery": {"timestamp": iso(at), "processingTimeMillis": 2245, "recipients": ["alice@example.com"],
                              "smtpResponse": "250 2.0.0 OK  1700000012 a1b2c3d4e5f6 - gsmtp",
                              "remoteMtaIp": "192.0.2.10", "reportingMTA": "a8-21.smtp-out.amazonses.com"}}
        return event, [ses_expect("delivered", "Delivery", "alice@example.com", at, 1, sns_id,
                                  "Only delivery.recipients count (Bob's delivery is a separate notification).",
                                  smtpCode=250)], at + 400_000
    spec("delivery.json", 1, "1", delivery)

    def bounce_permanent(sns_id):
        sent, at = base + 20_000_000, base + 21_669_000
        rcpts = ["nobody@example.org", "Gone@Example.org"]
        event = {"eventType": "Bounce", "bounce": {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": a, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"} for a in rcpts],
            "timestamp": iso(at), "feedbackId": f"0100018b{seeded_hex('ses-fb-1', 8)}-{seeded_uuid('ses-fb-1-uuid')}-000000",
            "reportingMTA": "dsn; a8-21.smtp-out.amazonses.com"},
            "mail": ses_mail(2, sent, rcpts + ["carol@example.org"], "Spring sale starts now")}
        return event, [ses_expect("bounced", "Bounce", a, at, 2, sns_id,
                                  "One event per bouncedRecipients entry (carol, also in destination, did not "
                                  "bounce). espEvent is the eventType; the subtype lives in bounceClass.",
                                  bounceClass="hard", smtpCode=550) for a in rcpts], at + 300_000
    spec("bounce-permanent.json", 2, "1", bounce_permanent)

    def bounce_transient(sns_id):
        sent, at = base + 30_000_000, base + 31_200_000
        event = {"eventType": "Bounce", "bounce": {
            "bounceType": "Transient", "bounceSubType": "MailboxFull",
            "bouncedRecipients": [{"emailAddress": "carol@example.org", "action": "failed", "status": "5.2.2",
                                   "diagnosticCode": "smtp; 552 5.2.2 Mailbox full"}],
            "timestamp": iso(at), "feedbackId": f"0100018b{seeded_hex('ses-fb-2', 8)}-{seeded_uuid('ses-fb-2-uuid')}-000000",
            "reportingMTA": "dsn; a8-21.smtp-out.amazonses.com"},
            "mail": ses_mail(3, sent, ["carol@example.org"], "Your receipt")}
        return event, [ses_expect("bounced", "Bounce", "carol@example.org", at, 3, sns_id,
                                  "SES publishes Transient bounces only after it stops retrying, so this is a "
                                  "bounce (soft), not a deferral.",
                                  bounceClass="soft", smtpCode=552)], at + 300_000
    spec("bounce-transient.json", 3, "2", bounce_transient)

    def complaint(sns_id):
        sent, at = base + 40_000_000, base + 3_640_000_000
        event = {"eventType": "Complaint", "complaint": {
            "complainedRecipients": [{"emailAddress": "Dan@Example.com"}], "timestamp": iso(at),
            "feedbackId": f"0100018b{seeded_hex('ses-fb-3', 8)}-{seeded_uuid('ses-fb-3-uuid')}-000000",
            "userAgent": "Yahoo!-Mail-Feedback/2.0", "complaintFeedbackType": "abuse",
            "arrivalDate": iso(at - 60_000_000)},
            "mail": ses_mail(4, sent, ["Dan@Example.com"], "Spring sale starts now")}
        return event, [ses_expect("complained", "Complaint", "Dan@Example.com", at, 4, sns_id,
                                  "complaint.userAgent is the ISP's feedback-report agent, not a reader's "
                                  "browser, so userAgent stays null.")], at + 500_000
    spec("complaint.json", 4, "1", complaint)

    def reject(sns_id):
        sent = base + 50_000_000
        event = {"eventType": "Reject", "mail": ses_mail(5, sent, ["alice@example.com"], "Invoice attached"),
                 "reject": {"reason": "Bad content"}}
        return event, [ses_expect("rejected", "Reject", "alice@example.com", sent, 5, sns_id,
                                  "SES refused to send (virus). rejectReason blocked as anymail maps it; the "
                                  "reject object has no timestamp, so mail.timestamp.",
                                  rejectReason="blocked")], sent + 150_000
    spec("reject.json", 5, "1", reject)

    def open_(sns_id):
        sent, at = base + 10_100_000, base + 100_652_000
        event = {"eventType": "Open", "mail": ses_mail(1, sent, ["alice@example.com"], "Spring sale starts now"),
                 "open": {"ipAddress": "203.0.113.7", "timestamp": iso(at), "userAgent": IPHONE_UA}}
        return event, [ses_expect("opened", "Open", "alice@example.com", at, 1, sns_id,
                                  "SES does not track opens per recipient: recipient is mail.destination "
                                  "(one address here).", ip="203.0.113.7", userAgent=IPHONE_UA)], at + 900_000
    spec("open.json", 1, "2", open_)

    def click_(sns_id):
        sent, at = base + 10_100_000, base + 160_570_000
        event = {"eventType": "Click", "click": {
            "ipAddress": "203.0.113.7", "link": click, "linkTags": {"placement": ["hero"]},
            "timestamp": iso(at), "userAgent": DESKTOP_UA},
            "mail": ses_mail(1, sent, ["alice@example.com"], "Spring sale starts now")}
        return event, [ses_expect("clicked", "Click", "alice@example.com", at, 1, sns_id, None,
                                  clickURL=click, ip="203.0.113.7", userAgent=DESKTOP_UA)], at + 700_000
    spec("click.json", 1, "1", click_)

    def rendering_failure(sns_id):
        sent = base + 60_000_000
        event = {"eventType": "Rendering Failure",
                 "mail": ses_mail(6, sent, ["frank@example.com"], "Welcome, {{name}}"),
                 "failure": {"errorMessage": "Attribute 'name' is not present in the rendering data.",
                             "templateName": "WelcomeTemplate"}}
        return event, [ses_expect("failed", "Rendering Failure", "frank@example.com", sent, 6, sns_id,
                                  "The detail key is 'failure'; no timestamp, so mail.timestamp.")], sent + 90_000
    spec("rendering-failure.json", 6, "1", rendering_failure)

    def delivery_delay(sns_id):
        sent, at = base + 70_000_000, base + 670_095_000
        event = {"eventType": "DeliveryDelay",
                 "mail": ses_mail(7, sent, ["Erin@Example.org"], "Your receipt"),
                 "deliveryDelay": {"timestamp": iso(at), "delayType": "TransientCommunicationFailure",
                                   "expirationTime": iso(sent + 43_200_000_000),
                                   "delayedRecipients": [{"emailAddress": "Erin@Example.org", "status": "4.4.1",
                                                          "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host"}],
                                   "reportingMTA": "a8-21.smtp-out.amazonses.com"}}
        return event, [ses_expect("deferred", "DeliveryDelay", "Erin@Example.org", at, 7, sns_id,
                                  "anymail leaves DeliveryDelay unknown; docs/PROVIDERS.md 13.1 maps it to deferred.",
                                  bounceClass="soft", smtpCode=421)], at + 200_000
    spec("delivery-delay.json", 7, "2", delivery_delay)

    def subscription(sns_id):
        sent, at = base + 80_000_000, base + 86_400_910_000
        event = {"eventType": "Subscription", "mail": ses_mail(8, sent, ["grace@example.com"], "Spring sale starts now"),
                 "subscription": {"contactList": "Newsletter", "timestamp": iso(at), "source": "UnsubscribeHeader",
                                  "newTopicPreferences": {"unsubscribeAll": True, "topicSubscriptionStatus": [
                                      {"topicName": "Promotions", "subscriptionStatus": "OptOut"}]},
                                  "oldTopicPreferences": {"unsubscribeAll": False, "topicSubscriptionStatus": [
                                      {"topicName": "Promotions", "subscriptionStatus": "OptIn"}]}}}
        return event, [ses_expect("unsubscribed", "Subscription", "grace@example.com", at, 8, sns_id,
                                  "newTopicPreferences.unsubscribeAll true (and OptOut): unsubscribed; an OptIn "
                                  "change would be subscribed. anymail leaves Subscription unknown. recipient "
                                  "from mail.destination.")], at + 300_000
    spec("subscription.json", 8, "1", subscription)

    def bounce_identity(sns_id):
        sent, at = base + 90_000_000, base + 91_500_000
        event = {"notificationType": "Bounce", "bounce": {
            "feedbackId": f"0100018b{seeded_hex('ses-fb-4', 8)}-{seeded_uuid('ses-fb-4-uuid')}-000000",
            "bounceType": "Permanent", "bounceSubType": "NoEmail",
            "bouncedRecipients": [{"emailAddress": "noone@example.net", "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 <noone@example.net>: Recipient address rejected"}],
            "timestamp": iso(at), "remoteMtaIp": "192.0.2.30", "reportingMTA": "dsn; a8-21.smtp-out.amazonses.com"},
            "mail": ses_mail(9, sent, ["noone@example.net"], "Your receipt", tags=False)}
        return event, [ses_expect("bounced", "Bounce", "noone@example.net", at, 9, sns_id,
                                  "An identity (feedback) notification: 'notificationType' instead of "
                                  "'eventType', and no mail.tags.", tags=False,
                                  bounceClass="hard", smtpCode=550)], at + 300_000
    spec("bounce-identity.json", 9, "1", bounce_identity)

    files, headers, expected = {}, {}, {}
    for file, sns_id, published, version, event, exp in specs:
        env = sns_envelope("Notification", sns_id, iso(published), compact_json(event), version)
        files[file] = signed_sns(key, env)
        headers[file] = sns_headers(env)
        expected[file] = exp
    setup_id = seeded_uuid("sns-setup")
    env = sns_envelope("Notification", setup_id, iso(base + 1_000_000),
                       "Successfully validated SNS topic for Amazon SES event publishing.", "1")
    files["setup-notification.json"] = signed_sns(key, env)
    headers["setup-notification.json"] = sns_headers(env)
    expected["setup-notification.json"] = []
    return files, headers, expected


def sns_confirmations(key) -> tuple:
    token = seeded_hex("sns-token", 64) + seeded_hex("sns-token-2", 64) + seeded_hex("sns-token-3", 32)
    sub = sns_envelope("SubscriptionConfirmation", seeded_uuid("sns-subscribe"), iso(T0 * MICROS - 3_600_000_000),
                       f"You have chosen to subscribe to the topic {SNS_TOPIC_ARN}.\nTo confirm the "
                       "subscription, visit the SubscribeURL included in this message.", "1", token=token)
    unsub = sns_envelope("UnsubscribeConfirmation", seeded_uuid("sns-unsubscribe"), iso(T0 * MICROS + 86_400_000_000),
                         f"You have chosen to deactivate subscription {SNS_TOPIC_ARN}:{seeded_uuid('sns-subscription')}."
                         "\nTo cancel this operation and restore the subscription, visit the SubscribeURL included "
                         "in this message.", "2", token=token)
    files = {"subscription-confirmation.json": signed_sns(key, sub),
             "unsubscribe-confirmation.json": signed_sns(key, unsub)}
    headers = {"subscription-confirmation.json": sns_headers(sub), "unsubscribe-confirmation.json": sns_headers(unsub)}
    expected = {
        "_handshake": {
            "subscription-confirmation.json": {
                "action": "confirm", "topicArn": SNS_TOPIC_ARN, "subscribeURL": sub["SubscribeURL"], "token": token,
                "note": "Verify, check TopicArn against the allowlist, then GET SubscribeURL (after the same "
                        "host check) or call ConfirmSubscription with Token."},
            "unsubscribe-confirmation.json": {"action": "acknowledge", "topicArn": SNS_TOPIC_ARN,
                                              "note": "Verify and acknowledge; nothing to record."},
        },
        "subscription-confirmation.json": [],
        "unsubscribe-confirmation.json": [],
    }
    return files, headers, expected


def sns_vectors(key, other_key, cert_pem: bytes) -> dict:
    base = T0 * MICROS + 500_000_000
    text = 'Hello from SNS.\nLine two: "quoted", a slash / and Grüße ✉️'
    cases = []

    def add(name, env, note, sign_version=None, signer=None, string_override=None):
        env = dict(env)
        correct = sns_string_to_sign(env) if env["Type"] in SNS_FIELDS else None
        to_sign = string_override if string_override is not None else correct
        env["Signature"] = rsa_sign(signer or key, to_sign.encode(), sign_version or env["SignatureVersion"])
        body = sns_body(env)
        sig_valid = rsa_verify(key.public_key(), correct.encode(), env["Signature"], env["SignatureVersion"])
        url_ok = cert_url_allowed(env["SigningCertURL"])
        version_ok = env["SignatureVersion"] in SNS_HASHES
        cases.append({"name": name, "messageType": env["Type"], "signatureVersion": env["SignatureVersion"],
                      "body": body.decode(), "stringToSign": correct, "certURL": env["SigningCertURL"],
                      "certURLAllowed": url_ok, "signatureVersionSupported": version_ok,
                      "signatureValid": sig_valid, "accept": url_ok and version_ok and sig_valid, "note": note})

    def notification(n, version="1", subject=None, message=text, cert_url=SNS_CERT_URL):
        return sns_envelope("Notification", seeded_uuid(f"sns-vector-{n}"), iso(base + n * 1_000_000),
                            message, version, subject=subject, cert_url=cert_url)

    token = seeded_hex("sns-vector-token", 64) * 2
    add("notification-v1-no-subject", notification(1), "SignatureVersion 1 (SHA1withRSA), no Subject: "
        "the string to sign skips Subject")
    add("notification-v1-subject", notification(2, subject="Grüße: test"), "SignatureVersion 1 with a Subject")
    add("notification-v2-subject", notification(3, "2", subject="Grüße: test"), "SignatureVersion 2 (SHA256withRSA)")
    add("notification-v2-no-subject", notification(4, "2"), "SignatureVersion 2, no Subject")
    sub = sns_envelope("SubscriptionConfirmation", seeded_uuid("sns-vector-5"), iso(base + 5_000_000),
                       f"You have chosen to subscribe to the topic {SNS_TOPIC_ARN}.\nTo confirm the subscription, "
                       "visit the SubscribeURL included in this message.", "1", token=token)
    add("subscription-confirmation-v1", sub, "signed fields: Message, MessageId, SubscribeURL, Timestamp, Token, "
        "TopicArn, Type")
    add("subscription-confirmation-v2", {**sub, "SignatureVersion": "2"}, "the same, SignatureVersion 2")
    unsub = sns_envelope("UnsubscribeConfirmation", seeded_uuid("sns-vector-6"), iso(base + 6_000_000),
                         f"You have chosen to deactivate subscription {SNS_TOPIC_ARN}:{seeded_uuid('sns-subscription')}."
                         "\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in "
                         "this message.", "1", token=token)
    add("unsubscribe-confirmation-v1", unsub, "UnsubscribeConfirmation signs Token and SubscribeURL too")
    env = notification(7)
    tampered = dict(env)
    tampered["Signature"] = rsa_sign(key, sns_string_to_sign(env).encode(), "1")
    tampered["Message"] = text.replace("two", "2")
    cases.append({"name": "tampered-message", "messageType": "Notification", "signatureVersion": "1",
                  "body": sns_body(tampered).decode(), "stringToSign": sns_string_to_sign(tampered),
                  "certURL": SNS_CERT_URL, "certURLAllowed": True, "signatureVersionSupported": True,
                  "signatureValid": False, "accept": False,
                  "note": "signed over the original Message; one word of Message changed afterwards"})
    add("unsupported-signature-version", {**notification(8), "SignatureVersion": "3"},
        "SignatureVersion 3 does not exist: reject before any crypto (signed with SHA256 here)", sign_version="2")
    add("v1-signature-claimed-as-v2", notification(9, "2"),
        "SHA1withRSA signature, body says SignatureVersion 2: verifying with SHA-256 fails", sign_version="1")
    add("v2-signature-claimed-as-v1", notification(10, "1"),
        "SHA256withRSA signature, body says SignatureVersion 1: verifying with SHA-1 fails", sign_version="2")
    add("wrong-key", notification(11), "signed by another RSA key than cert.pem's", signer=other_key)
    env = notification(12, subject="Grüße: test")
    add("subject-not-signed", env, "Subject present but left out of the signed string",
        string_override="".join(f"{k}\n{env[k]}\n" for k in ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]))
    add("js-validator-style-unsubscribe", unsub | {"MessageId": seeded_uuid("sns-vector-13")},
        "UnsubscribeConfirmation signed like a Notification (no SubscribeURL/Token), as the AWS JS "
        "validator would build it: wrong under the AWS docs and the PHP validator",
        string_override="".join(f"{k}\n{(unsub | {'MessageId': seeded_uuid('sns-vector-13')})[k]}\n"
                                for k in ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]))
    env = notification(14)
    add("fields-in-body-order", env, "the right fields, but in body order (Type first) instead of byte order",
        string_override="".join(f"{k}\n{env[k]}\n" for k in ["Type", "MessageId", "TopicArn", "Message", "Timestamp"]))
    env = notification(15)
    escaped_message = json.dumps(env["Message"], ensure_ascii=False)[1:-1]
    add("message-signed-json-escaped", env, "signed over Message as JSON-escaped text (\\n as backslash-n): the "
        "values must be the decoded strings",
        string_override=sns_string_to_sign(env).replace(env["Message"], escaped_message))
    bad_urls = [
        ("cert-url-foreign-host", "https://sns.us-east-1.example.com/SimpleNotificationService-0000000000000000000000.pem",
         "host is not under amazonaws.com"),
        ("cert-url-amazonaws-suffix-attack", "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-0000000000000000000000.pem",
         "host only starts like an SNS host"),
        ("cert-url-http", "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
         "not https"),
        ("cert-url-s3-bucket", "https://postwire-fixtures.s3.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
         "an S3 bucket is also under amazonaws.com"),
        ("cert-url-not-pem", "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.crt",
         "path does not end with .pem"),
    ]
    for i, (name, url, why) in enumerate(bad_urls):
        add(name, notification(20 + i, cert_url=url),
            f"the signature is valid for cert.pem, but the SigningCertURL must be refused before fetching: {why}")
    policy = [
        (SNS_CERT_URL, True, "the fixture URL"),
        ("https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem", True, "another region"),
        ("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem", True, "GovCloud"),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0000000000000000000000.pem", True, "China"),
    ] + [(url, False, why) for _, url, why in bad_urls] + [
        ("https://sns.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem", False, "no region label"),
        ("https://sns.us-east-1.amazonaws.com.cn.evil.com/SimpleNotificationService-0000000000000000000000.pem", False, "China suffix, then more"),
        ("https://evil.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem", False, "SNS host only in the path"),
        ("https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-0000000000000000000000.pem", False, "SNS host as userinfo"),
    ]
    for url, allowed, _ in policy:
        assert cert_url_allowed(url) == allowed, url
    cert = x509.load_pem_x509_certificate(cert_pem)
    return {
        "certificate": "sns/cert.pem",
        "certificateSHA256": cert.fingerprint(hashes.SHA256()).hex(),
        "signingCertURL": SNS_CERT_URL,
        "topicArn": SNS_TOPIC_ARN,
        "stringToSign": "for each field of the message type's list that is present in the body: name + '\\n' + "
                        "JSON-decoded value + '\\n', UTF-8; RSASSA-PKCS1-v1_5 with SHA-1 (SignatureVersion 1) or "
                        "SHA-256 (2); Signature is base64",
        "fieldOrder": SNS_FIELDS,
        "certURLPolicy": {"scheme": "https",
                          "hostRegex": SNS_CERT_URL_PATTERN,
                          "hostRule": "the whole authority must match hostRegex (no userinfo, no port)",
                          "path": "ends with .pem",
                          "cases": [{"url": u, "allowed": a, "note": n} for u, a, n in policy]},
        "acceptMeans": "certURLAllowed and signatureVersionSupported and signatureValid",
        "cases": cases,
    }


# --- write ---------------------------------------------------------------------------------------


def keys():
    return seeded_rsa_key(SNS_RSA_SEED), seeded_rsa_key(SNS_OTHER_RSA_SEED)


def write_all() -> None:
    ms_files, ms_expected = mailersend_fixtures()
    for name, body in ms_files.items():
        write_bytes(f"mailersend/{name}", body)
    write_json("mailersend/signatures.json",
               {name: ms_hmac(MAILERSEND_SECRET, body) for name, body in ms_files.items()})
    write_expected("mailersend", "MailerSend activity webhooks; each body is signed with "
                   f"{MAILERSEND_SECRET!r} (signatures.json).",
                   ["occurredAtMicros is data.created_at (the activity), not the top-level created_at "
                    "(when the webhook was built); messageId is data.email.message.id; dedup is data.id."],
                   ms_expected)
    write_json("vectors/mailersend-hmac.json", mailersend_vectors())

    rs_files, rs_headers, rs_expected = resend_fixtures()
    for name, body in rs_files.items():
        write_bytes(f"resend/{name}", body)
    write_json("resend/headers.json", rs_headers)
    write_expected("resend", f"Resend (Svix) webhooks; headers.json has the svix-* headers, signed with {RESEND_SECRET!r}.",
                   ["occurredAtMicros is the top-level created_at; messageId is data.email_id; recipient is "
                    "data.to[0]; dedup is the svix-id header; data.tags (a name -> value object) is metadata; "
                    "campaign is metadata['campaign'] when set, else data.broadcast_id, else null."],
                   rs_expected)
    write_json("vectors/standardwebhooks.json", standard_webhooks_vectors())

    events, mandrill_expected = mandrill_events()
    params = [("mandrill_events", php_json(events))]
    write_bytes("mandrill/batch.form", form_body(params))
    write_json("mandrill/batch.signature.json",
               {"url": MANDRILL_URL, "key": MANDRILL_KEY,
                "signature": mandrill_signature(MANDRILL_KEY, MANDRILL_URL, params)[1]})
    write_expected("mandrill", "One Mandrill batch (batch.form); the value is the array of its events in order.",
                   ["occurredAtMicros is the event's ts (seconds); messageId is _id; recipient is msg.email "
                    "(reject.email for sync events); metadata is msg.metadata; campaign is "
                    "metadata['campaign']."],
                   {"batch.form": mandrill_expected})
    write_json("vectors/mandrill.json", mandrill_vectors())

    key, other_key = keys()
    cert_pem = sns_certificate(key).public_bytes(serialization.Encoding.PEM)
    write_bytes("sns/cert.pem", cert_pem)
    ses_files, ses_headers, ses_expected = ses_fixtures(key)
    for name, body in ses_files.items():
        write_bytes(f"ses/{name}", body)
    write_json("ses/headers.json", ses_headers)
    write_expected("ses", "Amazon SES events as SNS delivers them (the full HTTP body, Content-Type "
                   "text/plain); signed by sns/cert.pem's key. Every value is an array: one normalized "
                   "event per recipient.",
                   ["occurredAtMicros is the SES event object's own timestamp (bounce/complaint/delivery/open/"
                    "click/deliveryDelay/subscription); Send, Reject and Rendering Failure have none, so "
                    "mail.timestamp. anymail uses the SNS Timestamp instead (docs/PROVIDERS.md 14.4).",
                    "messageId is mail.messageId; dedup is (SNS MessageId, recipient); espEvent is eventType or "
                    "notificationType as sent; mail.tags without the ses: system tags become metadata (first "
                    "value of each)."],
                   ses_expected)
    sns_files, sns_hdrs, sns_expected = sns_confirmations(key)
    for name, body in sns_files.items():
        write_bytes(f"sns/{name}", body)
    write_json("sns/headers.json", sns_hdrs)
    write_json("sns/expected.json", {"_about": "SNS subscription handshake messages (signed by cert.pem's key): "
                                     "they yield no email events ([]); _handshake says what the ingress should "
                                     "do with each.", **sns_expected})
    write_json("vectors/sns.json", sns_vectors(key, other_key, cert_pem))


# --- verify what is on disk ----------------------------------------------------------------------


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def openssl(args: list, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True)


def openssl_hmac(digest: str, key: bytes, data: bytes) -> bytes:
    result = openssl(["dgst", f"-{digest}", "-mac", "HMAC", "-macopt", f"hexkey:{key.hex()}", "-binary"], data)
    return result.stdout


def openssl_rsa_verify(pubkey_path: str, digest: str, data: bytes, signature: bytes, workdir: str) -> bool:
    sig_path, data_path = f"{workdir}/sig.bin", f"{workdir}/data.bin"
    Path(sig_path).write_bytes(signature)
    Path(data_path).write_bytes(data)
    result = openssl(["dgst", f"-{digest}", "-verify", pubkey_path, "-signature", sig_path, data_path])
    return result.returncode == 0


def check_expected(folder: str, files: list, failures: list, arrays: bool = False) -> int:
    expected = read_json(f"{folder}/expected.json")
    names = {k for k in expected if not k.startswith("_")}
    if names != set(files):
        failures.append(f"{folder}/expected.json covers {sorted(names ^ set(files))} wrongly")
    count = 0
    for name in names:
        value = expected[name]
        events = value if isinstance(value, list) else [value]
        if arrays and not isinstance(value, list):
            failures.append(f"{folder}/expected.json {name}: not an array")
        for event in events:
            count += 1
            if list(event)[:len(EXPECTED_FIELDS)] != list(EXPECTED_FIELDS):
                failures.append(f"{folder}/expected.json {name}: fields out of order or missing")
            if event["type"] not in EVENT_TYPES or event["bounceClass"] not in BOUNCE_CLASSES \
                    or event["rejectReason"] not in REJECT_REASONS:
                failures.append(f"{folder}/expected.json {name}: bad enum value")
            if event["recipient"] is not None and event["recipient"] != event["recipient"].lower():
                failures.append(f"{folder}/expected.json {name}: recipient not lower-cased")
    return count


def verify_all() -> tuple:
    """(failures, summary lines)."""
    failures, lines = [], []

    def check(condition, what):
        if not condition:
            failures.append(what)

    use_openssl = openssl_available()

    # MailerSend
    signatures = read_json("mailersend/signatures.json")
    ms_files = sorted(p.name for p in (FIXTURES / "mailersend").glob("activity.*.json"))
    check(sorted(signatures) == ms_files, "mailersend/signatures.json lists every fixture")
    for name in ms_files:
        body = read_bytes(f"mailersend/{name}")
        check(hmac.compare_digest(ms_hmac(MAILERSEND_SECRET, body), signatures.get(name, "")),
              f"mailersend/{name} signature")
        check(b"/" not in body.replace(b"\\/", b"") and b"\n" not in body,
              f"mailersend/{name} is compact with every slash escaped")
        if use_openssl:
            check(openssl_hmac("sha256", MAILERSEND_SECRET.encode(), body).hex() == signatures.get(name),
                  f"mailersend/{name} signature (openssl)")
    ms_count = check_expected("mailersend", ms_files, failures)
    ms_vectors = read_json("vectors/mailersend-hmac.json")
    for case in ms_vectors["cases"]:
        body = base64.b64decode(case["bodyBase64"])
        check(body == case["body"].encode(), f"mailersend-hmac {case['name']} body/bodyBase64")
        ok = hmac.compare_digest(ms_hmac(case["secret"], body), case["signature"])
        check(ok == case["valid"], f"mailersend-hmac {case['name']}")
    lines.append(f"mailersend/*.json             {len(ms_files)} signed bodies, {ms_count} expected events; "
                 f"mailersend-hmac.json {len(ms_vectors['cases'])} cases")

    # Resend / Standard Webhooks
    rs_headers = read_json("resend/headers.json")
    rs_files = sorted(p.name for p in (FIXTURES / "resend").glob("*.json")
                      if p.name not in ("headers.json", "expected.json"))
    check(sorted(rs_headers) == rs_files, "resend/headers.json lists every fixture")
    for name in rs_files:
        h = rs_headers.get(name, {})
        ok, reason = sw_verify(RESEND_SECRET, h, read_bytes(f"resend/{name}"), int(h.get("svix-timestamp", "0")))
        check(ok, f"resend/{name} svix signature ({reason})")
        if use_openssl and h:
            mac = openssl_hmac("sha256", sw_key(RESEND_SECRET),
                               f"{h['svix-id']}.{h['svix-timestamp']}.".encode() + read_bytes(f"resend/{name}"))
            check("v1," + b64(mac) == h["svix-signature"], f"resend/{name} svix signature (openssl)")
    rs_count = check_expected("resend", rs_files, failures)
    sw = read_json("vectors/standardwebhooks.json")
    public = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(sw["ed25519PublicKey"][len("whpk_"):]))
    for case in sw["cases"]:
        body = base64.b64decode(case["bodyBase64"])
        check(body == case["body"].encode(), f"standardwebhooks {case['name']} body/bodyBase64")
        ok, reason = sw_verify(case["secret"], case["headers"], body, case["verifyAt"], sw["toleranceSeconds"])
        check(ok == case["valid"] and reason == case["reason"], f"standardwebhooks {case['name']} ({reason})")
        prefix = case["headerPrefix"]
        for entry in case["headers"][f"{prefix}-signature"].split(" "):
            if entry.startswith("v1a,"):
                signed = f"{case['headers'][f'{prefix}-id']}.{case['headers'][f'{prefix}-timestamp']}.".encode() + body
                try:
                    public.verify(base64.b64decode(entry[4:]), signed)
                except InvalidSignature:
                    failures.append(f"standardwebhooks {case['name']} v1a entry is not a valid Ed25519 signature")
    upstream = next(c for c in sw["cases"] if c["name"] == "upstream-sign-function")
    check(upstream["headers"]["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
          "standardwebhooks upstream vector unchanged")
    lines.append(f"resend/*.json                 {len(rs_files)} svix-signed bodies, {rs_count} expected events; "
                 f"standardwebhooks.json {len(sw['cases'])} cases")

    # Mandrill
    form = read_bytes("mandrill/batch.form")
    params = urllib.parse.parse_qsl(form.decode(), keep_blank_values=True, strict_parsing=True)
    sig = read_json("mandrill/batch.signature.json")
    signed, expected_sig = mandrill_signature(sig["key"], sig["url"], params)
    check(expected_sig == sig["signature"], "mandrill/batch.form signature")
    check(form_body(params) == form, "mandrill/batch.form re-encodes to the same bytes")
    if use_openssl:
        check(b64(openssl_hmac("sha1", sig["key"].encode(), signed.encode())) == sig["signature"],
              "mandrill/batch.form signature (openssl)")
    try:
        events = json.loads(dict(params)["mandrill_events"])
    except (KeyError, ValueError):
        failures.append("mandrill/batch.form: mandrill_events is not a JSON array")
        events = []
    mandrill_expected = read_json("mandrill/expected.json")["batch.form"]
    check(len(events) == len(mandrill_expected), "mandrill expected.json has one entry per batch event")
    check_expected("mandrill", ["batch.form"], failures, arrays=True)
    mv = read_json("vectors/mandrill.json")
    for case in mv["cases"]:
        case_params = urllib.parse.parse_qsl(case["formBody"], keep_blank_values=True, strict_parsing=True)
        check([list(p) for p in case_params] == case["params"], f"mandrill {case['name']} formBody/params")
        case_signed, case_sig = mandrill_signature(case["key"], case["url"], case_params)
        check(case_signed == case["signedData"], f"mandrill {case['name']} signedData")
        check(hmac.compare_digest(case_sig, case["signature"]) == case["valid"], f"mandrill {case['name']}")
    lines.append(f"mandrill/batch.form           {len(events)} events, {len(form)} bytes; mandrill.json "
                 f"{len(mv['cases'])} cases")

    # SNS / SES
    cert_pem = read_bytes("sns/cert.pem")
    cert = x509.load_pem_x509_certificate(cert_pem)
    public_key = cert.public_key()
    check(cert.signature_hash_algorithm.name == "sha256", "cert.pem is self-signed with SHA-256")
    public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    with tempfile.TemporaryDirectory() as workdir:
        pubkey_path = f"{workdir}/pub.pem"
        if use_openssl:
            pem = openssl(["x509", "-pubkey", "-noout", "-in", str(FIXTURES / "sns" / "cert.pem")]).stdout
            Path(pubkey_path).write_bytes(pem)
        sns_checked = 0
        for folder in ("ses", "sns"):
            names = sorted(p.name for p in (FIXTURES / folder).glob("*.json")
                           if p.name not in ("headers.json", "expected.json"))
            hdrs = read_json(f"{folder}/headers.json")
            check(sorted(hdrs) == names, f"{folder}/headers.json lists every fixture")
            for name in names:
                body = read_bytes(f"{folder}/{name}")
                message = json.loads(body)
                data = sns_string_to_sign(message).encode()
                version = message["SignatureVersion"]
                check(rsa_verify(public_key, data, message["Signature"], version), f"{folder}/{name} SNS signature")
                check(cert_url_allowed(message["SigningCertURL"]), f"{folder}/{name} SigningCertURL policy")
                check(hdrs[name]["x-amz-sns-message-id"] == message["MessageId"], f"{folder}/{name} headers")
                if use_openssl:
                    digest = {"1": "sha1", "2": "sha256"}[version]
                    check(openssl_rsa_verify(pubkey_path, digest, data, base64.b64decode(message["Signature"]),
                                             workdir), f"{folder}/{name} SNS signature (openssl)")
                sns_checked += 1
                if folder == "ses" and message["Type"] == "Notification":
                    for event in read_json("ses/expected.json")[name]:
                        check(event["dedupKeyInputs"][0] == message["MessageId"],
                              f"ses/expected.json {name} dedup uses the SNS MessageId")
        ses_files = sorted(p.name for p in (FIXTURES / "ses").glob("*.json")
                           if p.name not in ("headers.json", "expected.json"))
        ses_count = check_expected("ses", ses_files, failures, arrays=True)
        sv = read_json("vectors/sns.json")
        check(sv["certificateSHA256"] == cert.fingerprint(hashes.SHA256()).hex(), "sns.json certificate fingerprint")
        for case in sv["cases"]:
            message = json.loads(case["body"])
            data = sns_string_to_sign(message)
            check(data == case["stringToSign"], f"sns {case['name']} stringToSign")
            sig_ok = rsa_verify(public_key, data.encode(), message["Signature"], message["SignatureVersion"])
            url_ok = cert_url_allowed(message["SigningCertURL"])
            version_ok = message["SignatureVersion"] in SNS_HASHES
            check(sig_ok == case["signatureValid"], f"sns {case['name']} signatureValid")
            check(url_ok == case["certURLAllowed"], f"sns {case['name']} certURLAllowed")
            check((sig_ok and url_ok and version_ok) == case["accept"], f"sns {case['name']} accept")
            if use_openssl and version_ok:
                digest = {"1": "sha1", "2": "sha256"}[message["SignatureVersion"]]
                check(openssl_rsa_verify(pubkey_path, digest, data.encode(), base64.b64decode(message["Signature"]),
                                         workdir) == sig_ok, f"sns {case['name']} (openssl)")
        for case in sv["certURLPolicy"]["cases"]:
            check(cert_url_allowed(case["url"]) == case["allowed"], f"sns URL policy {case['url']}")
    lines.append(f"ses/*.json, sns/*.json        {sns_checked} SNS-signed bodies, {ses_count} expected SES events; "
                 f"sns.json {len(sv['cases'])} cases, {len(sv['certURLPolicy']['cases'])} URL policy cases")
    lines.append("openssl cross-check          " + ("done" if use_openssl else "skipped (no openssl binary)"))
    return failures, lines
