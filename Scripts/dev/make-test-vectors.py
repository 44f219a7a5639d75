#!/usr/bin/env python3
"""Regenerate the webhook fixtures and signature vectors of every provider.

This is a development tool. The tests never run it: they read the files it writes, which are
committed under Tests/ProvidersTests/Fixtures/. The signatures are made here, outside Swift,
with Python's `cryptography` package, so the Swift verifiers are checked against an
independent implementation.

    pip install cryptography          # 44 or newer (deterministic ECDSA)
    python3 Scripts/dev/make-test-vectors.py           # rewrite every file, then verify it
    python3 Scripts/dev/make-test-vectors.py --check   # only verify the files on disk

Every output is reproducible: fixed inputs, a fixed ECDSA key derived from a seed, and RFC 6979
deterministic ECDSA signatures; the RSA key behind the SNS certificate is derived from a seed too
(see esp_vectors.py). Running it twice writes byte-identical files.

MailerSend, Resend / Standard Webhooks, Mandrill and Amazon SES (SNS) live in the sibling module
esp_vectors.py (listed there); this script writes and checks them too. With `--check`, an
`openssl` binary on PATH is also used as a second, independent verifier where it applies.

Files written (paths relative to Tests/ProvidersTests/Fixtures/):
    vectors/mailgun-hmac.json           HMAC-SHA256(key, timestamp + token) known answers
    vectors/sendgrid-ecdsa.json         P-256 key pair, valid and invalid signature cases
    vectors/sendgrid-ecdsa-upstream.json  SendGrid's own published test vectors (sendgrid-nodejs)
    mailgun/<event>.json                one signed Mailgun webhook body per event
    sendgrid/batch.json                 one SendGrid Event Webhook body (CRLF wire format)
    sendgrid/batch.signature.json       its timestamp header and signature
"""

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

sys.dont_write_bytecode = True  # no __pycache__ next to the script
sys.path.insert(0, str(Path(__file__).resolve().parent))
import esp_vectors  # noqa: E402  (sibling module: MailerSend, Resend, Mandrill, SES/SNS)
import eventbridge_fixtures  # noqa: E402  (Amazon SES through EventBridge API destinations)
import sw_v1a_vectors  # noqa: E402  (Standard Webhooks v1a, Ed25519)

FIXTURES = Path(__file__).resolve().parents[2] / "Tests" / "ProvidersTests" / "Fixtures"

MAILGUN_SIGNING_KEY = "postwire-fixture-signing-key"
SENDGRID_KEY_SEED = b"postwire sendgrid fixture key v1"
SENDGRID_OTHER_KEY_SEED = b"postwire sendgrid other key v1"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
T0 = 1700000000  # 2023-11-14T22:13:20Z
CRLF = b"\r\n"


# --- helpers -------------------------------------------------------------------------------------


def write_bytes(relative: str, data: bytes) -> None:
    path = FIXTURES / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_json(relative: str, value) -> None:
    """Pretty JSON, UTF-8 (not \\u-escaped), keys in the order given, one trailing newline."""
    write_bytes(relative, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode())


def read_json(relative: str):
    return json.loads((FIXTURES / relative).read_bytes())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seeded_hex(seed: str, length: int) -> str:
    """A fixed pseudo-random lowercase hex string (Mailgun tokens look like this)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def seeded_id(seed: str) -> str:
    """A fixed 22-character base64url id, the shape of Mailgun's event-data.id."""
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()[:16]).rstrip(b"=").decode()


def mailgun_hmac(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def p256_key(seed: bytes) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(hashlib.sha256(seed).digest(), "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The format SendGrid shows: base64 DER SubjectPublicKeyInfo, no PEM armour."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64(der)


def ecdsa_sign(key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> bytes:
    """DER ECDSA-Sig-Value over SHA-256(timestamp bytes + body bytes), RFC 6979 nonce."""
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    return key.sign(timestamp.encode() + body, algorithm)


def is_high_s(signature: bytes) -> bool:
    _, s = decode_dss_signature(signature)
    return s > P256_ORDER // 2


def flip_s(signature: bytes) -> bytes:
    """(r, s) -> (r, n - s): the other, equally valid, signature of the same message."""
    r, s = decode_dss_signature(signature)
    return encode_dss_signature(r, P256_ORDER - s)


def ecdsa_verify(public_key_b64_der: str, timestamp: str, body: bytes, signature_b64: str) -> bool:
    key = serialization.load_der_public_key(base64.b64decode(public_key_b64_der))
    try:
        key.verify(base64.b64decode(signature_b64), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


# --- Mailgun HMAC known answers ------------------------------------------------------------------


def mailgun_hmac_vectors() -> list:
    cases = [
        ("key-3ax6xnjp29jd6fds4gc373sgvjxteol0", "1700000000", seeded_hex("mg-token-1", 50),
         "legacy-style key with non-hex characters (key- prefix)"),
        ("5f3c6e0a9d2b4c7e8f1a0b3d5c7e9f21", "1700000001", seeded_hex("mg-token-2", 50),
         "32 lowercase hex characters, used as an ASCII string (not hex-decoded)"),
        (MAILGUN_SIGNING_KEY, "1700000002", seeded_hex("mg-token-3", 50),
         "the key that signs Fixtures/mailgun/*.json"),
        (MAILGUN_SIGNING_KEY, "1700000003", "a",
         "edge: 1-character token"),
        ("k" * 100, "1700000004", seeded_hex("mg-token-5", 50),
         "edge: 100-byte key, longer than the SHA-256 block, so HMAC hashes the key first"),
    ]
    return [
        {"signingKey": key, "timestamp": ts, "token": token,
         "signature": mailgun_hmac(key, ts, token), "note": note}
        for key, ts, token, note in cases
    ]


# --- Mailgun webhook bodies ----------------------------------------------------------------------
# Shapes follow https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads
# and docs/PROVIDERS.md section 3.3. Every value is invented for the fixture.

MG_DOMAIN = "mg.example.com"
MG_ACCOUNT = {"id": "65536a1f0b8d3c4e5f607182"}
MG_FROM = "Acme Store <news@mg.example.com>"
MG_TAGS = ["newsletter", "spring-sale"]
MG_VARS = {"campaign": "spring-sale", "user_id": "123"}
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148")


def mg_message_id(n: int) -> str:
    return f"20231114221320.{seeded_hex(f'mg-msg-{n}', 16)}@{MG_DOMAIN}"


def mailgun_events() -> dict:
    """File name -> (seconds offset from T0, event-data). The signature is added later."""
    accepted = {
        "event": "accepted", "timestamp": T0 + 0.123456, "id": seeded_id("mg-accepted"),
        "log-level": "info", "method": "HTTP",
        "account": MG_ACCOUNT, "domain": {"name": MG_DOMAIN},
        "recipient": "alice@example.com", "recipient-domain": "example.com",
        "envelope": {"sender": f"bounces@{MG_DOMAIN}", "targets": "alice@example.com",
                     "transport": "smtp"},
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "message": {"headers": {"to": "alice@example.com", "message-id": mg_message_id(1),
                                "from": MG_FROM, "subject": "Spring sale starts now"},
                    "attachments": [], "size": 4821},
        "storage": {"key": "BAABAQU7MRRKX1RlbJ8TuU7nQWdQbw==",
                    "url": f"https://storage-us-east4.api.mailgun.net/v3/domains/{MG_DOMAIN}"
                           "/messages/BAABAQU7MRRKX1RlbJ8TuU7nQWdQbw=="},
        "tags": MG_TAGS, "campaigns": [], "user-variables": MG_VARS,
    }
    delivered = {
        "event": "delivered", "timestamp": T0 + 5.250001, "id": seeded_id("mg-delivered"),
        "log-level": "info",
        "account": MG_ACCOUNT, "domain": {"name": MG_DOMAIN},
        "recipient": "Alice@Example.COM", "recipient-domain": "example.com",
        "envelope": {"sender": f"bounces@{MG_DOMAIN}", "targets": "Alice@Example.COM",
                     "transport": "smtp", "sending-ip": "198.51.100.25"},
        "flags": {"is-authenticated": True, "is-routed": False, "is-system-test": False,
                  "is-test-mode": False},
        "message": {"headers": {"to": "Alice <Alice@Example.COM>", "message-id": mg_message_id(2),
                                "from": MG_FROM, "subject": "Your receipt"},
                    "attachments": [], "size": 2310},
        "delivery-status": {"code": 250, "message": "OK", "description": "",
                            "attempt-no": 1, "tls": True, "certificate-verified": True,
                            "mx-host": "mx.example.com", "session-seconds": 0.412, "utf8": True},
        "tags": ["receipt"], "campaigns": [], "user-variables": {"user_id": "123"},
    }
    failed_temporary = {
        "event": "failed", "severity": "temporary", "reason": "generic",
        "timestamp": T0 + 10.5, "id": seeded_id("mg-failed-temporary"), "log-level": "warn",
        "account": MG_ACCOUNT, "domain": {"name": MG_DOMAIN},
        "recipient": "bob@example.net", "recipient-domain": "example.net",
        "envelope": {"sender": f"bounces@{MG_DOMAIN}", "targets": "bob@example.net",
                     "transport": "smtp", "sending-ip": "198.51.100.25"},
        "flags": {"is-authenticated": True, "is-routed": False, "is-system-test": False,
                  "is-test-mode": False},
        "message": {"headers": {"to": "bob@example.net", "message-id": mg_message_id(3),
                                "from": MG_FROM, "subject": "Spring sale starts now"},
                    "attachments": [], "size": 4821},
        "delivery-status": {"code": 452, "enhanced-code": "4.2.2",
                            "message": "4.2.2 The email account that you tried to reach is over quota.",
                            "description": "", "attempt-no": 2, "retry-seconds": 600,
                            "mx-host": "mx.example.net", "session-seconds": 0.131,
                            "tls": True, "certificate-verified": True, "utf8": True},
        "tags": MG_TAGS, "campaigns": [], "user-variables": MG_VARS,
    }
    failed_permanent = {
        "event": "failed", "severity": "permanent", "reason": "bounce",
        "timestamp": T0 + 20.75, "id": seeded_id("mg-failed-permanent"), "log-level": "error",
        "account": MG_ACCOUNT, "domain": {"name": MG_DOMAIN},
        "recipient": "nobody@example.org", "recipient-domain": "example.org",
        "envelope": {"sender": f"bounces@{MG_DOMAIN}", "targets": "nobody@example.org",
                     "transport": "smtp", "sending-ip": "198.51.100.25"},
        "flags": {"is-authenticated": True, "is-delayed-bounce": False, "is-routed": False,
                  "is-system-test": False, "is-test-mode": False},
        "message": {"headers": {"to": "nobody@example.org", "message-id": mg_message_id(4),
                                "from": MG_FROM, "subject": "Spring sale starts now"},
                    "attachments": [], "size": 4821},
        "delivery-status": {"code": 550, "enhanced-code": "5.1.1", "bounce-code": "5.1.1",
                            "message": "5.1.1 The email account that you tried to reach does not "
                                       "exist. Please try\n5.1.1 double-checking the recipient's "
                                       "email address for typos",
                            "description": "", "attempt-no": 1, "mx-host": "mx.example.org",
                            "session-seconds": 1.207, "tls": True,
                            "certificate-verified": True, "utf8": True},
        "tags": MG_TAGS, "campaigns": [], "user-variables": MG_VARS,
    }
    engagement = {
        "account": MG_ACCOUNT, "domain": {"name": MG_DOMAIN},
        "recipient": "alice@example.com", "recipient-domain": "example.com",
        "message": {"headers": {"message-id": mg_message_id(1)}},
        "ip": "203.0.113.7",
        "geolocation": {"country": "US", "region": "CA", "city": "San Francisco"},
        "client-info": {"client-type": "mobile browser", "client-os": "iOS",
                        "device-type": "mobile", "client-name": "Mobile Safari",
                        "user-agent": IPHONE_UA},
        "tags": MG_TAGS, "campaigns": [], "user-variables": MG_VARS,
    }
    opened = {"event": "opened", "timestamp": T0 + 60.000001, "id": seeded_id("mg-opened"),
              "log-level": "info", **engagement}
    clicked = {"event": "clicked", "timestamp": T0 + 90.5, "id": seeded_id("mg-clicked"),
               "log-level": "info",
               "url": "https://shop.example.com/spring?utm_source=mailgun&utm_campaign=spring-sale",
               **engagement}
    unsubscribed = {
        "event": "unsubscribed", "timestamp": T0 + 120.25, "id": seeded_id("mg-unsubscribed"),
        "log-level": "info", **engagement,
    }
    complained = {
        "event": "complained", "timestamp": T0 + 150.125, "id": seeded_id("mg-complained"),
        "log-level": "warn",
        "account": MG_ACCOUNT, "domain": {"name": MG_DOMAIN},
        "recipient": "carol@example.org", "recipient-domain": "example.org",
        "envelope": {"sending-ip": "198.51.100.25"},
        "flags": {"is-test-mode": False},
        "message": {"headers": {"to": "carol@example.org", "message-id": mg_message_id(5),
                                "from": MG_FROM, "subject": "Spring sale starts now"},
                    "attachments": [], "size": 4821},
        "tags": MG_TAGS, "campaigns": [], "user-variables": MG_VARS,
    }
    rejected = {  # no "recipient": Mailgun omits it here (PROVIDERS.md 3.3); read the To header
        "event": "rejected", "timestamp": T0 + 3.5, "id": seeded_id("mg-rejected"),
        "log-level": "warn",
        "account": MG_ACCOUNT, "domain": {"name": MG_DOMAIN},
        "reject": {"reason": "Sandbox subdomains are for test purposes only. Please add your own "
                             "domain or add the address to authorized recipients in Account "
                             "Settings.",
                   "description": ""},
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "message": {"headers": {"to": "Dave Example <Dave@Example.net>",
                                "message-id": mg_message_id(6), "from": MG_FROM,
                                "subject": "Spring sale starts now"},
                    "attachments": [], "size": 4821},
        "tags": MG_TAGS, "campaigns": [], "user-variables": MG_VARS,
    }
    return {
        "accepted": (1, accepted),
        "delivered": (6, delivered),
        "rejected": (4, rejected),
        "failed-temporary": (11, failed_temporary),
        "failed-permanent": (21, failed_permanent),
        "opened": (61, opened),
        "clicked": (91, clicked),
        "unsubscribed": (121, unsubscribed),
        "complained": (151, complained),
    }


def write_mailgun_fixtures() -> None:
    for name, (offset, event_data) in mailgun_events().items():
        timestamp = str(T0 + offset)
        token = seeded_hex(f"mg-fixture-token-{name}", 50)
        signature = {"timestamp": timestamp, "token": token,
                     "signature": mailgun_hmac(MAILGUN_SIGNING_KEY, timestamp, token)}
        event_data = {key: event_data[key] for key in sorted(event_data)}  # as Mailgun's docs show
        write_json(f"mailgun/{name}.json", {"signature": signature, "event-data": event_data})


# --- SendGrid: batch body in the wire format -----------------------------------------------------
# Shapes follow https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event and
# docs/PROVIDERS.md section 2.3. The byte layout ("[{...},\r\n{...}]\r\n", compact, keys sorted)
# follows SendGrid's own signed test payloads in sendgrid-nodejs (see upstream vectors below).


def sg_ids(n: int):
    """(sg_message_id, smtp-id) for the n-th invented message."""
    short = seeded_id(f"sg-msg-{n}")
    return (f"{short}.filterdrecv-5b8f7c9d6-k2x9p-1-6553F100-{n}.0",
            f"<{short}@geopod-ismtpd-4>")


def sg_event_id(kind: str, n: int, k: int) -> str:
    raw = f"{kind}-0-12345678-{seeded_id(f'sg-msg-{n}')}-{k}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sendgrid_events() -> list:
    def common(event, email, ts, n, k, category, smtp=True):
        message_id, smtp_id = sg_ids(n)
        fields = {"email": email, "timestamp": T0 + ts, "event": event,
                  "sg_event_id": sg_event_id(event, n, k), "sg_message_id": message_id,
                  "category": category}
        if smtp:  # SendGrid's examples carry smtp-id on delivery events only
            fields["smtp-id"] = smtp_id
        return fields

    args = {"campaign": "spring-sale", "user_id": "123"}
    both = ["newsletter", "spring-sale"]
    sending_ip = "198.51.100.25"
    return [
        {**common("processed", "alice@example.com", 0, 1, 0, "newsletter"), **args,
         "pool": {"name": "transactional", "id": 210}, "send_at": 0},
        {**common("dropped", "suppressed@example.com", 1, 2, 0, both), **args,
         "reason": "Bounced Address", "status": "5.0.0"},
        {**common("delivered", "alice@example.com", 2, 1, 0, "newsletter"), **args,
         "ip": sending_ip, "tls": 1,
         "response": "250 2.0.0 OK  1700000002 d2e1a72f4b9c.12 - gsmtp"},
        {**common("deferred", "Bob@Example.NET", 5, 3, 0, both), **args,
         "ip": sending_ip, "tls": 1, "attempt": "1",
         "response": "451 4.7.650 The mail server [198.51.100.25] has been temporarily rate "
                     "limited due to IP reputation."},
        {**common("bounce", "nobody@example.com", 7, 4, 0, both), **args,
         "type": "bounce", "status": "5.1.1", "bounce_classification": "Invalid Address",
         "ip": sending_ip, "tls": 1,
         "reason": "550 5.1.1 The email account that you tried to reach does not exist. Please "
                   "try double-checking the recipient's email address for typos or unnecessary "
                   "spaces."},
        {**common("bounce", "carol@example.org", 9, 5, 1, both), **args,
         "type": "blocked", "status": "5.7.1", "bounce_classification": "Reputation",
         "ip": sending_ip, "tls": 1,
         "reason": "550 5.7.1 Service unavailable; Client host [198.51.100.25] blocked using "
                   "zen.spamhaus.org"},
        {**common("open", "alice@example.com", 100, 1, 2, both, smtp=False), **args,
         "sg_machine_open": True, "useragent": "Mozilla/5.0", "ip": "203.0.113.50",
         "marketing_campaign_id": 4321, "marketing_campaign_name": "Spring Sale 2024"},
        {**common("click", "alice@example.com", 160, 1, 3, both, smtp=False), **args,
         "url": "https://shop.example.com/spring?utm_source=sendgrid&utm_campaign=spring-sale",
         "url_offset": {"index": 0, "type": "html"}, "useragent": IPHONE_UA,
         "ip": "203.0.113.7", "store": "São Paulo"},
        {**common("spamreport", "dan@example.com", 300, 6, 0, "newsletter", smtp=False), **args},
        {**common("unsubscribe", "erin@example.com", 400, 7, 0, both, smtp=False), **args},
        {**common("group_unsubscribe", "frank@example.com", 500, 8, 0, both, smtp=False),
         **args, "asm_group_id": 42, "useragent": IPHONE_UA, "ip": "203.0.113.9",
         "url": "https://u123456.ct.sendgrid.net/asm/unsubscribe/?user_id=123456&data=abc123"},
        {**common("group_resubscribe", "frank@example.com", 600, 8, 1, both, smtp=False),
         **args, "asm_group_id": 42, "useragent": IPHONE_UA, "ip": "203.0.113.9",
         "url": "https://u123456.ct.sendgrid.net/asm/?user_id=123456&data=abc123"},
    ]


def sendgrid_wire_body(events: list) -> bytes:
    """Compact events, sorted keys, one per line joined by ",\\r\\n", trailing "\\r\\n"."""
    lines = [json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for e in events]
    return ("[" + ",\r\n".join(lines) + "]\r\n").encode()


# --- SendGrid: ECDSA known answers ---------------------------------------------------------------


def sendgrid_vector_bodies() -> dict:
    one_line = (
        '[{"email":"alice@example.com","event":"processed","sg_event_id":"cHJvY2Vzc2VkLTEtMA",'
        '"sg_message_id":"AbCdEfGhIjKlMnOpQrStUv.filterdrecv-1.0","smtp-id":"<AbCdEfGhIjKlMnOpQrStUv@ismtpd-1>",'
        '"timestamp":1700000000},{"email":"alice@example.com","event":"delivered",'
        '"response":"250 OK","sg_event_id":"ZGVsaXZlcmVkLTEtMA",'
        '"sg_message_id":"AbCdEfGhIjKlMnOpQrStUv.filterdrecv-1.0","smtp-id":"<AbCdEfGhIjKlMnOpQrStUv@ismtpd-1>",'
        '"timestamp":1700000001},{"email":"alice@example.com","event":"open",'
        '"ip":"203.0.113.50","sg_event_id":"b3Blbi0xLTA","sg_machine_open":false,'
        '"sg_message_id":"AbCdEfGhIjKlMnOpQrStUv.filterdrecv-1.0","timestamp":1700000060,'
        '"useragent":"Mozilla/5.0"}]'
    )
    pretty = (
        '[\n'
        '  {\n'
        '    "email": "jose@example.com",\n'
        '    "event": "delivered",\n'
        '    "first_name": "José",\n'
        '    "greeting": "¡Hola, José! ✉️",\n'
        '    "sg_event_id": "ZGVsaXZlcmVkLTItMA",\n'
        '    "timestamp": 1700000002\n'
        '  }\n'
        ']\n'
    )
    escaped_slash = (
        '[{"email":"alice@example.com","event":"click","sg_event_id":"Y2xpY2stMy0w",'
        '"timestamp":1700000003,"url":"https:\\/\\/shop.example.com\\/spring?a=1&b=2"}]'
    )
    crlf_wire = (
        '[{"email":"bob@example.net","event":"processed","sg_event_id":"cHJvY2Vzc2VkLTQtMA",'
        '"timestamp":1700000004},\r\n'
        '{"email":"bob@example.net","event":"deferred","attempt":"1",'
        '"response":"421 try again later","sg_event_id":"ZGVmZXJyZWQtNC0w","timestamp":1700000005}]\r\n'
    )
    return {"one-line": one_line, "pretty-unicode": pretty,
            "escaped-slash": escaped_slash, "crlf-wire": crlf_wire}


def sendgrid_ecdsa_vectors(key, other_key) -> dict:
    ts = "1700000000"
    bodies = {name: text.encode() for name, text in sendgrid_vector_bodies().items()}
    cases = []

    def add(name, timestamp, body, signature, valid, note):
        cases.append({
            "name": name, "timestamp": timestamp, "body": body.decode(),
            "bodyBase64": b64(body), "signature": b64(signature), "valid": valid,
            "highS": is_high_s(signature),
            "note": f"{note} ({'high-S' if is_high_s(signature) else 'low-S'}: "
                    f"s {'>' if is_high_s(signature) else '<='} n/2)",
            "digestHex": hashlib.sha256(timestamp.encode() + body).hexdigest(),
        })

    descriptions = {
        "one-line": "a 3-event batch on one line, no trailing newline",
        "pretty-unicode": "pretty-printed with \\n line breaks, raw UTF-8 (José, ¡, ✉️), trailing \\n",
        "escaped-slash": "JSON with \\/ escaped slashes: sign and verify the bytes as sent",
        "crlf-wire": "SendGrid's wire layout: events joined by ,\\r\\n and a trailing \\r\\n",
    }
    signatures = {}
    for name, body in bodies.items():
        signatures[name] = ecdsa_sign(key, ts, body)
        add(name, ts, body, signatures[name], True, descriptions[name])

    # The same message also verifies with s replaced by n - s. SendGrid does not normalise S
    # (both of its published signatures are high-S), so a verifier must accept either half.
    first = signatures["one-line"]
    add("one-line-other-s", ts, bodies["one-line"], flip_s(first), True,
        "same body and timestamp as one-line, signature with s replaced by n - s")

    tampered = bodies["one-line"].replace(b'"event":"delivered"', b'"event":"bounce"')
    add("different-body", ts, tampered, first, False,
        "one-line's signature; the body has one event changed to bounce")
    add("timestamp-changed", "1700000001", bodies["one-line"], first, False,
        "one-line's signature and body; the timestamp header is 1700000001")
    add("different-key", ts, bodies["one-line"], ecdsa_sign(other_key, ts, bodies["one-line"]),
        False, "one-line signed by otherPublicKey's private key, not by publicKey")
    add("trailing-crlf-stripped", ts, bodies["crlf-wire"].rstrip(b"\r\n"), signatures["crlf-wire"],
        False, "crlf-wire's signature; the body lost its trailing \\r\\n (e.g. a trimmed body)")
    body_only = key.sign(bodies["one-line"], ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    add("signed-without-timestamp", ts, bodies["one-line"], body_only, False,
        "signature over the body alone; the timestamp prefix is part of the signed bytes")

    assert any(c["valid"] and c["highS"] for c in cases), "need a valid high-S case"
    assert any(c["valid"] and not c["highS"] for c in cases), "need a valid low-S case"

    raw = key.private_numbers().private_value.to_bytes(32, "big")
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    return {
        "curve": "P-256",
        "publicKey": public_key_b64(key),
        "privateKeyPKCS8": b64(pkcs8),
        "privateKeyRaw": raw.hex(),
        "otherPublicKey": public_key_b64(other_key),
        "signedBytes": "UTF-8 timestamp followed by the raw body bytes, no separator; SHA-256; "
                       "signature is base64 of ASN.1 DER ECDSA-Sig-Value",
        "cases": cases,
    }


# --- SendGrid's own published vectors ------------------------------------------------------------
# From sendgrid/sendgrid-nodejs packages/eventwebhook/src/eventwebhook.spec.js: the payloads are
# rebuilt here byte for byte as that test builds them (JSON.stringify + "\r\n").

UPSTREAM_SOURCE = ("https://github.com/sendgrid/sendgrid-nodejs/blob/main/"
                   "packages/eventwebhook/src/eventwebhook.spec.js")


def sendgrid_upstream_vectors() -> list:
    def compact(value):
        return json.dumps(value, separators=(",", ":"))

    single = compact([{
        "email": "hello@world.com", "event": "dropped", "reason": "Bounced Address",
        "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
        "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
        "timestamp": 1600112492}]) + "\r\n"
    multiple = compact([
        {"email": "invalid@gmail.com", "event": "processed", "send_at": 0,
         "sg_event_id": "cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA",
         "sg_message_id": "qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0",
         "smtp-id": "<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>",
         "timestamp": 1619651146},
        {"email": "invalid@gmail.com", "event": "bounce", "ip": "167.89.101.76",
         "reason": "552 5.2.2 The email account that you tried to reach is over quota and "
                   "inactive. Please direct the recipient to "
                   "https://support.google.com/mail/?p=OverQuotaPerm c17si1130468pgv.34 - gsmtp",
         "sg_event_id": "Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w",
         "sg_message_id": "qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0",
         "smtp-id": "<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>",
         "status": "5.2.2", "timestamp": 1619651147, "tls": 1, "type": "blocked"},
    ]).replace("},{", "},\r\n{") + "\r\n"
    key_single = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flp"
                  "VKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==")
    sig_single = ("MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIq"
                  "Hh89M15TluLtEZtM=")
    unrelated_key = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhX"
                     "SJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==")
    cases = [  # the last case is derived here, not taken from the upstream test
        ("single-event", key_single, "1600112502", single, sig_single, True),
        ("multiple-events", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQ4LIFtWztlsF7skFqOncjD1lun4H5w8"
         "XOhyOArHW9RcIx/FfEzx6cikC/yPfUvwaX/JScE7Fc9CJD2afQ9Ok3Q==", "1619651159", multiple,
         "MEYCIQC/I4o6vCgqRYrTljjoVWB/GRWNtxeePlLMHr3x9ETeRQIhAIpV+03nREPTTHWSW0wIOA0EoMPdcNgXa70"
         "yCaqDJlu5", True),
        ("invalid-key", unrelated_key, "1600112502", single, sig_single, False),
        ("bad-payload", key_single, "1600112502", "payload", sig_single, False),
        ("bad-timestamp", key_single, "timestamp", single, sig_single, False),
        ("trailing-crlf-missing", key_single, "1600112502", single[:-2], sig_single, False),
    ]
    return [
        {"name": name, "publicKey": key, "timestamp": ts, "body": body,
         "bodyBase64": b64(body.encode()), "signature": sig, "valid": valid,
         "highS": is_high_s(base64.b64decode(sig)),
         "source": UPSTREAM_SOURCE if name != "trailing-crlf-missing"
         else "derived: single-event's body without its trailing \\r\\n"}
        for name, key, ts, body, sig, valid in cases
    ]


# --- write, then verify what is on disk ----------------------------------------------------------


def write_all() -> None:
    key, other_key = p256_key(SENDGRID_KEY_SEED), p256_key(SENDGRID_OTHER_KEY_SEED)
    write_json("vectors/mailgun-hmac.json", mailgun_hmac_vectors())
    write_json("vectors/sendgrid-ecdsa.json", sendgrid_ecdsa_vectors(key, other_key))
    write_json("vectors/sendgrid-ecdsa-upstream.json", sendgrid_upstream_vectors())
    write_mailgun_fixtures()
    body = sendgrid_wire_body(sendgrid_events())
    write_bytes("sendgrid/batch.json", body)
    timestamp = str(T0 + 700)
    write_json("sendgrid/batch.signature.json",
               {"timestamp": timestamp, "signature": b64(ecdsa_sign(key, timestamp, body))})
    esp_vectors.write_all()
    sw_v1a_vectors.write_all()
    eventbridge_fixtures.write_all()


def check(condition: bool, what: str, failures: list) -> None:
    if not condition:
        failures.append(what)


def verify_all() -> int:
    failures = []
    hmacs = read_json("vectors/mailgun-hmac.json")
    for v in hmacs:
        check(hmac.compare_digest(mailgun_hmac(v["signingKey"], v["timestamp"], v["token"]),
                                  v["signature"]), f"mailgun-hmac {v['token'][:8]}", failures)

    mailgun_files = sorted((FIXTURES / "mailgun").glob("*.json"))
    for path in mailgun_files:
        sig = json.loads(path.read_bytes())["signature"]
        expected = mailgun_hmac(MAILGUN_SIGNING_KEY, sig["timestamp"], sig["token"])
        check(len(sig["token"]) == 50, f"{path.name} token length", failures)
        check(hmac.compare_digest(expected, sig["signature"]), f"{path.name} signature", failures)

    ecdsa = read_json("vectors/sendgrid-ecdsa.json")
    check(ecdsa["publicKey"].startswith("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"), "SPKI prefix", failures)
    private = serialization.load_der_private_key(base64.b64decode(ecdsa["privateKeyPKCS8"]), None)
    check(private.private_numbers().private_value == int(ecdsa["privateKeyRaw"], 16),
          "PKCS#8 and raw scalar agree", failures)
    check(public_key_b64(private) == ecdsa["publicKey"], "private key matches publicKey", failures)
    for c in ecdsa["cases"]:
        body = base64.b64decode(c["bodyBase64"])
        check(body == c["body"].encode(), f"sendgrid-ecdsa {c['name']} body/bodyBase64", failures)
        check(ecdsa_verify(ecdsa["publicKey"], c["timestamp"], body, c["signature"]) == c["valid"],
              f"sendgrid-ecdsa {c['name']}", failures)
    different_key = next(c for c in ecdsa["cases"] if c["name"] == "different-key")
    check(ecdsa_verify(ecdsa["otherPublicKey"], different_key["timestamp"],
                       different_key["body"].encode(), different_key["signature"]),
          "different-key verifies under otherPublicKey", failures)

    upstream = read_json("vectors/sendgrid-ecdsa-upstream.json")
    for c in upstream:
        check(ecdsa_verify(c["publicKey"], c["timestamp"], c["body"].encode(), c["signature"])
              == c["valid"], f"upstream {c['name']}", failures)

    body = (FIXTURES / "sendgrid" / "batch.json").read_bytes()
    batch_sig = read_json("sendgrid/batch.signature.json")
    check(ecdsa_verify(ecdsa["publicKey"], batch_sig["timestamp"], body, batch_sig["signature"]),
          "sendgrid/batch.json signature", failures)
    events = json.loads(body)

    print(f"mailgun-hmac.json            {len(hmacs)} vectors")
    print(f"mailgun/*.json               {len(mailgun_files)} signed bodies "
          f"(key {MAILGUN_SIGNING_KEY!r})")
    valid = [c for c in ecdsa["cases"] if c["valid"]]
    print(f"sendgrid-ecdsa.json          {len(ecdsa['cases'])} cases: {len(valid)} valid "
          f"({sum(c['highS'] for c in valid)} high-S), {len(ecdsa['cases']) - len(valid)} invalid")
    print(f"sendgrid-ecdsa-upstream.json {len(upstream)} cases from sendgrid-nodejs")
    print(f"sendgrid/batch.json          {len(events)} events, {len(body)} bytes, "
          f"ends with CRLF: {body.endswith(CRLF)}")
    more_failures, lines = esp_vectors.verify_all()
    failures.extend(more_failures)
    v1a_failures, v1a_lines = sw_v1a_vectors.verify_all()
    failures.extend(v1a_failures)
    lines.extend(v1a_lines)
    eventbridge_failures, eventbridge_lines = eventbridge_fixtures.verify_all()
    failures.extend(eventbridge_failures)
    lines.extend(eventbridge_lines)
    for line in lines:
        print(line)
    for failure in failures:
        print(f"FAILED: {failure}")
    print("all signatures verify" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    if "--check" not in sys.argv[1:]:
        write_all()
    sys.exit(verify_all())
