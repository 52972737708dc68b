"""INDEX.HTM of IHE_XDM.zip escapes what it embeds (issue 14, point 9): no HTML injection into the GP's mailbox."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from typing import Any

HOSTILE = 'CPTS <img src=x onerror="alert(1)"> & <script>alert(2)</script>'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def test_the_community_name_is_text_in_index_htm(make: Any, ports: Any, clock: Any) -> None:
    community = make.community(name=HOSTILE)
    operator = make.member(community, "operator")
    gp = make.member(community, "physician")
    taker = make.member(community, "physician")
    opened = make.open(operator, community, treating=gp)
    clock.advance(hours=1)
    make.tick()
    assert make.accept(taker, opened["id"]).status_code == 200
    seen = make.call("POST", f"/requests/{opened['id']}/outcome", taker, json={"outcome": "seen", "synthesis": "Otite."})
    assert seen.status_code == 200, seen.json
    make.deliver()
    (mail,) = [m for m in ports["mail"].sent if any(p.get_filename() == "IHE_XDM.zip" for p in m.iter_attachments())]
    archive = next(p.get_content() for p in mail.iter_attachments() if p.get_filename() == "IHE_XDM.zip")
    with zipfile.ZipFile(io.BytesIO(archive)) as xdm:
        index = xdm.read("INDEX.HTM").decode()
    parsed = Tags()
    parsed.feed(index)
    assert "img" not in parsed.tags and "script" not in parsed.tags
    assert HOSTILE in parsed.text  # shown as written, as text
