"""moto's server as the tests, the bench and `cargo xtask dev --backends local` run it.

Additions to plain `moto_server`, none of which makes a call succeed that AWS would refuse:

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
3. A change set that fails to execute fails the way CloudFormation's does: ExecuteChangeSet itself
   succeeds, the failing resource gets a `*_FAILED` event with the error as its reason, what the
   failed operation created is deleted again, and the stack ends in `ROLLBACK_COMPLETE` (a create)
   or `UPDATE_ROLLBACK_COMPLETE` (an update, back on its previous template and parameters). moto
   raises the resource's error from ExecuteChangeSet instead and leaves the stack half-updated,
   something real CloudFormation never shows; the deploy tool's rollback handling is tested against
   the documented behaviour.
4. Updating a bucket's Tags works for a bucket without an explicit BucketName (moto 5.2.x looks the
   name up in the template's properties, raising KeyError; CloudFormation tags the bucket it has).
5. S3's GetBucketVersioning answers with the documented root element, `VersioningConfiguration`
   (moto 5.2.x names it `GetBucketVersioningResponse`, which strict clients such as the Rust SDK
   refuse to parse).
6. With IAM enforced (`/moto-api/reset-auth`), a form-encoded request (the query protocol:
   CloudFormation, STS, IAM, RDS, CloudWatch) is verified against the body as sent. moto 5.2.x
   signs its own re-encoding of the parsed form instead, which matches only botocore's encoding
   (spaces as `+`), so every such request from the Rust SDK fails with SignatureDoesNotMatch.
   And DeleteObjects is authorized as `s3:DeleteObject` on the objects (`bucket/*`), as S3 does;
   moto 5.2.x asks for it on the bucket's ARN, which no least-privilege policy grants.

7. A change set's changes carry CloudFormation's `Replacement` flag: `True` for a modified resource
   whose create-only properties (the resource schema's `createOnlyProperties`, from the copy in
   cloud/aws/ that `XTASK_RESOURCE_SCHEMA_FACTS` names) differ between the two templates, else
   `False`. moto 5.2.x reports no flag at all. Only literal differences are seen: a create-only
   property whose value comes from a changed parameter is `False` here, `Conditional` or `True` on
   AWS.

Usage: python3 moto_server.py --lifetime SECONDS -H 127.0.0.1 -p PORT  (then moto_server's arguments)
"""

import os
import sys
import threading

from moto.cloudformation import models, parsing
from moto.core import responses as core_responses
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.server import main

_execute = models.CloudFormationBackend.execute_change_set


# The logical id of the resource whose handler raised last (set by the wrappers below).
_failing = threading.local()


def _remember_failure(handler):
    def wrapped(logical_id, *args, **kwargs):
        try:
            return handler(logical_id, *args, **kwargs)
        except Exception:
            _failing.logical_id = logical_id
            raise

    return wrapped


parsing.parse_and_create_resource = _remember_failure(parsing.parse_and_create_resource)
parsing.parse_and_update_resource = _remember_failure(parsing.parse_and_update_resource)


def execute_change_set(self, change_set_name, stack_name=None):
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    resources = stack.resource_map
    before = {
        "template": stack.template,
        "parameters": dict(stack.parameters or {}),
        "map_template": resources._template,
        "input_parameters": resources.input_parameters,
        "json_map": resources._resource_json_map,
        "parsed": dict(resources._parsed_resources),
    }
    _failing.logical_id = None
    try:
        _execute(self, change_set_name, stack_name)
    except Exception as error:  # noqa: BLE001 - any handler error fails the operation, as in CloudFormation
        _roll_back(stack, change_set, before, error)
        return
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    stack.parameters = dict(change_set.parameters)


def _roll_back(stack, change_set, before, error):
    resources = stack.resource_map
    creating = change_set.change_set_type == "CREATE"
    failed = _failing.logical_id or stack.name
    resource_json = resources._resource_json_map.get(failed, {})
    event = models.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=failed,
        physical_resource_id="",
        resource_type=resource_json.get("Type", "AWS::CloudFormation::Stack"),
        resource_status="CREATE_FAILED" if creating or failed not in before["parsed"] else "UPDATE_FAILED",
        resource_status_reason=str(error) if str(error).startswith(type(error).__name__) else f"{type(error).__name__}: {error}",
        resource_properties=None,
    )
    stack.events.append(event)
    stack._add_stack_event("ROLLBACK_IN_PROGRESS" if creating else "UPDATE_ROLLBACK_IN_PROGRESS")
    # What this operation created goes again; what existed before stays as it was.
    for name, resource in list(resources._parsed_resources.items()):
        if name not in before["parsed"] and not isinstance(resource, str) and name in resources._resource_json_map:
            try:
                resources._delete_resource(resource, resources._resource_json_map[name])
            except Exception:  # noqa: BLE001 - CloudFormation, too, keeps going and reports retained resources
                pass
    resources._parsed_resources = before["parsed"]
    resources._template = before["map_template"]
    resources._resource_json_map = before["json_map"]
    if creating:
        # A rolled-back create shows the template and parameters it tried (GetTemplate,
        # DescribeStacks: moto's resolved parameters are still the attempted ones), and no outputs.
        stack.template = change_set.template
        stack.parameters = dict(change_set.parameters)
        stack._parse_template()
        stack.output_map = parsing.OutputMap(resources, {"Outputs": {}}, stack.stack_id)
    else:
        resources.input_parameters = before["input_parameters"]
        resources.load_parameters()
        resources.load_conditions()
        stack.template = before["template"]
        stack.parameters = before["parameters"]
        stack._parse_template()
        stack.output_map = stack._create_output_map()
    stack.status = "ROLLBACK_COMPLETE" if creating else "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status)
    change_set.execution_status = "EXECUTE_FAILED"


def diff(self):
    resource_map = self.stack.resource_map
    by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
    changes = []
    for action in ("Add", "Modify", "Remove"):
        for name in by_action[action]:
            source = resource_map._resource_json_map if action == "Remove" else self.template_dict["Resources"]
            change = models.Change(action=action, logical_resource_id=name, resource_type=source[name]["Type"])
            if action == "Modify":
                before = resource_map._resource_json_map[name].get("Properties") or {}
                after = self.template_dict["Resources"][name].get("Properties") or {}
                change.replacement = _replacement(source[name]["Type"], before, after)
            changes.append(change)
    return changes


_create_only = None


def _replacement(kind, before, after):
    global _create_only
    if _create_only is None:
        import json

        path = os.environ.get("XTASK_RESOURCE_SCHEMA_FACTS", "")
        types = json.load(open(path)).get("types", {}) if os.path.exists(path) else {}
        _create_only = {t: [p.split("/")[2] for p in f.get("createOnlyProperties", [])] for t, f in types.items()}
    replaced = any(before.get(p) != after.get(p) for p in _create_only.get(kind, []))
    return "True" if replaced else "False"


def get_bucket_versioning(self):
    status = self.backend.get_bucket_versioning(self.bucket_name)
    self.data["Action"] = "GetBucketVersioning"
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
    )
    return 200, {}, body


_update_bucket = s3_models.FakeBucket.update_from_cloudformation_json.__func__


def update_bucket(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    properties = cloudformation_json["Properties"]
    if "Tags" in properties and "BucketName" not in properties:
        # The name moto's tagging branch reads; equal to the bucket's own, so no replacement.
        properties["BucketName"] = original_resource.name
        try:
            return _update_bucket(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        finally:
            del properties["BucketName"]
    return _update_bucket(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)


s3_models.FakeBucket.update_from_cloudformation_json = classmethod(update_bucket)
models.CloudFormationBackend.execute_change_set = execute_change_set
models.ChangeSet.diff = diff
s3_responses.S3Response.get_bucket_versioning = get_bucket_versioning


_authorize_s3 = s3_responses.S3Response._authenticate_and_authorize_s3_action


def authorize_s3(self, bucket_name=None, key_name=None):
    # DeleteObjects is authorized as s3:DeleteObject on each object, not on the bucket.
    if key_name is None and bucket_name and self.data.get("Action") == "DeleteObject" and self.is_delete_keys():
        key_name = "*"
    return _authorize_s3(self, bucket_name=bucket_name, key_name=key_name)


s3_responses.S3Response._authenticate_and_authorize_s3_action = authorize_s3


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


_setup_class = core_responses.BaseResponse.setup_class


def setup_class(self, request, *args, **kwargs):
    # Read the body as sent before moto parses the form (werkzeug then parses the cached copy).
    form = (request.content_type or "").startswith("application/x-www-form-urlencoded")
    raw = request.get_data(cache=True, parse_form_data=False) if form else b""
    _setup_class(self, request, *args, **kwargs)
    if raw and not self.raw_body:
        self.raw_body = raw


core_responses.BaseResponse.setup_class = setup_class


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--lifetime"]:
        stop_after(float(args[1]))
        args = args[2:]
    threading.Thread(target=stop_when_orphaned, daemon=True).start()
    sys.exit(main(args))
