"""Schemathesis hooks for ci/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

One narrow exemption, for the local emulator, never for the functions: `cargo lambda watch` cannot turn a
request body that is not UTF-8 into an API Gateway event and answers such a request itself with
`500 text/plain {"type":"https://httpstatuses.com/500",...}` without invoking the function. (API Gateway
base64-encodes such a body, and the functions answer it `400 invalid_body`: covered by the Rust tests.)
Such failures are dropped, and listed on stderr so they stay visible. Anything else fails the run.
"""

import sys

import schemathesis

EMULATOR_500_TYPE = b'"type":"https://httpstatuses.com/500"'


def _is_utf8(body) -> bool:
    if body is None:
        return True
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    try:
        bytes(body).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        return False
    return True


def _is_emulator_500(response) -> bool:
    content_type = ",".join(response.headers.get("content-type", []))
    return (
        response.status_code == 500
        and content_type.startswith("text/plain")
        and EMULATOR_500_TYPE in response.content
    )


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    request_body = getattr(response.request, "body", None)
    if _is_emulator_500(response) and not _is_utf8(request_body):
        print(
            f"schemathesis_hooks: dropped {type(failure).__name__} on {case.operation.label}: "
            f"cargo lambda watch's own 500 for a non-UTF-8 body {request_body!r}",
            file=sys.stderr,
        )
        return False
    return True
