"""Amazon SES through EventBridge API destinations: Fixtures/ses-eventbridge/.

Imported by make-test-vectors.py, which calls write_all() and verify_all(); run that script, not
this module.

The `record-<event>.json` files are AWS's own SES event records, copied verbatim from the SES
Developer Guide, "Examples of event data that Amazon SES publishes to Amazon SNS"
(https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html;
awsdocs/amazon-ses-developer-guide, doc-source/event-publishing-retrieving-sns-examples.md, commit
1b656ceb). They are not written here: they are the input. EventBridge carries the same record as
the event's `detail` object; a rule whose input path is `$.detail` sends the record alone, so each
is also a fixture as it stands.

From each record this module composes `<event>.json`, the EventBridge event an API destination
POSTs, with the envelope fields of the EventBridge User Guide, "Amazon EventBridge events"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events.html): version "0", a UUID id,
detail-type from the EventBridge events reference for SES
(https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ses.html), source "aws.ses", account,
time, region, resources. AWS's own SES-on-EventBridge examples were not available offline, so the
envelopes are composed, not copied; expected.json says so. `sending-status.json` is a composed
"Sending Status Disabled" event: of aws.ses, but about the account, not a message.

expected.json is written from the SES documentation's field meanings (the rules below), not from
Postwire's code.
"""

import json
from datetime import datetime, timedelta

import esp_vectors as ev

FOLDER = "ses-eventbridge"
DETAIL_TYPES = {
    "Send": "Email Sent", "Delivery": "Email Delivered", "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received", "Reject": "Email Rejected", "Open": "Email Opened",
    "Click": "Email Clicked", "Rendering Failure": "Email Rendering Failed",
    "DeliveryDelay": "Email Delivery Delayed",
}
RECORDS = ["send", "delivery", "bounce", "complaint", "reject", "open", "click", "rendering-failure", "delivery-delay"]
API_KEY = "postwire-eventbridge-fixture-key"


def detail_key(event_type: str) -> str:
    return {"Rendering Failure": "failure", "DeliveryDelay": "deliveryDelay"}.get(event_type, event_type[0].lower() + event_type[1:])


def micros(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - ev.EPOCH) // timedelta(microseconds=1)


def smtp_code(text):
    digits = [part for part in (text or "").replace(";", " ").split() if len(part) == 3 and part.isdigit()]
    return int(digits[0]) if digits else None


def expected_events(record: dict, envelope_id, name: str) -> list:
    """The SES documentation's meaning of each field, as the ses/ fixtures state it."""
    event_type, mail = record["eventType"], record["mail"]
    detail = record.get(detail_key(event_type), {})
    time = detail.get("timestamp") or mail["timestamp"]
    lists = {"Bounce": "bouncedRecipients", "Complaint": "complainedRecipients", "DeliveryDelay": "delayedRecipients"}
    if event_type in lists:
        recipients = [(r["emailAddress"], r.get("diagnosticCode")) for r in detail[lists[event_type]]]
    elif event_type == "Delivery":
        recipients = [(r, detail.get("smtpResponse")) for r in detail["recipients"]]
    else:
        recipients = [(r, None) for r in mail["destination"]]
    types = {"Send": "sent", "Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained", "Reject": "rejected",
             "Open": "opened", "Click": "clicked", "Rendering Failure": "failed", "DeliveryDelay": "deferred"}
    bounce = {"Permanent": "hard", "Transient": "soft"}.get(detail.get("bounceType"), "undetermined")
    metadata = {k: v[0] for k, v in (mail.get("tags") or {}).items() if not k.startswith("ses:")}
    events = []
    for address, diagnostic in recipients:
        engaged = event_type in ("Open", "Click")
        events.append({
            "type": types[event_type],
            "espEvent": event_type,
            "recipient": address.lower(),
            "occurredAtMicros": micros(time),
            "messageId": mail["messageId"],
            "bounceClass": bounce if event_type == "Bounce" else ("soft" if event_type == "DeliveryDelay" else None),
            "rejectReason": "blocked" if event_type == "Reject" else None,
            "smtpCode": smtp_code(diagnostic),
            "clickURL": detail.get("link") if event_type == "Click" else None,
            "userAgent": detail.get("userAgent") if engaged else None,
            "ip": detail.get("ipAddress") if engaged else None,
            "tags": [],
            "metadata": metadata,
            "campaign": metadata.get("campaign"),
            "dedupKeyInputs": [envelope_id if envelope_id else f"the bytes of {name}", address.lower()],
        })
    return events


def envelope(name: str, record: dict) -> dict:
    detail = record.get(detail_key(record["eventType"]), {})
    return {
        "version": "0",
        "id": ev.seeded_uuid(f"eventbridge-{name}"),
        "detail-type": DETAIL_TYPES[record["eventType"]],
        "source": "aws.ses",
        "account": record["mail"]["sendingAccountId"],
        "time": (detail.get("timestamp") or record["mail"]["timestamp"])[:19] + "Z",
        "region": "us-east-1",
        "resources": [],
        "detail": record,
    }


def fixtures() -> tuple:
    files, expected = {}, {}
    for name in RECORDS:
        raw = ev.read_bytes(f"{FOLDER}/record-{name}.json")
        record = json.loads(raw)
        body = envelope(name, record)
        files[f"{name}.json"] = (json.dumps(body, indent=2) + "\n").encode()
        expected[f"{name}.json"] = expected_events(record, body["id"], name)
        expected[f"record-{name}.json"] = expected_events(record, None, f"record-{name}.json")
    status = {
        "version": "0", "id": ev.seeded_uuid("eventbridge-sending-status"), "detail-type": "Sending Status Disabled",
        "source": "aws.ses", "account": "123456789012", "time": "2024-03-01T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {},
    }
    files["sending-status.json"] = (json.dumps(status, indent=2) + "\n").encode()
    expected["sending-status.json"] = []
    return files, expected


def write_all() -> None:
    files, expected = fixtures()
    for name, body in files.items():
        ev.write_bytes(f"{FOLDER}/{name}", body)
    ev.write_json(f"{FOLDER}/headers.json", {"x-api-key": API_KEY, "content-type": "application/json; charset=utf-8",
                                             "user-agent": "Amazon/EventBridge/ApiDestinations"})
    ev.write_expected(
        FOLDER,
        "Amazon SES events as an EventBridge API destination POSTs them (headers.json: the API-key connection's header). "
        "record-*.json: AWS's published SES records, verbatim (the body when the rule's input path is $.detail); "
        "<event>.json: the same record inside a composed EventBridge envelope.",
        ["occurredAtMicros is the SES event object's own timestamp, else mail.timestamp (Send, Reject, Rendering "
         "Failure have none); one event per recipient of the event's own list (bouncedRecipients, complainedRecipients, "
         "delayedRecipients, delivery.recipients), else per mail.destination address.",
         "dedup is (EventBridge event id, recipient): API destinations retry the same event; a bare record has no id, "
         "so its bytes stand for it. sending-status.json (not about a message) yields no event.",
         "messageId is mail.messageId; mail.tags without the ses: system tags become metadata (first value of each); "
         "Reject is rejected/blocked as anymail maps SES rejects; DeliveryDelay is deferred/soft."],
        expected)


def verify_all() -> tuple:
    failures = []
    files, expected = fixtures()
    for name, body in files.items():
        if ev.read_bytes(f"{FOLDER}/{name}") != body:
            failures.append(f"{FOLDER}/{name} is not what its record composes")
        parsed = json.loads(body)
        if parsed.get("detail") and json.loads(ev.read_bytes(f"{FOLDER}/record-{name}")) != parsed["detail"]:
            failures.append(f"{FOLDER}/{name}: detail differs from record-{name}")
    written = ev.read_json(f"{FOLDER}/expected.json")
    for name, events in expected.items():
        if written.get(name) != events:
            failures.append(f"{FOLDER}/expected.json: {name} differs from the rules")
    count = sum(len(v) for v in expected.values())
    return failures, [f"{FOLDER}/*.json           {len(files)} envelopes + {len(RECORDS)} AWS records, {count} expected events"]
