"""Run parliament (pinned in xtask/python-tools.txt) on IAM policy documents, one statement at a time.

stdin: [{"origin": "...", "document": {...}}, ...]; stdout: [{"origin", "statement", "issue", "severity",
"detail"}, ...]. Each statement is analyzed as a policy of its own, so a finding names its statement.
Started by xtask/src/cloud/checks/iam_grammar.rs from the tools venv.
"""
import json
import sys

import parliament

out = []
for item in json.load(sys.stdin):
    statements = item["document"].get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for index, statement in enumerate(statements):
        label = statement.get("Sid") or f"#{index + 1}"
        doc = {"Version": item["document"].get("Version", "2012-10-17"), "Statement": [statement]}
        policy = parliament.analyze_policy_string(json.dumps(doc))
        for finding in map(parliament.enhance_finding, policy.findings):
            detail = finding.detail
            if not isinstance(detail, str):
                detail = json.dumps(detail, sort_keys=True)
            out.append({
                "origin": item["origin"],
                "statement": label,
                "issue": finding.issue,
                "severity": finding.severity,
                "detail": detail,
            })
json.dump(out, sys.stdout)
