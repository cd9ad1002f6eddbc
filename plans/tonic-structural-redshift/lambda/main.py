"""A stand-in for the Lambda function Tonic Structural deploys from its own image.

Structural replaces nothing here: it creates its own functions with TONIC_LAMBDA_ROLE. This one
gives the stack a function whose role, timeout and SQS trigger plinth can check and apply.
"""


def handler(event, context):
    return {"batchItemFailures": []}
