"""A stand-in for the Lambda function Tonic Structural deploys from its own image.

Structural creates the functions it runs itself, with the role in TONIC_LAMBDA_ROLE. This one
gives the stack a function with that role, Structural's timeout and memory, and an SQS trigger,
so that plinth checks the settings the worker container receives against each other.
"""


def handler(event, context):
    return {"batchItemFailures": []}
