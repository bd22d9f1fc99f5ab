"""whistle-catalogue: check and import a city's territory and catalogue.

    whistle-catalogue import-territory city.geojson [--out DIR]
    whistle-catalogue import-catalogue catalogue.yaml [--out DIR]
    whistle-catalogue import-catalogue categories.csv --departments departments.csv
                      --version 2027.1.0 [--out DIR]

A refused file exits 2 with every reason (feature or row, and why). An imported one is written
as a new version in DIR (default `.local/city/`) and the line to load it is printed: services
read WHISTLE_TERRITORY / WHISTLE_CATALOGUE at start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .onboarding import Invalid, import_catalogue, import_territory, sizes

DEFAULT_OUT = Path(".local/city")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="whistle-catalogue", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    territory = commands.add_parser("import-territory", help="check and import a GeoJSON map")
    territory.add_argument("file", type=Path)
    territory.add_argument("--out", type=Path, default=DEFAULT_OUT)
    catalogue = commands.add_parser("import-catalogue", help="check and import a catalogue")
    catalogue.add_argument("file", type=Path)
    catalogue.add_argument("--departments", type=Path)
    catalogue.add_argument("--version")
    catalogue.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        if args.command == "import-territory":
            written = import_territory(args.file, args.out)
            print(json.dumps(sizes(written), ensure_ascii=False))
            print(f"WHISTLE_TERRITORY={written.resolve()}")
        else:
            written = import_catalogue(args.file, args.out, departments=args.departments,
                                       version=args.version)
            print(f"WHISTLE_CATALOGUE={written.resolve()}")
    except Invalid as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
