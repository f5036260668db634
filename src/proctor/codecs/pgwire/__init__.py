"""PostgreSQL frontend/backend protocol v3, sans-IO.

Theory of operation
-------------------
Nothing in this package reads or writes a socket. The adapter feeds received bytes in and gets
messages (or byte offsets of messages) out, and asks the encoders for bytes to send.

Two directions have different needs, so there are two framers:

* ``FrontendFramer`` (client → gateway) yields *complete* messages. Every command must be seen
  whole before it is allowed through (policy needs the full SQL), and client messages are small
  except CopyData, which ``max_message_size`` bounds.
* ``BackendScanner`` (server → gateway) never holds a message body it was not asked for: it
  walks message headers and reports only the message types the adapter registered interest
  in. The received bytes can then be forwarded as one slice, so a 1 GB result streams
  through with constant memory. Its innermost loops (``walk.py``) are written for mypyc,
  which compiles them with the rest of the hot path (``proctor/hotpath.py``) when a C
  compiler is available (``accel.py``); interpreted, the same walk is done with
  ``struct.unpack_from``.

Startup-phase packets have no type byte; ``StartupFramer`` handles them.
"""

from proctor.codecs.pgwire.errors import ProtocolError
from proctor.codecs.pgwire.framing import BackendScanner, FramedMessage, FrontendFramer, Message
from proctor.codecs.pgwire.startup import (
    CancelRequest,
    GssEncRequest,
    SslRequest,
    StartupFramer,
    StartupMessage,
)
from proctor.codecs.pgwire.values import binary_to_text, category, text_to_binary

__all__ = [
    "BackendScanner",
    "CancelRequest",
    "FramedMessage",
    "FrontendFramer",
    "GssEncRequest",
    "Message",
    "ProtocolError",
    "SslRequest",
    "StartupFramer",
    "StartupMessage",
    "binary_to_text",
    "category",
    "text_to_binary",
]
