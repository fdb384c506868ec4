"""Security properties of template.yaml, asserted on the template and on SAM's transform of it.

Run: .venv/bin/python -m unittest discover -s tests/template -v   (make test runs it)
"""

import copy
import json
import os
import unittest
from pathlib import Path

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
            role
            for role, st in self.iam_statements()
            if any(a.lower().startswith("secretsmanager:") for a in actions(st))
        }
        self.assertEqual(readers, {"ProtectedFunctionRole"})

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
        for var in ["CLERK_PUBLISHABLE_KEY", "CLERK_AUTHORIZED_PARTIES", "CLERK_SECRET_ID", "CLERK_JWT_KEY"]:
            self.assertIn(var, env)

    def test_routes_match_the_functions(self):
        routes = {}
        for name in ["PublicFunction", "ProtectedFunction"]:
            for ev in RES[name]["Properties"]["Events"].values():
                self.assertEqual(ev["Type"], "HttpApi")
                routes[ev["Properties"]["Path"]] = name
        self.assertEqual(routes, {
            "/api/health": "PublicFunction",
            "/api/public": "PublicFunction",
            "/api/{proxy+}": "PublicFunction",
            "/api/protected": "ProtectedFunction",
            "/api/me": "ProtectedFunction",
        })

    def test_api_has_default_stage_cors_and_throttling(self):
        p = RES["HttpApi"]["Properties"]
        self.assertEqual(p["StageName"], "$default")
        self.assertIn("authorization", p["CorsConfiguration"]["AllowHeaders"])
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

    def test_security_headers_and_a_csp_that_lets_clerk_work(self):
        h = RES["SiteHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        csp = h["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
        for needle in ["https://${ClerkFrontendApi}", "https://*.clerk.accounts.dev", "https://img.clerk.com",
                       "https://challenges.cloudflare.com", "worker-src 'self' blob:", "frame-ancestors 'none'",
                       "object-src 'none'"]:
            self.assertIn(needle, csp)
        self.assertGreaterEqual(h["StrictTransportSecurity"]["AccessControlMaxAgeSec"], 31536000)
        self.assertIn("ContentTypeOptions", h)
        self.assertEqual(h["FrameOptions"]["FrameOption"], "DENY")
        self.assertIn(h["ReferrerPolicy"]["ReferrerPolicy"], ["strict-origin-when-cross-origin", "no-referrer", "same-origin", "strict-origin"])

    def test_outputs(self):
        self.assertEqual(set(TEMPLATE["Outputs"]), {"ApiUrl", "SiteUrl", "SiteBucketName", "DistributionId", "SecretArn"})


if __name__ == "__main__":
    unittest.main()
