"""Approval events as CloudEvents 1.0 in structured JSON mode (``application/cloudevents+json``).

```json
{"specversion": "1.0", "type": "dev.proctor.approval.requested",
 "source": "https://proctor.acme.example", "id": "6f0c...", "time": "2024-05-01T10:00:00Z",
 "subject": "apr_...", "datacontenttype": "application/json",
 "proctoractor": "bob", "proctorurl": "https://proctor.acme.example/approvals/apr_...",
 "data": {"id": "apr_...", "status": "pending", ...}}
```

``id`` is made once per event and channel and kept across retries, so a receiver that saw a
delivery whose answer got lost can recognise the retry. ``proctoractor`` / ``proctorurl`` are
CloudEvents extension attributes (lowercase letters and digits, as the spec requires), present
when known; ``data`` is ``payload.request_json``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from proctor.approvals.notify.payload import request_json, timestamp
from proctor.model.approval import ApprovalEvent

CONTENT_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "dev.proctor.approval."
DEFAULT_SOURCE = "proctor"


def cloudevent(
    event: ApprovalEvent, source: str | None = None, event_id: str | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "specversion": "1.0",
        "type": TYPE_PREFIX + event.type,
        "source": source or DEFAULT_SOURCE,
        "id": event_id or uuid.uuid4().hex,
        "time": timestamp(event.at),
        "subject": event.request.id,
        "datacontenttype": "application/json",
    }
    if event.actor is not None:
        document["proctoractor"] = event.actor
    if event.url is not None:
        document["proctorurl"] = event.url
    document["data"] = request_json(event.request)
    return document


def encode(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
