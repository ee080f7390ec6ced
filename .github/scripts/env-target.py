#!/usr/bin/env python3
"""Print the AWS region and account of one deploy.toml environment as GitHub step outputs.

    python3 .github/scripts/env-target.py ENV [DEPLOY_TOML] >> "$GITHUB_OUTPUT"

prints `region=<region>` and `account=<account id or empty>`. The workflows hand both to
aws-actions/configure-aws-credentials (`aws-region`, `allowed-account-ids`), so that the credentials
they get are for the region and account that `cargo xtask ... --env ENV` itself will use: the region
from `[env.ENV].region`, else `[stack].region`; the account from `[env.ENV].account` (the xtask refuses
a deploy into any other account; this check just fails earlier). Standard library only.
"""

import re
import sys
import tomllib


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: env-target.py ENV [DEPLOY_TOML]", file=sys.stderr)
        return 2
    env, path = argv[1], argv[2] if len(argv) == 3 else "deploy.toml"
    with open(path, "rb") as file:
        config = tomllib.load(file)
    table = config.get("env", {}).get(env)
    if not isinstance(table, dict):
        print(f"{path} has no [env.{env}] table (see README, Release from CI)", file=sys.stderr)
        return 1
    region = table.get("region") or config.get("stack", {}).get("region")
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        print(f"{path}: [env.{env}] has no valid region (nor has [stack])", file=sys.stderr)
        return 1
    account = str(table.get("account", ""))
    if account and not re.fullmatch(r"\d{12}", account):
        print(f"{path}: [env.{env}].account must be a 12-digit AWS account id", file=sys.stderr)
        return 1
    print(f"region={region}")
    print(f"account={account}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
