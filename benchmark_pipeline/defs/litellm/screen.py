"""Page-level secret screen, run on the bytes the relay streams from LiteLLM's database.

Screening every row in SQL costs nearly as much as landing it (measured ~50 us per 2.7 kB row for
the regex, against ~60 us for the whole insert), and secrets in spend logs are rare. So the relay
looks at each page's raw bytes (lower-cased, ~1 MB blocks, with an overlap so nothing hides across
a block boundary) for trigger strings; a page with none skips the per-row SQL screen
(:func:`statements.row_screen_expr`) entirely. The triggers are a superset of what the SQL screen
matches, so every row the SQL screen would flag lies on a page this screen flags (measured: ~15 us
of Python per 3 kB row, nearly all of it the eight substring searches, on the relay's core, not
the warehouse's).
"""

from __future__ import annotations

import re

# lower-case substrings; every case-insensitive alternative of the SQL screen contains one of them
TRIGGERS: tuple[bytes, ...] = (
    b"sk-",
    b"bearer",
    b"passw",  # password, passwd
    b"secret",
    b"authorization",
    b"access",  # access_token, access-token, accesstoken
    b"refresh",  # refresh_token, ...
    b"private",  # private_key, ...
)
# an api_key-named string field is suspicious unless its value is a sha256 hex digest (LiteLLM's
# own metadata.user_api_key always is one, so normal rows do not trip this); one compiled pattern
# keeps the check in C
NON_HASH_KEY_FIELD = re.compile(rb'api[_-]?key": "(?![0-9a-f]{64}")')
OVERLAP = 96  # longer than any trigger, and than a key field plus its 64-character value


def _non_hash_key_field(data: bytes, limit: int) -> bool:
    """Any key field starting before ``limit`` whose value is not 64 hex digits and a quote? (A key
    field at or after ``limit`` may lack its value: the caller examines it again, whole.)"""
    match = NON_HASH_KEY_FIELD.search(data)
    return match is not None and match.start() < limit


class PageScreen:
    """Give it a page's bytes block by block, then call :meth:`finish`: true if the page needs the
    per-row screen.

    :meth:`scan` returns the bytes it has cleared: everything seen so far but the last
    ``OVERLAP`` bytes, which it examines again with the next block (a trigger may straddle the
    two); :meth:`finish` clears those. A direct page writes only cleared bytes, so no byte of a
    row the screen would flag ever reaches the warehouse.
    """

    def __init__(self) -> None:
        self.suspicious = False
        self._held = b""  # seen, not yet cleared (original case)

    def scan(self, block: bytes) -> memoryview:
        if self.suspicious:
            return memoryview(b"")
        data = self._held + block
        lowered = data.lower()
        # a key field this close to the end may lack its value: it is examined whole next time
        if any(t in lowered for t in TRIGGERS) or _non_hash_key_field(lowered, len(lowered) - OVERLAP):
            self.suspicious = True
            self._held = b""
            return memoryview(b"")
        cut = max(len(data) - OVERLAP, 0)
        self._held = data[cut:]
        return memoryview(data)[:cut]

    def finish(self) -> bool:
        """True if the page is suspicious; else the held-back bytes are cleared (:attr:`rest`)."""
        if not self.suspicious and _non_hash_key_field(self._held.lower(), len(self._held)):
            self.suspicious = True
            self._held = b""
        return self.suspicious

    @property
    def rest(self) -> bytes:
        """The held-back bytes: cleared once :meth:`finish` returned False."""
        return self._held
