"""Security properties of template.yaml, asserted on the template and on SAM's transform of it.

Run: .venv/bin/python -m unittest discover -s tests/template -v   (make test runs it)
"""

import copy
import json
import os
import re
import sys
import types
import unittest
from pathlib import Path
from unittest import mock

from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn_yaml.load(str(ROOT / "template.yaml"))


class _NoManagedPolicies:
    def load(self):
        return {}


def transformed():
    t = copy.deepcopy(TEMPLATE)
    for res in t["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://bucket/key"
    if "CodeUri" in t.get("Globals", {}).get("Function", {}):
        t["Globals"]["Function"]["CodeUri"] = "s3://bucket/key"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(t, {}, _NoManagedPolicies())


CFN = transformed()
RES = TEMPLATE["Resources"]


def statements(doc):
    st = doc.get("Statement", [])
    return st if isinstance(st, list) else [st]


def actions(stmt):
    a = stmt.get("Action", [])
    return a if isinstance(a, list) else [a]


class SecretAccess(unittest.TestCase):
    def iam_statements(self):
        """(role name, statement) for every inline policy of every role after the transform."""
        for name, res in CFN["Resources"].items():
            if res["Type"] != "AWS::IAM::Role":
                continue
            for pol in res["Properties"].get("Policies", []):
                for st in statements(pol["PolicyDocument"]):
                    yield name, st

    def test_only_the_protected_function_can_read_the_secret(self):
        readers = {
            role: st["Resource"]
            for role, st in self.iam_statements()
            if any(a.lower().startswith("secretsmanager:") for a in actions(st))
        }
        # The webhooks function reads its own signing secret only (Webhooks, below).
        self.assertEqual(set(readers), {"ProtectedFunctionRole", "WebhooksFunctionRole"})
        self.assertEqual(readers["WebhooksFunctionRole"], {"Ref": "WebhookSigningSecret"})

    def test_the_protected_function_reads_exactly_one_secret_with_get_secret_value_only(self):
        sm = [st for role, st in self.iam_statements() if role == "ProtectedFunctionRole"
              and any(a.startswith("secretsmanager:") for a in actions(st))]
        self.assertEqual(len(sm), 1)
        self.assertEqual(actions(sm[0]), ["secretsmanager:GetSecretValue"])
        resource = sm[0]["Resource"]
        self.assertIsInstance(resource, dict, "one resource, not a list or a wildcard")
        self.assertEqual(resource, {"Fn::If": ["CreateSecret", {"Ref": "ClerkSecret"}, {"Ref": "ExistingSecretArn"}]})
        env = RES["ProtectedFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(env["CLERK_SECRET_ID"], resource, "the function reads the secret it may read")

    def test_no_wildcard_actions_or_resources(self):
        for role, st in self.iam_statements():
            for a in actions(st):
                self.assertNotIn("*", a, f"{role}: {a}")
            self.assertNotEqual(st.get("Resource"), "*", role)

    def test_public_function_has_no_secret_and_no_clerk_config_it_does_not_need(self):
        env = RES["PublicFunction"]["Properties"].get("Environment", {}).get("Variables", {})
        self.assertNotIn("CLERK_SECRET_ID", env)
        self.assertNotIn("Policies", RES["PublicFunction"]["Properties"])

    def test_secret_key_parameter_is_no_echo(self):
        self.assertTrue(TEMPLATE["Parameters"]["ClerkSecretKey"]["NoEcho"])


class Functions(unittest.TestCase):
    def test_runtime_architecture_build_and_size(self):
        g = TEMPLATE["Globals"]["Function"]
        self.assertEqual(g["Runtime"], "provided.al2023")
        self.assertEqual(g["Handler"], "bootstrap")
        self.assertEqual(g["MemorySize"], 128)
        self.assertEqual(TEMPLATE["Parameters"]["Architecture"]["AllowedValues"], ["arm64", "x86_64"])
        for name, binary in [("PublicFunction", "public"), ("ProtectedFunction", "protected")]:
            r = RES[name]
            self.assertEqual(r["Metadata"]["BuildMethod"], "rust-cargolambda")
            self.assertEqual(r["Metadata"]["BuildProperties"]["Binary"], binary)
            self.assertLessEqual(r["Properties"]["Timeout"], 10)
            self.assertEqual(r["Properties"]["LoggingConfig"]["LogFormat"], "JSON")
            group = r["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            self.assertIn("RetentionInDays", RES[group]["Properties"])

    def test_every_variable_the_protected_function_needs_is_set(self):
        env = RES["ProtectedFunction"]["Properties"]["Environment"]["Variables"]
        for var in ["CLERK_PUBLISHABLE_KEY", "CLERK_AUTHORIZED_PARTIES", "CLERK_SECRET_ID", "CLERK_JWT_KEY", "CLERK_MACHINE_ID"]:
            self.assertIn(var, env)

    def test_routes_match_the_functions(self):
        routes = {}
        for name in ["PublicFunction", "ProtectedFunction", "WebhooksFunction"]:
            for ev in RES[name]["Properties"]["Events"].values():
                self.assertEqual(ev["Type"], "HttpApi")
                routes[ev["Properties"]["Path"]] = name
        self.assertEqual(routes, {
            "/api/health": "PublicFunction",
            "/api/public": "PublicFunction",
            # Secure by default: whatever the public function does not list needs a session.
            "/api/{proxy+}": "ProtectedFunction",
            # Public at the gateway: the Svix signature is its authentication.
            "/api/webhooks/clerk": "WebhooksFunction",
        })

    def test_api_has_default_stage_cors_and_throttling(self):
        p = RES["HttpApi"]["Properties"]
        self.assertEqual(p["StageName"], "$default")
        self.assertNotIn("CorsConfiguration", p, "CORS is in the OpenAPI body (see Cors)")
        self.assertIn("authorization", p["DefinitionBody"]["x-amazon-apigateway-cors"]["allowHeaders"])
        self.assertIn("ThrottlingRateLimit", p["DefaultRouteSettings"])
        self.assertIn("ThrottlingBurstLimit", p["DefaultRouteSettings"])


class Site(unittest.TestCase):
    def test_bucket_is_private(self):
        block = RES["SiteBucket"]["Properties"]["PublicAccessBlockConfiguration"]
        self.assertEqual(block, {k: True for k in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]})
        for st in statements(RES["SiteBucketPolicy"]["Properties"]["PolicyDocument"]):
            if st["Effect"] == "Allow":
                self.assertEqual(st["Principal"], {"Service": "cloudfront.amazonaws.com"})
                self.assertEqual(actions(st), ["s3:GetObject"])
                self.assertIn("AWS:SourceArn", st["Condition"]["StringEquals"])

    def test_https_only_through_origin_access_control(self):
        cfg = RES["SiteDistribution"]["Properties"]["DistributionConfig"]
        self.assertEqual(cfg["DefaultCacheBehavior"]["ViewerProtocolPolicy"], "redirect-to-https")
        self.assertIn("OriginAccessControlId", cfg["Origins"][0])
        deny = [st for st in statements(RES["SiteBucketPolicy"]["Properties"]["PolicyDocument"]) if st["Effect"] == "Deny"]
        self.assertEqual(deny[0]["Condition"], {"Bool": {"aws:SecureTransport": "false"}})

    def test_security_headers(self):
        h = RES["SiteHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        self.assertTrue(h["ContentSecurityPolicy"]["Override"])
        self.assertGreaterEqual(h["StrictTransportSecurity"]["AccessControlMaxAgeSec"], 31536000)
        self.assertIn("ContentTypeOptions", h)
        self.assertEqual(h["FrameOptions"]["FrameOption"], "DENY")
        self.assertIn(h["ReferrerPolicy"]["ReferrerPolicy"], ["strict-origin-when-cross-origin", "no-referrer", "same-origin", "strict-origin"])

    def test_outputs(self):
        self.assertEqual(set(TEMPLATE["Outputs"]), {"ApiUrl", "SiteUrl", "SiteBucketName", "DistributionId", "SecretArn",
                                                  "DashboardUrl", "WebhookUrl", "WebhookSecretArn", "UsersTableName"})


API_HOST = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
FAPI = "https://${ClerkFrontendApi}"


def directives(csp):
    """{directive: [sources]} of a CSP text."""
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def policy_csp():
    """The CSP the response headers policy is created with."""
    h = RES["SiteHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    return h["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]


def site_csp():
    """The CSP the site is served with: the one SiteCsp sets on the policy."""
    return RES["SiteCsp"]["Properties"]["ContentSecurityPolicy"]["Fn::Sub"]


class ContentSecurityPolicy(unittest.TestCase):
    def test_no_wildcard_hosts(self):
        for name, csp in [("policy", policy_csp()), ("site", site_csp())]:
            for directive, sources in directives(csp).items():
                for src in sources:
                    self.assertNotIn("*", src, f"{name} CSP {directive}: {src}")
                    self.assertNotIn("clerk.accounts.dev", src, f"{name} CSP {directive}: {src}")
                    self.assertNotIn("https:", [src], f"{name} CSP {directive}: any https host")
                    if "execute-api" in src:
                        self.assertEqual(src, API_HOST, f"{name} CSP {directive}: only this stack's API")

    def test_scripts_only_from_the_site_the_frontend_api_and_clerks_bot_protection(self):
        for csp in [policy_csp(), site_csp()]:
            d = directives(csp)
            self.assertEqual(d["script-src"], ["'self'", FAPI, "https://challenges.cloudflare.com"])
            self.assertEqual(d["default-src"], ["'self'"])

    def test_connections_to_the_frontend_api_and_this_stacks_api_only(self):
        self.assertEqual(directives(site_csp())["connect-src"], ["'self'", FAPI, API_HOST])
        # Before SiteCsp has run: no API at all (calls refused, never a wider policy).
        self.assertEqual(directives(policy_csp())["connect-src"], ["'self'", FAPI])

    def test_the_api_host_is_this_stacks_http_api(self):
        self.assertEqual(RES["HttpApi"]["Type"], "AWS::Serverless::HttpApi")
        self.assertEqual(TEMPLATE["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"], API_HOST, "the URL the site is built with")
        self.assertEqual(CFN["Resources"]["HttpApi"]["Type"], "AWS::ApiGatewayV2::Api", "after the transform, ${HttpApi} is the API id")

    def test_what_clerk_needs(self):
        # https://clerk.com/docs/guides/secure/best-practices/csp-headers
        d = directives(site_csp())
        self.assertIn("https://img.clerk.com", d["img-src"])
        self.assertEqual(d["worker-src"], ["'self'", "blob:"])
        self.assertIn("'unsafe-inline'", d["style-src"])
        self.assertEqual(d["frame-src"], ["https://challenges.cloudflare.com"])
        self.assertEqual(d["frame-ancestors"], ["'none'"])
        self.assertEqual(d["object-src"], ["'none'"])
        self.assertEqual(d["base-uri"], ["'self'"])
        self.assertEqual(d["form-action"], ["'self'"])

    def test_the_policy_and_the_site_csp_differ_only_by_the_api(self):
        self.assertEqual(directives(site_csp()).keys(), directives(policy_csp()).keys())
        self.assertEqual(site_csp().replace(f" {API_HOST}", ""), policy_csp())

    def test_set_on_this_policy_after_every_change_cloudformation_makes_to_it(self):
        p = RES["SiteCsp"]["Properties"]
        self.assertEqual(p["PolicyId"], {"Ref": "SiteHeadersPolicy"})
        self.assertEqual(p["PolicyLastModified"], {"Fn::GetAtt": ["SiteHeadersPolicy", "LastModifiedTime"]})
        self.assertEqual(p["ServiceToken"], {"Fn::GetAtt": ["SiteCspFunction", "Arn"]})
        cfg = RES["SiteDistribution"]["Properties"]["DistributionConfig"]
        self.assertEqual(cfg["DefaultCacheBehavior"]["ResponseHeadersPolicyId"], {"Ref": "SiteHeadersPolicy"})

    def test_the_function_that_sets_it_may_change_this_policy_only(self):
        role = CFN["Resources"]["SiteCspRole"]["Properties"]
        sts = [st for pol in role["Policies"] for st in statements(pol["PolicyDocument"])]
        cf = [st for st in sts if any(a.startswith("cloudfront:") for a in actions(st))]
        self.assertEqual(len(cf), 1)
        self.assertEqual(sorted(actions(cf[0])), ["cloudfront:GetResponseHeadersPolicyConfig", "cloudfront:UpdateResponseHeadersPolicy"])
        self.assertEqual(cf[0]["Resource"], {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:response-headers-policy/${SiteHeadersPolicy}"})
        for st in sts:
            for a in actions(st):
                self.assertTrue(a.startswith(("cloudfront:", "logs:")), a)

    def test_frontend_api_parameter_is_a_host_and_nothing_else(self):
        # It is pasted into the CSP: a wildcard, a second directive or a scheme must not get in.
        p = TEMPLATE["Parameters"]["ClerkFrontendApi"]
        self.assertNotIn("Default", p, "scripts/deploy.sh always passes the readiness check's frontendApi")
        pattern = re.compile(p["AllowedPattern"])
        for good in ["foo-bar-13.clerk.accounts.dev", "clerk.example.com", "clerk.boring.sawfly-91.lcl.dev"]:
            self.assertTrue(pattern.fullmatch(good), good)
        for bad in ["*.clerk.accounts.dev", "clerk.example.com; script-src *", "https://clerk.example.com",
                    "clerk.example.com *", "", "localhost", "clerk.example.com/x", "clerk.example.com:443 'unsafe-eval'"]:
            self.assertIsNone(pattern.fullmatch(bad), bad)

    def test_frontend_api_comes_from_the_readiness_check_in_deploy(self):
        deploy = (ROOT / "scripts/deploy.sh").read_text()
        self.assertRegex(deploy, r"clerk-token[^\n]* readiness")
        self.assertRegex(deploy, r"frontend=\$\(.*frontendApi")
        self.assertRegex(deploy, r'ClerkFrontendApi[= ]"?\$frontend')


def dependencies(resources):
    """{resource: {resources it references}}: Ref, Fn::GetAtt, ${...} in Fn::Sub, DependsOn."""
    names = set(resources)

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "Ref" and isinstance(v, str) and v in names:
                    yield v
                elif k == "Fn::GetAtt":
                    target = v[0] if isinstance(v, list) else v.split(".")[0]
                    if target in names:
                        yield target
                elif k == "Fn::Sub":
                    text = v if isinstance(v, str) else v[0]
                    for var in re.findall(r"\$\{([^}!]+)\}", text):
                        if var.split(".")[0] in names:
                            yield var.split(".")[0]
                    if isinstance(v, list):
                        yield from refs(v[1])
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for x in node:
                yield from refs(x)

    out = {}
    for name, res in resources.items():
        deps = set(refs(res.get("Properties", {})))
        d = res.get("DependsOn", [])
        deps |= set([d] if isinstance(d, str) else d)
        out[name] = deps - {name}
    return out


class NoCircularDependency(unittest.TestCase):
    def test_the_transformed_template_is_acyclic(self):
        deps = dependencies(CFN["Resources"])
        state = {}

        def visit(n, path):
            if state.get(n) == "done":
                return
            self.assertNotEqual(state.get(n), "visiting", "circular dependency: " + " -> ".join(path + [n]))
            state[n] = "visiting"
            for m in sorted(deps[n]):
                visit(m, path + [n])
            state[n] = "done"

        for n in sorted(deps):
            visit(n, [])

    def test_the_cycle_the_csp_avoids_is_real(self):
        # The reason for SiteCsp: the distribution needs the policy, the API needs the distribution.
        deps = dependencies(CFN["Resources"])
        self.assertIn("SiteHeadersPolicy", deps["SiteDistribution"])
        self.assertIn("SiteDistribution", deps["ProtectedFunction"])
        self.assertIn("ProtectedFunction", deps["HttpApi"])
        self.assertNotIn("HttpApi", deps["SiteHeadersPolicy"])
        self.assertIn("HttpApi", deps["SiteCsp"])
        self.assertFalse(any("SiteCsp" in d for n, d in deps.items() if n != "SiteCsp" and not n.startswith("SiteCsp")))


class SiteCspFunctionCode(unittest.TestCase):
    """The inline function, run here against botocore's Stubber (CloudFront's real request shapes)."""

    def run_handler(self, event, stub_calls):
        import boto3
        from botocore.stub import Stubber

        code = RES["SiteCspFunction"]["Properties"]["Code"]["ZipFile"]
        sent = []
        cfnresponse = types.ModuleType("cfnresponse")
        cfnresponse.SUCCESS, cfnresponse.FAILED = "SUCCESS", "FAILED"
        cfnresponse.send = lambda event, context, status, data, physical_id=None, noEcho=False, reason=None: sent.append(
            {"status": status, "physical_id": physical_id, "reason": reason})
        client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        stubber = Stubber(client)
        for method, response, params in stub_calls:
            if isinstance(response, str):  # an error code
                stubber.add_client_error(method, service_error_code=response, expected_params=params)
            else:
                stubber.add_response(method, response, params)
        self.slept = []
        with mock.patch.dict(sys.modules, {"cfnresponse": cfnresponse}), mock.patch("boto3.client", return_value=client), \
                mock.patch("time.sleep", side_effect=self.slept.append), stubber:
            module = types.ModuleType("index")
            exec(compile(code, "index.py", "exec"), module.__dict__)
            module.handler(event, None)
            stubber.assert_no_pending_responses()
        return sent

    CONFIG = {
        "Name": "stack-site-security",
        "SecurityHeadersConfig": {
            "ContentSecurityPolicy": {"Override": True, "ContentSecurityPolicy": "connect-src 'self' https://fapi"},
            "FrameOptions": {"Override": True, "FrameOption": "DENY"},
        },
    }

    def event(self, kind, **extra):
        return {"RequestType": kind, "ResourceProperties": {
            "PolicyId": "P1", "ContentSecurityPolicy": "connect-src 'self' https://fapi https://api1", "PolicyLastModified": "t"}, **extra}

    def test_create_and_update_set_the_csp_and_keep_the_rest(self):
        for kind, extra in [("Create", {}), ("Update", {"PhysicalResourceId": "P1-csp"})]:
            wanted = copy.deepcopy(self.CONFIG)
            wanted["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"] = "connect-src 'self' https://fapi https://api1"
            sent = self.run_handler(self.event(kind, **extra), [
                ("get_response_headers_policy_config", {"ResponseHeadersPolicyConfig": copy.deepcopy(self.CONFIG), "ETag": "E1"}, {"Id": "P1"}),
                ("update_response_headers_policy", {}, {"Id": "P1", "IfMatch": "E1", "ResponseHeadersPolicyConfig": wanted}),
            ])
            self.assertEqual(sent, [{"status": "SUCCESS", "physical_id": "P1-csp", "reason": None}], kind)

    def test_delete_changes_nothing(self):
        sent = self.run_handler(self.event("Delete", PhysicalResourceId="P1-csp"), [])
        self.assertEqual(sent[0]["status"], "SUCCESS")

    def get(self):
        return ("get_response_headers_policy_config", {"ResponseHeadersPolicyConfig": copy.deepcopy(self.CONFIG), "ETag": "E1"}, {"Id": "P1"})

    def test_a_failure_is_reported_not_left_hanging(self):
        sent = self.run_handler(self.event("Create"), [self.get(), ("update_response_headers_policy", "NoSuchResponseHeadersPolicy", None)])
        self.assertEqual(sent[0]["status"], "FAILED")
        self.assertIn("NoSuchResponseHeadersPolicy", sent[0]["reason"])
        self.assertEqual(self.slept, [])

    def test_a_stale_etag_or_a_new_role_is_retried(self):
        sent = self.run_handler(self.event("Create"), [
            ("get_response_headers_policy_config", "AccessDenied", None),
            self.get(), ("update_response_headers_policy", "PreconditionFailed", None),
            self.get(), ("update_response_headers_policy", {}, None),
        ])
        self.assertEqual(sent[0]["status"], "SUCCESS")
        self.assertEqual(self.slept, [1, 2])

    def test_gives_up_after_six_attempts(self):
        sent = self.run_handler(self.event("Update", PhysicalResourceId="P1-csp"),
                                [("get_response_headers_policy_config", "AccessDenied", None)] * 6)
        self.assertEqual(sent[0]["status"], "FAILED")
        self.assertEqual(self.slept, [1, 2, 4, 8, 16])


class Cors(unittest.TestCase):
    """CORS as deployed: the API's OpenAPI body after SAM's transform."""

    def cors(self):
        return CFN["Resources"]["HttpApi"]["Properties"]["Body"]["x-amazon-apigateway-cors"]

    def test_retry_after_is_exposed_to_the_site(self):
        self.assertIn("retry-after", [h.lower() for h in self.cors()["exposeHeaders"]])

    def test_the_rest_of_cors_is_kept(self):
        c = self.cors()
        self.assertIsInstance(c, dict, "a CORS object, not an intrinsic SAM took for one")
        self.assertEqual(c["allowHeaders"], ["authorization", "content-type"])
        self.assertEqual(c["allowMethods"], ["GET", "HEAD", "POST", "OPTIONS"])
        self.assertEqual(c["maxAge"], 600)
        self.assertNotIn("allowCredentials", c)
        self.assertEqual(c["allowOrigins"]["Fn::If"][2], [{"Fn::Sub": "https://${SiteDistribution.DomainName}"}])
        self.assertNotIn("*", json.dumps(c["allowOrigins"]))

    def test_every_route_is_in_the_same_body(self):
        paths = CFN["Resources"]["HttpApi"]["Properties"]["Body"]["paths"]
        self.assertEqual(set(paths), {"/api/health", "/api/public", "/api/{proxy+}", "/api/webhooks/clerk"})


if __name__ == "__main__":
    unittest.main()


METRICS_RS = (ROOT / "shared" / "src" / "metrics.rs").read_text()
ERROR_RS = (ROOT / "shared" / "src" / "error.rs").read_text()
TOPIC = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def alarms():
    return {n: r for n, r in RES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def alarm_on(namespace, metric, **dims):
    """The alarms on `metric` of `namespace` whose dimensions are exactly `dims`."""
    out = []
    for name, r in alarms().items():
        p = r["Properties"]
        got = {d["Name"]: d["Value"] for d in p.get("Dimensions", [])}
        if p.get("Namespace") == namespace and p.get("MetricName") == metric and got == dims:
            out.append(name)
    return out


def functions():
    return [n for n, r in RES.items() if r["Type"] == "AWS::Serverless::Function"]


def dashboard():
    sub = RES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    text = sub[0] if isinstance(sub, list) else sub
    # Every ${...} is a reference CloudFormation fills in; a JSON string in every place.
    refs = set(re.findall(r"\$\{([^}]+)\}", text))
    return json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: "REF_" + re.sub(r"\W", "_", m.group(1)), text)), refs


class Observability(unittest.TestCase):
    """Alarms (opt-in), the dashboard, the metrics namespace and X-Ray (docs/observability.md)."""

    def test_alarms_are_opt_in_and_off_by_default(self):
        params = TEMPLATE["Parameters"]
        self.assertEqual(params["AlarmEmail"]["Default"], "")
        self.assertEqual(params["AlarmTopicArn"]["Default"], "")
        self.assertTrue(alarms())
        for name, r in alarms().items():
            self.assertEqual(r.get("Condition"), "AlarmsOn", name)
        self.assertEqual(RES["AlarmTopic"]["Condition"], "CreateAlarmTopic")
        conds = TEMPLATE["Conditions"]
        self.assertEqual(conds["AlarmsOn"], {"Fn::Or": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}]})
        # A topic of its own only when no topic is given.
        self.assertIn({"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}, conds["CreateAlarmTopic"]["Fn::And"])

    def test_the_parameters_accept_an_email_or_a_topic_and_nothing_else(self):
        email = re.compile(TEMPLATE["Parameters"]["AlarmEmail"]["AllowedPattern"])
        for ok in ["", "ops@example.com", "a.b+alerts@sub.example.co"]:
            self.assertTrue(email.fullmatch(ok), ok)
        for bad in ["ops", "ops@", "a b@example.com", "x@y"]:
            self.assertFalse(email.fullmatch(bad), bad)
        topic = re.compile(TEMPLATE["Parameters"]["AlarmTopicArn"]["AllowedPattern"])
        self.assertTrue(topic.fullmatch("arn:aws:sns:eu-west-1:123456789012:ops-alerts"))
        self.assertTrue(topic.fullmatch(""))
        self.assertFalse(topic.fullmatch("arn:aws:sqs:eu-west-1:123456789012:q"))

    def test_the_email_topic_subscribes_the_address_and_cloudwatch_can_publish_to_it(self):
        p = RES["AlarmTopic"]["Properties"]
        self.assertEqual(p["Subscription"], [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}])
        # CloudWatch cannot use the AWS managed SNS key: alarms to a topic encrypted with it never arrive.
        self.assertNotEqual(p.get("KmsMasterKeyId"), "alias/aws/sns")
        pol = RES["AlarmTopicPolicy"]
        self.assertEqual(pol["Condition"], "CreateAlarmTopic")
        self.assertEqual(pol["Properties"]["Topics"], [{"Ref": "AlarmTopic"}])
        [st] = statements(pol["Properties"]["PolicyDocument"])
        self.assertEqual((st["Effect"], st["Principal"], actions(st), st["Resource"]),
                         ("Allow", {"Service": "cloudwatch.amazonaws.com"}, ["sns:Publish"], {"Ref": "AlarmTopic"}))
        self.assertEqual(st["Condition"], {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})

    def test_every_alarm_notifies_the_topic_and_ignores_missing_data(self):
        for name, r in alarms().items():
            p = r["Properties"]
            self.assertEqual(p["AlarmActions"], [TOPIC], name)
            self.assertEqual(p["TreatMissingData"], "notBreaching", name)
            self.assertEqual(p["ComparisonOperator"], "GreaterThanOrEqualToThreshold", name)
            self.assertIn("docs/observability.md" if name == "ApiServerErrorsAlarm" else "${AWS::StackName}",
                          p["AlarmDescription"]["Fn::Sub"], name)

    def test_api_5xx_alarm(self):
        [name] = alarm_on("AWS/ApiGateway", "5xx", ApiId={"Ref": "HttpApi"})
        self.assertEqual(RES[name]["Properties"]["Statistic"], "Sum")

    def test_lambda_errors_and_throttles_of_every_function(self):
        for fn in functions():
            for metric in ["Errors", "Throttles"]:
                self.assertEqual(len(alarm_on("AWS/Lambda", metric, FunctionName={"Ref": fn})), 1, f"{fn} {metric}")

    def test_outage_503s_alarm_on_the_functions_own_metric(self):
        [name] = alarm_on({"Ref": "AWS::StackName"}, "Outages", Function={"Ref": "ProtectedFunction"})
        self.assertGreaterEqual(RES[name]["Properties"]["EvaluationPeriods"], 2, "one blip does not page")

    def test_a_spike_of_invalid_signatures_alarms(self):
        [name] = alarm_on({"Ref": "AWS::StackName"}, "AuthFailures",
                          Function={"Ref": "ProtectedFunction"}, Reason="token-invalid-signature")
        p = RES[name]["Properties"]
        self.assertEqual(p["Threshold"], {"Ref": "InvalidSignatureAlarmThreshold"})
        self.assertEqual(p["Period"], 300)
        # The reason is a code the functions answer with (shared/src/error.rs).
        self.assertIn('"token-invalid-signature"', ERROR_RS)

    def test_the_metric_names_are_the_ones_the_functions_write(self):
        names = {r["Properties"]["MetricName"] for r in alarms().values()
                 if r["Properties"]["Namespace"] == {"Ref": "AWS::StackName"}}
        body, _ = dashboard()
        text = json.dumps(body)
        names |= set(re.findall(r'MetricName=\\"(\w+)\\"', text))
        for w in body["widgets"]:
            ns = None
            for m in w["properties"]["metrics"]:
                # "." repeats the previous row's value; "..." the whole previous row.
                if isinstance(m[0], str) and m[0] not in (".", "..."):
                    ns = m[0]
                if ns == "REF_Namespace" and len(m) > 1 and isinstance(m[1], str) and m[1] != ".":
                    names.add(m[1])
        self.assertGreaterEqual(names, {"Outages", "AuthFailures", "Requests", "ClerkApiLatency",
                                        "KeySetFetches", "SecretFetches", "SignatureCacheHits", "ColdStart"})
        for n in names:
            self.assertIn(f'"{n}"', METRICS_RS, f"{n}: written by shared::metrics")
        for dim in ["Function", "Reason", "Route", "StatusClass"]:
            self.assertIn(f'"{dim}"', METRICS_RS)

    def test_the_namespace_is_the_stacks_and_every_function_gets_it(self):
        env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
        self.assertEqual(env["METRICS_NAMESPACE"], {"Ref": "AWS::StackName"})
        for name, r in CFN["Resources"].items():
            if r["Type"] == "AWS::Lambda::Function" and name in functions():
                self.assertEqual(r["Properties"]["Environment"]["Variables"]["METRICS_NAMESPACE"],
                                 {"Ref": "AWS::StackName"}, name)

    def test_the_dashboard_is_valid_json_on_this_stacks_resources(self):
        body, refs = dashboard()
        self.assertGreaterEqual(len(body["widgets"]), 6)
        self.assertEqual(refs, {"AWS::Region", "HttpApi", "ProtectedFunction", "PublicFunction", "WebhooksFunction",
                                "Namespace"})
        self.assertEqual(RES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][1],
                         {"Namespace": {"Ref": "AWS::StackName"}})
        self.assertNotIn("Condition", RES["Dashboard"], "the dashboard is always there")
        for w in body["widgets"]:
            self.assertEqual(w["type"], "metric")
            self.assertTrue(w["properties"]["metrics"], w["properties"]["title"])

    def test_tracing_is_opt_in_and_active_when_on(self):
        self.assertEqual(TEMPLATE["Parameters"]["XRayTracing"]["Default"], "off")
        self.assertEqual(TEMPLATE["Globals"]["Function"]["Tracing"],
                         {"Fn::If": ["TracingOn", "Active", "PassThrough"]})
        self.assertEqual(TEMPLATE["Conditions"]["TracingOn"], {"Fn::Equals": [{"Ref": "XRayTracing"}, "on"]})
        for fn in ["PublicFunction", "ProtectedFunction"]:
            self.assertEqual(CFN["Resources"][fn]["Properties"]["TracingConfig"],
                             {"Mode": {"Fn::If": ["TracingOn", "Active", "PassThrough"]}})
            # SAM grants X-Ray's write-only policy (segments in, nothing read back).
            arns = CFN["Resources"][f"{fn}Role"]["Properties"]["ManagedPolicyArns"]
            xray = [a for a in arns if "Xray" in json.dumps(a)]
            self.assertEqual(len(xray), 1, arns)
            self.assertIn("AWSXrayWriteOnlyAccess", json.dumps(xray[0]))


class Webhooks(unittest.TestCase):
    """Issue 16: the webhooks function, its signing secret and the users table (docs/webhooks.md)."""

    def role_statements(self, role):
        for pol in CFN["Resources"][role]["Properties"].get("Policies", []):
            yield from statements(pol["PolicyDocument"])

    def table_actions(self):
        """{role: set of dynamodb actions} over every role of the transformed template."""
        out = {}
        for name, res in CFN["Resources"].items():
            if res["Type"] == "AWS::IAM::Role":
                for st in self.role_statements(name):
                    for a in actions(st):
                        if a.lower().startswith("dynamodb:"):
                            self.assertEqual(st["Resource"], {"Fn::GetAtt": ["UsersTable", "Arn"]}, name)
                            out.setdefault(name, set()).add(a)
        return out

    def test_only_the_webhooks_function_reads_the_signing_secret(self):
        readers = [(role, st) for role, st in SecretAccess.iam_statements(self)
                   if st.get("Resource") == {"Ref": "WebhookSigningSecret"}]
        self.assertEqual([r for r, _ in readers], ["WebhooksFunctionRole"])
        self.assertEqual(actions(readers[0][1]), ["secretsmanager:GetSecretValue"])
        env = RES["WebhooksFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(env["CLERK_WEBHOOK_SECRET_ID"], {"Ref": "WebhookSigningSecret"})
        self.assertNotIn("CLERK_SECRET_ID", env, "no Clerk secret key for the webhooks function")

    def test_only_the_webhooks_function_writes_the_table_and_the_protected_function_reads_it(self):
        self.assertEqual(self.table_actions(), {
            "WebhooksFunctionRole": {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"},
            "ProtectedFunctionRole": {"dynamodb:GetItem"},
        })
        for fn in ["WebhooksFunction", "ProtectedFunction"]:
            self.assertEqual(RES[fn]["Properties"]["Environment"]["Variables"]["USERS_TABLE"], {"Ref": "UsersTable"})

    def test_the_table_is_on_demand_recoverable_encrypted_and_expires_delivery_ids(self):
        r = RES["UsersTable"]
        p = r["Properties"]
        self.assertEqual(p["BillingMode"], "PAY_PER_REQUEST")
        self.assertTrue(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
        self.assertEqual(p["TimeToLiveSpecification"], {"AttributeName": "expires_at", "Enabled": True})
        self.assertTrue(p["SSESpecification"]["SSEEnabled"])
        self.assertEqual(p["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertEqual(r["DeletionPolicy"], "Retain")
        # The names the code uses (shared/src/users_table.rs).
        code = (ROOT / "shared/src/users_table.rs").read_text()
        self.assertIn('EXPIRES_AT: &str = "expires_at"', code)
        self.assertIn('PK: &str = "pk"', code)

    def test_the_signing_secret_is_never_a_parameter_and_a_redeploy_keeps_it(self):
        self.assertFalse([p for p in TEMPLATE["Parameters"] if "webhook" in p.lower()])
        # A constant placeholder: CloudFormation never rewrites what put_secret.py stored.
        self.assertEqual(json.loads(RES["WebhookSigningSecret"]["Properties"]["SecretString"]),
                         {"CLERK_WEBHOOK_SIGNING_SECRET": ""})

    def test_the_function_is_built_logged_and_answers_within_svix_s_15_seconds(self):
        r = RES["WebhooksFunction"]
        self.assertEqual(r["Metadata"]["BuildProperties"]["Binary"], "webhooks")
        self.assertLessEqual(r["Properties"]["Timeout"], 15)
        group = r["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        self.assertIn("RetentionInDays", RES[group]["Properties"])

    def test_the_webhook_route_is_in_the_local_router_above_the_catch_all(self):
        cargo = (ROOT / "Cargo.toml").read_text()
        router = cargo[cargo.index("[workspace.metadata.lambda.watch.router]"):]
        self.assertIn('"/api/webhooks/clerk" = "webhooks"', router)
        self.assertLess(router.index('"/api/webhooks/clerk"'), router.index('"/api/{*rest}"'))

    def test_webhook_failures_and_rejections_alarm(self):
        route = "/api/webhooks/clerk"
        # The route the webhooks function answers, as its metrics name it.
        self.assertIn(f'"{route}"', (ROOT / "functions" / "webhooks" / "src" / "app.rs").read_text())
        self.assertEqual(RES["WebhooksFunction"]["Properties"]["Events"]["ClerkWebhook"]["Properties"]["Path"], route)
        for status_class in ["5xx", "4xx"]:
            found = alarm_on({"Ref": "AWS::StackName"}, "Requests", Function={"Ref": "WebhooksFunction"},
                             Route=route, StatusClass=status_class)
            self.assertEqual(len(found), 1, status_class)
        # The status classes are the ones shared::metrics writes.
        self.assertIn('"5xx"', METRICS_RS)
        self.assertIn('"4xx"', METRICS_RS)
