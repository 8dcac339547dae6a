"""Page-level secret screen, run on the bytes the relay streams from LiteLLM's database.

Screening every row in SQL costs nearly as much as landing it (measured ~50 us per 2.7 kB row for
the regex, against ~60 us for the whole insert), and secrets in spend logs are rare. So the relay
looks at each page's raw bytes (lower-cased, ~1 MB blocks, with an overlap so nothing hides across
a block boundary) for trigger strings; a page with none skips the per-row SQL screen
(:func:`statements.row_screen_expr`) entirely. The triggers are a superset of what the SQL screen
matches, so every row the SQL screen would flag lies on a page this screen flags (measured: ~5 us
of Python per row, on the relay's core, not the warehouse's).
"""

from __future__ import annotations

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
# own metadata.user_api_key always is one, so normal rows do not trip this)
KEY_FIELDS: tuple[bytes, ...] = (b'api_key": "', b'api-key": "', b'apikey": "')
HEX = b"0123456789abcdef"
OVERLAP = 96  # longer than any trigger, and than a key field plus its 64-character value


def _non_hash_key_field(data: bytes, limit: int) -> bool:
    """Any key field starting before ``limit`` whose value is not 64 hex digits and a quote?"""
    for needle in KEY_FIELDS:
        i = data.find(needle)
        while i != -1 and i < limit:
            v = i + len(needle)
            value = data[v : v + 64]
            if len(value) < 64 or value.translate(None, HEX) or data[v + 64 : v + 65] != b'"':
                return True
            i = data.find(needle, v + 64)
    return False


class PageScreen:
    """Give it a page's bytes block by block, then call :meth:`finish`: true if the page needs the
    per-row screen."""

    def __init__(self) -> None:
        self.suspicious = False
        self._tail = b""

    def scan(self, block: bytes) -> None:
        if self.suspicious:
            return
        data = self._tail + block.lower()
        # a key field this close to the end may lack its value: the tail carries it into the next
        # block, where it is examined whole
        if any(t in data for t in TRIGGERS) or _non_hash_key_field(data, len(data) - OVERLAP):
            self.suspicious = True
            return
        self._tail = data[-OVERLAP:]

    def finish(self) -> bool:
        if not self.suspicious and _non_hash_key_field(self._tail, len(self._tail)):
            self.suspicious = True
        return self.suspicious
