#!/usr/bin/env python3
"""Refresh cloud/aws/cfn-resource-permissions.json from the full reference file.

Usage: python3 cloud/aws/refresh.py PATH/TO/cfn-resource-permissions.json [AWS::Extra::Type ...]

Keeps every type already pinned, adds every type used by a template in cloud/ (any `Type: AWS::...`
line) and the extra types named on the command line, and writes them sorted and pretty-printed with
the full file's `source` and `fields` lines, so that a refresh is a reviewable diff.
"""
import json
import pathlib
import re
import sys

here = pathlib.Path(__file__).resolve().parent
pinned_path = here / "cfn-resource-permissions.json"
full = json.loads(pathlib.Path(sys.argv[1]).read_text())
wanted = set(sys.argv[2:])
if pinned_path.exists():
    wanted |= set(json.loads(pinned_path.read_text())["types"])
for template in sorted(here.parent.glob("*.yaml")):
    wanted |= set(re.findall(r"^\s+Type:\s+[\"']?(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)", template.read_text(), re.M))
missing = sorted(t for t in wanted if t not in full["types"])
if missing:
    sys.exit(f"not in {sys.argv[1]}: {', '.join(missing)}")
out = {"source": full["source"], "fields": full["fields"], "types": {t: full["types"][t] for t in sorted(wanted)}}
pinned_path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
print(f"{pinned_path.relative_to(here.parent.parent)}: {len(out['types'])} types")
