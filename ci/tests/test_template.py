"""Static checks of template.yaml (and the cargo-lambda metadata) against docs/design.md's contract.

Run by ci/check-template.sh inside its tools venv (PyYAML, cfn-lint come with aws-sam-cli there):
    .venv-tools/bin/python -m pytest -q ci/tests
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = Path(os.environ.get("TEMPLATE_UNDER_TEST", REPO / "template.yaml"))

# The contract (docs/design.md, "The endpoints"): exactly these routes, all POST.
EXPECTED_ROUTES = {
    ("POST", "/inquiries/{inquiry_id}/one-time-link"): "issue-link",
    ("POST", "/inquiries/{inquiry_id}/session"): "resume-session",
    ("POST", "/me/one-time-link"): "issue-link",
    ("POST", "/me/session"): "resume-session",
}
JWT_ONLY = {"/me/one-time-link", "/me/session"}

# docs/design.md's configuration table, less PERSONA_API_KEY (local development only), with the code's
# defaults ("" = unset). Cross-checked against design.md itself when it is reachable (test below).
EXPECTED_ENV_DEFAULTS = {
    "PERSONA_API_KEY_SECRET_ID": None,  # required parameter: no default
    "PERSONA_API_BASE_URL": "https://api.withpersona.com/api/v1",
    "PERSONA_VERSION": "2025-12-08",
    "PERSONA_HOSTED_FLOW_URL": "https://inquiry.withpersona.com/verify",
    "PERSONA_INQUIRY_TEMPLATE_ID": "",
    "PERSONA_REDIRECT_URI": "",
    "LINK_EXPIRES_IN_SECONDS": "",
    "AUTH_MODE": "jwt",
    "OWNER_CLAIM": "sub",
    "TEMPLATE_CHECK_UNAVAILABLE": "resume",
    "EXPIRE_SUPERSEDED": "false",
    "TRUSTED_INQUIRY_TAG": "",
    "GUARD_TABLE": None,  # the stack's own table (Ref GuardTable), never a parameter
    "PERSONA_CALLS_PER_MINUTE": "240",
    "REQUESTS_PER_OWNER_PER_MINUTE": "10",
    "SESSIONS_PER_INQUIRY_PER_DAY": "10",
    "SESSION_LIMIT_ERROR": "",
}
LOCAL_ONLY_ENV = {"PERSONA_API_KEY"}
# Variables set from a resource of the template rather than a parameter.
FROM_RESOURCE_ENV = {"GUARD_TABLE": "GuardTable"}

# The guard's operations (shared/src/guard/dynamo.rs): a transaction is authorised per item action.
GUARD_ACTIONS = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
ALLOWED_ACTIONS = {"secretsmanager:GetSecretValue", "logs:CreateLogStream", "logs:PutLogEvents", *GUARD_ACTIONS}


# ---------------------------------------------------------------------------------------------- loading
class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags into their long form (!Ref x -> {"Ref": x})."""


def _construct_cfn_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


def load_template(path: Path = TEMPLATE) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


@pytest.fixture(scope="module")
def tpl() -> dict:
    return load_template()


def functions(tpl: dict) -> dict[str, dict]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def effective(tpl: dict, fn: dict, prop: str):
    """A function property as SAM sees it: the function's own value, else the Globals one."""
    props = fn.get("Properties", {})
    if prop in props:
        return props[prop]
    return tpl.get("Globals", {}).get("Function", {}).get(prop)


def effective_env(tpl: dict, fn: dict) -> dict:
    env = dict(tpl.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    env.update(fn.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    return env


def bin_names() -> dict[str, str]:
    """[[bin]] name -> package name, over functions/*/Cargo.toml."""
    names = {}
    for manifest in sorted((REPO / "functions").glob("*/Cargo.toml")):
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        for b in data.get("bin", []):
            names[b["name"]] = data["package"]["name"]
    return names


def unwrap_if(value):
    """Fn::If [cond, a, b] -> (cond, a, b); anything else -> (None, value, None)."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        cond, a, b = value["Fn::If"]
        return cond, a, b
    return None, value, None


def is_no_value(value) -> bool:
    return value == {"Ref": "AWS::NoValue"}


def api_body(tpl: dict) -> dict:
    apis = [v for v in tpl["Resources"].values() if v["Type"] == "AWS::Serverless::HttpApi"]
    assert len(apis) == 1, "exactly one AWS::Serverless::HttpApi"
    return apis[0]["Properties"]["DefinitionBody"]


def function_of_integration(tpl: dict, method_def: dict) -> str:
    uri = method_def["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    m = re.search(r"\$\{(\w+?)(?:Aliaslive|\.Arn)?\}/invocations$", uri)
    assert m, f"integration uri not recognised: {uri}"
    return m.group(1)


# ------------------------------------------------------------------------------------------------ routes
def test_event_routes_are_exactly_the_contract(tpl):
    bins = bin_names()
    seen = {}
    for logical_id, fn in functions(tpl).items():
        binary = fn["Metadata"]["BuildProperties"]["Binary"]
        assert binary in bins, f"{logical_id}: BuildProperties.Binary {binary!r} is no [[bin]] of functions/*"
        # CodeUri is the binary's own package directory, so cargo resolves features for that package only.
        code_uri = fn["Properties"]["CodeUri"]
        manifest = tomllib.loads((REPO / code_uri / "Cargo.toml").read_text(encoding="utf-8"))
        assert binary in [b["name"] for b in manifest.get("bin", [])], f"{logical_id}: CodeUri {code_uri}"
        for event in fn["Properties"].get("Events", {}).values():
            assert event["Type"] == "HttpApi"
            p = event["Properties"]
            key = (p["Method"].upper(), p["Path"])
            assert key not in seen, f"route {key} defined twice"
            seen[key] = binary
            assert p.get("PayloadFormatVersion") == "2.0"
    assert seen == EXPECTED_ROUTES


def test_definition_body_routes_match_and_me_is_jwt_only(tpl):
    body = api_body(tpl)
    binary_of = {
        lid: fn["Metadata"]["BuildProperties"]["Binary"] for lid, fn in functions(tpl).items()
    }
    routes = {}
    for path, item in body["paths"].items():
        cond, item_true, item_false = unwrap_if(item)
        if path in JWT_ONLY:
            assert cond == "IsJwt" and is_no_value(item_false), f"{path} must exist only when IsJwt"
        else:
            assert cond is None, f"{path} must exist in both auth modes"
        for method, method_def in item_true.items():
            routes[(method.upper(), path)] = binary_of[function_of_integration(tpl, method_def)]
            integ = method_def["x-amazon-apigateway-integration"]
            assert integ["type"] == "aws_proxy" and integ["payloadFormatVersion"] == "2.0"
    assert routes == EXPECTED_ROUTES
    assert tpl["Conditions"]["IsJwt"] == {"Fn::Equals": [{"Ref": "AuthMode"}, "jwt"]}


def test_watch_router_matches_the_routes():
    root = tomllib.loads((REPO / "Cargo.toml").read_text(encoding="utf-8"))
    router = root["workspace"]["metadata"]["lambda"]["watch"]["router"]
    got = {}
    for path, target in router.items():
        assert isinstance(target, list), f"{path}: route by method, as API Gateway does"
        for entry in target:
            got[(entry["method"], path)] = entry["function"]
    assert got == EXPECTED_ROUTES


# -------------------------------------------------------------------------------------------------- auth
def test_every_route_is_authenticated_jwt_or_iam(tpl):
    body = api_body(tpl)
    schemes = body["components"]["securitySchemes"]
    cond, jwt, none = unwrap_if(schemes["PersonaJwt"])
    assert cond == "IsJwt" and is_no_value(none)
    assert jwt["x-amazon-apigateway-authorizer"]["type"] == "jwt"
    assert jwt["x-amazon-apigateway-authorizer"]["jwtConfiguration"]["issuer"] == {"Ref": "JwtIssuer"}
    assert "JwtAudience" in str(jwt["x-amazon-apigateway-authorizer"]["jwtConfiguration"]["audience"])
    assert schemes["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"

    for path, item in body["paths"].items():
        _, item, _ = unwrap_if(item)
        for method, method_def in item.items():
            security = method_def.get("security")
            assert security, f"{method} {path} has no security: the API must never be open"
            if path in JWT_ONLY:
                assert security == [{"PersonaJwt": []}]
            else:
                assert security == {"Fn::If": ["IsJwt", [{"PersonaJwt": []}], [{"AWS_IAM": []}]]}
    # No SAM-level escape hatch either.
    api = next(v for v in tpl["Resources"].values() if v["Type"] == "AWS::Serverless::HttpApi")
    assert "NONE" not in str(api["Properties"].get("Auth", {}))
    for fn in functions(tpl).values():
        for event in fn["Properties"]["Events"].values():
            assert "Auth" not in event["Properties"]


def test_auth_mode_parameter_defaults_to_jwt_and_requires_issuer(tpl):
    p = tpl["Parameters"]["AuthMode"]
    assert p["Default"] == "jwt" and sorted(p["AllowedValues"]) == ["iam", "jwt"]
    rule = tpl["Rules"]["JwtModeNeedsIssuerAndAudience"]
    asserted = str(rule["Assertions"])
    assert "JwtIssuer" in asserted and "JwtAudience" in asserted


# --------------------------------------------------------------------------------------------- functions
def test_function_runtime_settings(tpl):
    assert tpl["Parameters"]["Architecture"]["Default"] == "arm64"
    assert sorted(tpl["Parameters"]["Architecture"]["AllowedValues"]) == ["arm64", "x86_64"]
    for logical_id, fn in functions(tpl).items():
        assert effective(tpl, fn, "Runtime") == "provided.al2023", logical_id
        assert effective(tpl, fn, "Handler") == "bootstrap", logical_id
        assert effective(tpl, fn, "MemorySize") == 128, logical_id
        timeout = effective(tpl, fn, "Timeout")
        assert isinstance(timeout, int) and 0 < timeout < 30, f"{logical_id}: Timeout {timeout} must be < 30"
        assert effective(tpl, fn, "Architectures") == [{"Ref": "Architecture"}], logical_id
        assert fn["Metadata"]["BuildMethod"] == "rust-cargolambda", logical_id
        logging = fn["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON" and "ApplicationLogLevel" in logging
        group = tpl["Resources"][logging["LogGroup"]["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


def test_every_config_variable_is_set_on_both_functions_with_the_code_defaults(tpl):
    params = tpl["Parameters"]
    for logical_id, fn in functions(tpl).items():
        env = effective_env(tpl, fn)
        assert set(env) == set(EXPECTED_ENV_DEFAULTS), f"{logical_id}: env vars differ from the config table"
        assert not LOCAL_ONLY_ENV & set(env), f"{logical_id}: PERSONA_API_KEY is local development only"
        for var, default in EXPECTED_ENV_DEFAULTS.items():
            ref = env[var]
            assert isinstance(ref, dict) and "Ref" in ref, f"{var} must come from a parameter"
            if var in FROM_RESOURCE_ENV:
                assert ref == {"Ref": FROM_RESOURCE_ENV[var]}, f"{var} must name the stack's own resource"
                continue
            param = params[ref["Ref"]]
            if default is None:
                assert "Default" not in param, f"{var}: required parameter"
            else:
                assert str(param.get("Default")) == default, f"{var}: default differs from the code's"


def _design_md() -> Path | None:
    for candidate in (REPO / "docs" / "design.md",):
        if candidate.is_file():
            return candidate
    return None


def test_expected_env_list_matches_design_md():
    path = _design_md()
    if path is None:
        pytest.fail("docs/design.md is missing from the repository")
    text = path.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    table = {}
    for m in re.finditer(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|", section, re.M):
        default = m.group(2).strip().strip("`")
        # "—" alone, or "— (why)": no default in the code.
        table[m.group(1)] = None if default in {"—", "-", ""} or default.startswith("— (") else default
    assert table, "configuration table not found in design.md"
    for var in LOCAL_ONLY_ENV:
        table.pop(var)
    expected = {k: (v if v is not None else None) for k, v in EXPECTED_ENV_DEFAULTS.items()}
    # design.md writes "—" for both "required" (the secret id) and "unset" (""): compare names, then values.
    assert set(table) == set(expected)
    for var, default in table.items():
        if default is not None:
            assert expected[var] == default, var
        else:
            assert expected[var] in (None, ""), var


# --------------------------------------------------------------------------------------------------- IAM
def _statements(role: dict) -> list[dict]:
    props = role["Properties"]
    assert "ManagedPolicyArns" not in props, "no managed policies (AWSLambdaBasicExecutionRole is Resource *)"
    out = []
    for policy in props.get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def _as_list(v):
    return v if isinstance(v, list) else [v]


def test_iam_least_privilege(tpl):
    for logical_id, fn in functions(tpl).items():
        props = fn["Properties"]
        assert "Policies" not in props, f"{logical_id}: no SAM policy templates; the role is explicit"
        role_ref = props["Role"]
        assert "Fn::GetAtt" in role_ref, f"{logical_id}: Role must be this template's role"
        role = tpl["Resources"][role_ref["Fn::GetAtt"][0]]
        own_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        secret_statements = 0
        guard_statements = 0
        for st in _statements(role):
            assert st["Effect"] == "Allow"
            assert "NotAction" not in st and "NotResource" not in st
            actions = _as_list(st["Action"])
            for action in actions:
                assert "*" not in action, f"{logical_id}: wildcard action {action}"
                assert action in ALLOWED_ACTIONS, f"{logical_id}: action {action} not allowed"
            for resource in _as_list(st["Resource"]):
                assert resource != "*", f"{logical_id}: Resource *"
                if any(action.startswith("dynamodb:") for action in actions):
                    assert actions == GUARD_ACTIONS, f"{logical_id}: exactly the guard's actions, nothing else"
                    assert resource == {"Fn::GetAtt": ["GuardTable", "Arn"]}, f"{logical_id}: the guard table only"
                    guard_statements += 1
                elif "secretsmanager:GetSecretValue" in actions:
                    assert actions == ["secretsmanager:GetSecretValue"] or actions == "secretsmanager:GetSecretValue"
                    cond, arn, by_name = unwrap_if(resource)
                    assert cond == "SecretIsArn"
                    assert arn == {"Ref": "PersonaApiKeySecret"}
                    assert by_name["Fn::Sub"].endswith(":secret:${PersonaApiKeySecret}-??????")
                    secret_statements += 1
                else:
                    sub = resource["Fn::Sub"]
                    assert f"log-group:${{{own_group}}}:log-stream:" in sub, f"{logical_id}: logs beyond its group"
        assert secret_statements == 1, f"{logical_id}: exactly one statement for the secret"
        assert guard_statements == 1, f"{logical_id}: exactly one statement for the guard table"
    assert tpl["Conditions"]["SecretIsArn"] == {
        "Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": [":", {"Ref": "PersonaApiKeySecret"}]}]}, "arn"]
    }


# ------------------------------------------------------------------------------------------------ guard
def test_guard_table_is_on_demand_with_ttl_and_one_string_key(tpl):
    """The guard's table (docs/design.md, "The guard"): the rig creates moto's from this same definition."""
    tables = {k: v for k, v in tpl["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    assert list(tables) == ["GuardTable"], "exactly one table"
    props = tables["GuardTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (key,) = props["KeySchema"]
    assert key["KeyType"] == "HASH"
    assert props["AttributeDefinitions"] == [{"AttributeName": key["AttributeName"], "AttributeType": "S"}]
    assert "TableName" not in props, "CloudFormation names it: two stacks never share a table"
    for logical_id, fn in functions(tpl).items():
        assert effective_env(tpl, fn)["GUARD_TABLE"] == {"Ref": "GuardTable"}, logical_id


# ------------------------------------------------------------------------------------------- throttling
def test_route_throttle_is_a_loose_backstop_behind_the_guards_share(tpl):
    """The guard enforces the deployment's share of Persona (PERSONA_CALLS_PER_MINUTE); the route throttle is
    sized with the typical plan so that one route alone can use the whole share, and no looser than a quarter
    above it (see template.yaml). Its burst fits the reserved concurrency the template suggests."""
    params = tpl["Parameters"]
    api = next(v for v in tpl["Resources"].values() if v["Type"] == "AWS::Serverless::HttpApi")
    settings = api["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    rate = float(params["ThrottlingRateLimit"]["Default"])
    burst = int(params["ThrottlingBurstLimit"]["Default"])
    share = int(params["PersonaCallsPerMinute"]["Default"])
    persona_limit, typical_calls = 300, 2
    assert share == 0.8 * persona_limit, "the guard's default share is 80% of Persona's 300/min"
    requests_the_share_serves = share / typical_calls
    assert requests_the_share_serves <= 60 * rate <= 1.25 * requests_the_share_serves
    assert burst >= 1
    routes_per_function, request_seconds = 2, 1
    peak_concurrency = routes_per_function * (burst + rate * request_seconds)
    suggested = re.search(r"at least (\d+)", " ".join(params["ReservedConcurrency"]["Description"].split()))
    assert suggested and peak_concurrency <= int(suggested.group(1)), "ReservedConcurrency's advice fits the burst"


# ------------------------------------------------------------------------------------------------- CORS
def translated(params: dict[str, str]) -> dict:
    """template.yaml through the SAM transform (aws-sam-translator, as `sam deploy` runs it), with the
    functions' CodeUri replaced by an S3 URI the way `sam package` does."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self):
            return {}

    tpl = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    for resource in tpl["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # pseudo parameters only; nothing is called
    return transform(tpl, {"PersonaApiKeySecret": "persona-resume/api-key", **params}, NoManagedPolicies())


def evaluate(node, tpl: dict, params: dict[str, str]):
    """Resolves Ref (parameters and their defaults), Fn::If, Fn::Split and the condition functions the way
    CloudFormation would for these parameter values; other intrinsics are left as they are."""
    def value(n):
        return evaluate(n, tpl, params)

    def condition(name: str) -> bool:
        return bool(value(tpl["Conditions"][name]))

    if isinstance(node, list):
        return [v for v in (value(n) for n in node) if v != {"Ref": "AWS::NoValue"}]
    if not isinstance(node, dict):
        return node
    if list(node) == ["Ref"] and node["Ref"] in tpl.get("Parameters", {}):
        return params.get(node["Ref"], str(tpl["Parameters"][node["Ref"]].get("Default", "")))
    if list(node) == ["Fn::If"]:
        cond, a, b = node["Fn::If"]
        return value(a if condition(cond) else b)
    if list(node) == ["Fn::Split"]:
        sep, text = node["Fn::Split"]
        return value(text).split(sep)
    if list(node) == ["Fn::Equals"]:
        a, b = node["Fn::Equals"]
        return value(a) == value(b)
    if list(node) == ["Fn::Not"]:
        return not value(node["Fn::Not"][0])
    if list(node) == ["Fn::And"]:
        return all(value(n) for n in node["Fn::And"])
    if list(node) == ["Condition"]:
        return condition(node["Condition"])
    out = {k: value(v) for k, v in node.items()}
    return {k: v for k, v in out.items() if v != {"Ref": "AWS::NoValue"}}


def deployed_api_body(params: dict[str, str]) -> dict:
    out = translated(params)
    (api,) = [r for r in out["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    return evaluate(api["Properties"]["Body"], out, params)


ORIGINS = "https://app.example.com,https://admin.example.com"


@pytest.mark.parametrize("mode", ["jwt", "iam"])
def test_cors_lets_browser_code_call_the_api_and_read_retry_after(mode):
    params = {"CorsAllowedOrigins": ORIGINS, "AuthMode": mode}
    if mode == "jwt":
        params |= {"JwtIssuer": "https://issuer.example.com", "JwtAudience": "client"}
    cors = deployed_api_body(params)["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == ORIGINS.split(",")
    assert [m.upper() for m in cors["allowMethods"]] == ["POST"]
    allowed = {h.lower() for h in cors["allowHeaders"]}
    assert {"authorization", "content-type"} <= allowed
    # A 429's Retry-After is invisible to fetch() unless exposed (it is not a CORS-safelisted header).
    assert "retry-after" in {h.lower() for h in cors["exposeHeaders"]}
    assert "*" not in cors["allowOrigins"] and not cors.get("allowCredentials", False)
    assert 0 < cors["maxAge"] <= 7200


def test_cors_is_off_without_origins_and_preflights_never_reach_an_authorizer():
    params = {"JwtIssuer": "https://issuer.example.com", "JwtAudience": "client"}
    body = deployed_api_body(params)
    assert "x-amazon-apigateway-cors" not in body
    # API Gateway answers OPTIONS itself only when no route matches it: no OPTIONS, ANY or $default route
    # (such a route would put the JWT authorizer in front of the preflight, which carries no token).
    for path, item in deployed_api_body({**params, "CorsAllowedOrigins": ORIGINS})["paths"].items():
        assert set(item) == {"post"}, f"{path}: only POST routes"
        assert "$default" not in path


# ------------------------------------------------------------------------------------------ cargo-lambda
def test_cargo_lambda_deploy_metadata_mirrors_the_template(tpl):
    """One [workspace.metadata.lambda.deploy] for both functions (tests/tests/in_process/config_defaults.rs also checks it
    against the code's own defaults); no function manifest carries a second copy that could drift."""
    params = tpl["Parameters"]
    timeout = tpl["Globals"]["Function"]["Timeout"]
    root = tomllib.loads((REPO / "Cargo.toml").read_text(encoding="utf-8"))
    deploy = root["workspace"]["metadata"]["lambda"]["deploy"]
    assert deploy["memory"] == 128 and deploy["timeout"] == timeout
    assert deploy["runtime"] == "provided.al2023"
    for var, value in deploy.get("env", {}).items():
        assert var in EXPECTED_ENV_DEFAULTS and var not in LOCAL_ONLY_ENV
        assert value == EXPECTED_ENV_DEFAULTS[var], f"Cargo.toml: {var}"
    env_params = {v: effective_env(tpl, f)[v]["Ref"] for f in functions(tpl).values() for v in deploy["env"]}
    for var, param in env_params.items():
        assert str(params[param]["Default"]) == deploy["env"][var]
    for manifest in sorted((REPO / "functions").glob("*/Cargo.toml")):
        own = tomllib.loads(manifest.read_text(encoding="utf-8")).get("package", {}).get("metadata", {})
        assert "deploy" not in own.get("lambda", {}), f"{manifest}: deploy settings belong in the root Cargo.toml"


# ------------------------------------------------------------------------------------ the linter itself
def _cfn_lint() -> str:
    exe = Path(sys.executable).with_name("cfn-lint")
    found = str(exe) if exe.exists() else shutil.which("cfn-lint")
    if not found:
        pytest.fail("cfn-lint not installed next to this python (run ci/check-template.sh)")
    return found


def _lint(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    return subprocess.run([_cfn_lint(), "--", str(path)], capture_output=True, text=True, env=env, check=False)


def test_pinned_cfn_lint_passes_the_template():
    res = _lint(TEMPLATE)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(
    ("name", "old", "new", "rule"),
    [
        ("runtime", "Runtime: provided.al2023", "Runtime: provided.al2099-bogus", "E3030"),
        ("event-type", "Type: HttpApi\n", "Type: HttpApiBogus\n", "E0001"),
    ],
)
def test_pinned_cfn_lint_catches_planted_errors(tmp_path, name, old, new, rule):
    """cfn-lint >= 1.54 dropped the SAM transform and passes both of these; the pin must not."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert old in text
    planted = tmp_path / f"template-{name}.yaml"
    planted.write_text(text.replace(old, new, 1), encoding="utf-8")
    res = _lint(planted)
    assert res.returncode != 0, f"cfn-lint passed a template with a bogus {name}:\n{res.stdout}"
    assert rule in res.stdout, res.stdout


# ------------------------------------------------------------------------------------------------ alarms
def test_alarms_watch_the_metrics_the_functions_emit(tpl):
    """Each function has a 5xx alarm, an upstream-error alarm and a guard-unavailable alarm on the EMF metrics that
    shared/src/**/metrics.rs writes (same namespace, metric names and Function dimension), notifying the optional
    SNS topic."""
    (metrics_path,) = sorted((REPO / "shared" / "src").rglob("metrics.rs"))  # wherever the layers put it
    metrics_rs = metrics_path.read_text(encoding="utf-8")
    namespace = re.search(r'pub const NAMESPACE: &str = "(\w+)";', metrics_rs).group(1)
    alarms = [v["Properties"] for v in tpl["Resources"].values() if v["Type"] == "AWS::CloudWatch::Alarm"]
    watched = set()
    for alarm in alarms:
        assert alarm["Namespace"] == namespace
        assert f'count("{alarm["MetricName"]}")' in metrics_rs, f'{alarm["MetricName"]} is not emitted'
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "Function" and dimension["Value"] in bin_names()
        assert alarm["TreatMissingData"] == "notBreaching"
        cond, with_topic, without = unwrap_if(alarm["AlarmActions"])
        assert cond == "HasAlarmTopic" and with_topic == [{"Ref": "AlarmTopicArn"}] and is_no_value(without)
        watched.add((dimension["Value"], alarm["MetricName"]))
    assert watched == {(fn, m) for fn in bin_names() for m in ("Http5xx", "UpstreamErrors", "GuardUnavailable")}
    guard = [a for a in alarms if a["MetricName"] == "GuardUnavailable"]
    for alarm in guard:
        # Any invocation whose guard failed open in 5 minutes: the budgets were not enforced for it.
        assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert tpl["Parameters"]["AlarmTopicArn"]["Default"] == ""
