"""moto's server as the tests, the bench and `cargo xtask dev --backends local` run it.

Two additions to plain `moto_server`, neither of which makes a call succeed that would fail:

1. It stops itself: when its standard input reaches end of file (the process that started it exited,
   even if it was killed) and after `--lifetime SECONDS` at the latest. No test or bench run can
   leave a moto behind.
2. moto's (5.2.x) ExecuteChangeSet is brought in line with CloudFormation's documented behaviour.
   moto applies a change set's resources but leaves three things behind that the deploy tool reads
   afterwards, and that real CloudFormation always updates:
     * the stack's outputs (moto builds them once, from the empty template of REVIEW_IN_PROGRESS);
     * the stack's parameters (an UPDATE change set's values are dropped);
     * a change set's list of changes ignores parameter-only changes (a new ApiCodeKey modifies the
       function that references it).
   This only finishes the bookkeeping moto's own UpdateStack already does (see
   moto/cloudformation/models.py, Stack.update).

Usage: python3 moto_server.py --lifetime SECONDS -H 127.0.0.1 -p PORT  (then moto_server's arguments)
"""

import os
import sys
import threading

from moto.cloudformation import models
from moto.server import main

_execute = models.CloudFormationBackend.execute_change_set


def execute_change_set(self, change_set_name, stack_name=None):
    change_set = self.describe_change_set(change_set_name)
    _execute(self, change_set_name, stack_name)
    stack = self.stacks[change_set.stack_id]
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    stack.parameters = dict(change_set.parameters)


def diff(self):
    resource_map = self.stack.resource_map
    by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
    changes = []
    for action in ("Add", "Modify", "Remove"):
        for name in by_action[action]:
            source = resource_map._resource_json_map if action == "Remove" else self.template_dict["Resources"]
            changes.append(models.Change(action=action, logical_resource_id=name, resource_type=source[name]["Type"]))
    return changes


models.CloudFormationBackend.execute_change_set = execute_change_set
models.ChangeSet.diff = diff


def stop_when_orphaned():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def stop_after(seconds):
    timer = threading.Timer(seconds, lambda: os._exit(0))
    timer.daemon = True
    timer.start()


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--lifetime"]:
        stop_after(float(args[1]))
        args = args[2:]
    threading.Thread(target=stop_when_orphaned, daemon=True).start()
    sys.exit(main(args))
