//! Routes declared once: one table per function, each entry a path, its methods, what it requires
//! and its handler (docs/contract.md, section 7). [`Routes::dispatch`] authenticates, runs the
//! guards, then the handler; a requirement that fails never reaches the handler.
//!
//! Secure by default: a path no entry lists, and a method no entry of its path lists, is answered
//! (404, 405) only to a signed-in session when the table can authenticate, so that neither tells a
//! stranger which routes exist; the gateway sends every `/api/` path not listed as public here.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use tracing::Instrument as _;

use crate::auth::Authenticator;
use crate::authorization::{Check, Reverification};
use crate::error::{AuthError, Reason};
use crate::http::{ApiError, bearer_token, path, respond_route};
use crate::machine::classify::has_machine_prefix;
use crate::machine::{MachineAuth, Principal, TokenType, classify};
use crate::session::Session;

/// What a handler returns: its response, or the error the one mapping turns into one.
pub type Reply = Result<Response<Body>, ApiError>;
/// A handler's future (boxed: the table holds plain function pointers).
pub type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// The handler of a route open to anyone.
pub type PublicHandler<S> = for<'a> fn(&'a S, Ctx<'a>) -> ReplyFuture<'a>;
/// The handler of a route that needs a session: it gets the session its guards accepted.
pub type SessionHandler<S> = for<'a> fn(&'a S, Ctx<'a>, Session) -> ReplyFuture<'a>;
/// The handler of a route that accepts machine tokens ([`Require::accepts`]): it gets the caller,
/// whichever kind of token it sent.
pub type PrincipalHandler<S> = for<'a> fn(&'a S, Ctx<'a>, Principal) -> ReplyFuture<'a>;

/// What a handler gets besides its state: the request and the route's path parameters.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub req: &'a Request,
    /// The route's pattern (`/api/orgs/{org_id}/admin`), for logs and metrics.
    pub pattern: &'a str,
    params: matchit::Params<'a, 'a>,
}

impl<'a> Ctx<'a> {
    /// A path parameter as it appears in the path (not percent-decoded).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.get(name)
    }
}

/// What a route requires before its handler runs. Every condition given must hold
/// ([`Session::has`]'s semantics); the builder starts from [`Require::session`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Require {
    role: Option<&'static str>,
    permission: Option<&'static str>,
    feature: Option<&'static str>,
    plan: Option<&'static str>,
    reverification: Option<Reverification>,
    /// The path parameter that must name the session's active organization.
    org_param: Option<&'static str>,
    /// The token types the route accepts (default: session tokens only).
    accepts: &'static [TokenType],
    /// Scopes every machine token must carry (API keys, OAuth and M2M tokens).
    scopes: &'static [&'static str],
}

impl Require {
    /// A signed-in session, nothing more.
    pub const fn session() -> Self {
        Self {
            role: None,
            permission: None,
            feature: None,
            plan: None,
            reverification: None,
            org_param: None,
            accepts: &[TokenType::SessionToken],
            scopes: &[],
        }
    }

    /// The token types the route accepts (`&TokenType::ALL`, `&[TokenType::ApiKey]`, ...): any
    /// other is 401 `token-type-mismatch` before any network call. Machine types need a
    /// [`Route::principal`] handler.
    pub const fn accepts(mut self, types: &'static [TokenType]) -> Self {
        self.accepts = types;
        self
    }

    /// Scopes a machine token must carry, every one (403 `insufficient-scope`). Sessions are
    /// authorized by the session conditions instead; scopes do not apply to them.
    pub const fn scopes(mut self, scopes: &'static [&'static str]) -> Self {
        self.scopes = scopes;
        self
    }

    /// Whether any session condition (organization, role, permission, feature, plan,
    /// reverification) is asked: no machine token can meet one.
    fn asks_session_conditions(&self) -> bool {
        self.role.is_some()
            || self.permission.is_some()
            || self.feature.is_some()
            || self.plan.is_some()
            || self.reverification.is_some()
            || self.org_param.is_some()
    }

    /// The guards for any caller: a session's conditions for a user; for a machine token its
    /// scopes, and no session condition (fail closed: a machine has no role, plan or factors).
    pub fn check_principal(&self, principal: &Principal, ctx: &Ctx<'_>) -> Result<(), ApiError> {
        if let Some(session) = principal.session() {
            return self.check(session, ctx);
        }
        if self.asks_session_conditions() {
            return Err(forbidden(format!(
                "a session condition, which a {} cannot meet",
                principal.token_type()
            )));
        }
        if !principal.has_scopes(self.scopes) {
            return Err(ApiError::new(Reason::InsufficientScope)
                .with_detail(format!("requires scopes {}", self.scopes.join(" "))));
        }
        Ok(())
    }

    /// An organization role in the active organization (`org:admin` or `admin`).
    pub const fn role(mut self, role: &'static str) -> Self {
        self.role = Some(role);
        self
    }

    /// An organization permission in the active organization (`org:reports:read`).
    pub const fn permission(mut self, permission: &'static str) -> Self {
        self.permission = Some(permission);
        self
    }

    /// A billing feature (`reports`, `u:reports`, `o:reports`).
    pub const fn feature(mut self, feature: &'static str) -> Self {
        self.feature = Some(feature);
        self
    }

    /// A billing plan (`pro`, `u:pro`, `o:team`).
    pub const fn plan(mut self, plan: &'static str) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Factors verified recently enough; otherwise Clerk's reverification answer.
    pub const fn reverification(mut self, r: Reverification) -> Self {
        self.reverification = Some(r);
        self
    }

    /// The path parameter `param` must be the session's active organization id: the session is a
    /// member of the organization the path names, and its role and permissions are that
    /// organization's.
    pub const fn org_in_path(mut self, param: &'static str) -> Self {
        self.org_param = Some(param);
        self
    }

    /// Runs the guards: the first requirement that fails, as an error naming it for the log.
    /// Membership first, then role, permission, feature, plan, and reverification last (verifying
    /// again does not help a user who lacks the role).
    pub fn check(&self, session: &Session, ctx: &Ctx<'_>) -> Result<(), ApiError> {
        if let Some(param) = self.org_param {
            let member = match (ctx.param(param), session.org_id.as_deref()) {
                (Some(wanted), Some(active)) => !wanted.is_empty() && wanted == active,
                _ => false,
            };
            if !member {
                return Err(forbidden(format!(
                    "active organization named by path parameter {param}"
                )));
            }
        }
        let none = Check::default();
        let conditions = [
            (
                "role",
                self.role.map(|v| Check {
                    role: Some(v),
                    ..none
                }),
            ),
            (
                "permission",
                self.permission.map(|v| Check {
                    permission: Some(v),
                    ..none
                }),
            ),
            (
                "feature",
                self.feature.map(|v| Check {
                    feature: Some(v),
                    ..none
                }),
            ),
            (
                "plan",
                self.plan.map(|v| Check {
                    plan: Some(v),
                    ..none
                }),
            ),
        ];
        for (what, check) in conditions {
            if let Some(check) = check
                && !session.has(&check)
            {
                let value = check
                    .role
                    .or(check.permission)
                    .or(check.feature)
                    .or(check.plan);
                return Err(forbidden(format!("{what} {}", value.unwrap_or_default())));
            }
        }
        if let Some(r) = self.reverification
            && !session.has(&Check {
                reverification: Some(r),
                ..Check::default()
            })
        {
            return Err(ApiError::reverification_required(r)
                .with_detail(format!("reverification {}", r.to_json())));
        }
        Ok(())
    }
}

fn forbidden(failed: String) -> ApiError {
    ApiError::new(Reason::Forbidden).with_detail(format!("requires {failed}"))
}

/// Who may call a route, and the handler that answers it.
pub enum Access<S: 'static> {
    Public(PublicHandler<S>),
    Session(Require, SessionHandler<S>),
    /// Sessions and/or machine tokens, as [`Require::accepts`] lists.
    Principal(Require, PrincipalHandler<S>),
}

impl<S> fmt::Debug for Access<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Public(_) => f.write_str("Public"),
            Access::Session(r, _) => f.debug_tuple("Session").field(r).finish(),
            Access::Principal(r, _) => f.debug_tuple("Principal").field(r).finish(),
        }
    }
}

/// One entry of a route table.
#[derive(Debug)]
pub struct Route<S: 'static> {
    /// matchit's syntax: `/api/orgs/{org_id}/admin`.
    pub path: &'static str,
    /// GET also answers HEAD.
    pub methods: &'static [Method],
    pub access: Access<S>,
}

impl<S> Route<S> {
    /// A route anyone may call.
    pub fn public(path: &'static str, methods: &'static [Method], h: PublicHandler<S>) -> Self {
        Self {
            path,
            methods,
            access: Access::Public(h),
        }
    }

    /// A route for a session meeting `require`.
    pub fn session(
        path: &'static str,
        methods: &'static [Method],
        require: Require,
        h: SessionHandler<S>,
    ) -> Self {
        Self {
            path,
            methods,
            access: Access::Session(require, h),
        }
    }

    /// A route for the token types `require` accepts ([`Require::accepts`]); the handler gets
    /// the [`Principal`].
    pub fn principal(
        path: &'static str,
        methods: &'static [Method],
        require: Require,
        h: PrincipalHandler<S>,
    ) -> Self {
        Self {
            path,
            methods,
            access: Access::Principal(require, h),
        }
    }

    fn answers(&self, method: &Method) -> bool {
        self.methods.contains(method)
            || (method == Method::HEAD && self.methods.contains(&Method::GET))
    }
}

/// A table that cannot be built: a pattern matchit refuses, two entries for one path and method.
#[derive(Debug, thiserror::Error)]
#[error("route table: {0}")]
pub struct TableError(String);

/// The routes sharing one path, and the `Allow` header they answer 405 with.
#[derive(Debug)]
struct PathEntry {
    routes: Vec<usize>,
    allow: String,
}

/// A function's route table, ready to dispatch.
pub struct Routes<S: 'static> {
    router: matchit::Router<PathEntry>,
    routes: Vec<Route<S>>,
    /// Verifies machine tokens for [`Route::principal`] routes ([`Routes::with_machine`]).
    machine: Option<MachineAuth>,
}

impl<S> fmt::Debug for Routes<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| (r.path, r.methods, &r.access)))
            .finish()
    }
}

impl<S: Sync> Routes<S> {
    pub fn new(routes: Vec<Route<S>>) -> Result<Self, TableError> {
        let mut by_path: Vec<(&'static str, Vec<usize>)> = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            if r.methods.is_empty() {
                return Err(TableError(format!("{} lists no method", r.path)));
            }
            if let Access::Session(req, _) = &r.access
                && (req.accepts != [TokenType::SessionToken] || !req.scopes.is_empty())
            {
                return Err(TableError(format!(
                    "{}: machine tokens and scopes need a Route::principal handler",
                    r.path
                )));
            }
            if let Access::Principal(req, _) = &r.access
                && !req.scopes.is_empty()
                && req.accepts.contains(&TokenType::SessionToken)
                && !req.asks_session_conditions()
            {
                // Scopes bind machine tokens only: a session would pass with no condition at all.
                return Err(TableError(format!(
                    "{}: scopes with sessions accepted need a session condition too",
                    r.path
                )));
            }
            // GET answers HEAD too: a clash either way round.
            let answered = r
                .methods
                .iter()
                .chain(r.methods.contains(&Method::GET).then_some(&Method::HEAD));
            match by_path.iter_mut().find(|(p, _)| *p == r.path) {
                Some((_, list)) => {
                    if let Some(m) = answered
                        .into_iter()
                        .find(|m| list.iter().any(|&j| routes[j].answers(m)))
                    {
                        return Err(TableError(format!("{} {m} is declared twice", r.path)));
                    }
                    list.push(i);
                }
                None => by_path.push((r.path, vec![i])),
            }
        }
        let mut router = matchit::Router::new();
        for (path, list) in by_path {
            let mut methods: Vec<&str> = Vec::new();
            for &i in &list {
                for m in routes[i].methods {
                    for name in [m.as_str(), "HEAD"]
                        .into_iter()
                        .take(1 + usize::from(m == Method::GET))
                    {
                        if !methods.contains(&name) {
                            methods.push(name);
                        }
                    }
                }
            }
            let entry = PathEntry {
                routes: list,
                allow: methods.join(", "),
            };
            router
                .insert(path, entry)
                .map_err(|e| TableError(format!("{path}: {e}")))?;
        }
        Ok(Self {
            router,
            routes,
            machine: None,
        })
    }

    /// Machine tokens for the [`Route::principal`] routes. Without it those routes take session
    /// tokens only, and a machine token is 401 `token-type-mismatch`.
    pub fn with_machine(mut self, machine: MachineAuth) -> Self {
        self.machine = Some(machine);
        self
    }

    /// The routes, in table order (tests, the documentation of a function's API).
    pub fn routes(&self) -> &[Route<S>] {
        &self.routes
    }

    /// Answers `req`: authentication (with `auth`, for any route that is not public), the route's
    /// guards, its handler; then the one error mapping and the request's log line. Without `auth`
    /// (a function holding no keys) only public routes exist and everything else is 404/405.
    pub async fn dispatch(
        &self,
        state: &S,
        auth: Option<&Authenticator>,
        req: &Request,
    ) -> Response<Body> {
        // The request's log line names the signed-in user through this span (`span.user_id`); at
        // error level, so that it is on whenever any line of the request is.
        let span = tracing::error_span!(
            "request",
            user_id = tracing::field::Empty,
            token_type = tracing::field::Empty
        );
        async {
            let raw = path(req);
            let (pattern, result) = self.answer(state, auth, req, raw).await;
            respond_route(req, pattern, raw, result)
        }
        .instrument(span)
        .await
    }

    async fn answer<'a>(
        &'a self,
        state: &'a S,
        auth: Option<&Authenticator>,
        req: &'a Request,
        raw: &'a str,
    ) -> (Option<&'a str>, Reply) {
        let Ok(found) = self.router.at(raw) else {
            return (
                None,
                self.unlisted(auth, req, ApiError::new(Reason::RouteNotFound))
                    .await,
            );
        };
        let entry = found.value;
        let pattern = self.routes[entry.routes[0]].path;
        let route = entry
            .routes
            .iter()
            .map(|&i| &self.routes[i])
            .find(|r| r.answers(req.method()));
        let Some(route) = route else {
            let e = ApiError::method_not_allowed(Cow::Owned(entry.allow.clone()));
            return (Some(pattern), self.unlisted(auth, req, e).await);
        };
        let ctx = Ctx {
            req,
            pattern,
            params: found.params,
        };
        let reply = match &route.access {
            Access::Public(h) => h(state, ctx).await,
            Access::Session(require, h) => match auth {
                None => Err(ApiError::internal(format!(
                    "{pattern} needs a session but this function cannot authenticate"
                ))),
                Some(auth) => match signed_in(auth, req).await {
                    Ok(session) => match require.check(&session, &ctx) {
                        Ok(()) => h(state, ctx, session).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                },
            },
            Access::Principal(require, h) => match auth {
                None => Err(ApiError::internal(format!(
                    "{pattern} needs authentication but this function cannot authenticate"
                ))),
                Some(auth) => match self.caller(auth, require.accepts, req).await {
                    Ok(principal) => match require.check_principal(&principal, &ctx) {
                        Ok(()) => h(state, ctx, principal).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                },
            },
        };
        (Some(pattern), reply)
    }

    /// 404 or 405, told only to a session when this function can authenticate.
    async fn unlisted(&self, auth: Option<&Authenticator>, req: &Request, e: ApiError) -> Reply {
        if let Some(auth) = auth {
            signed_in(auth, req).await?;
        }
        Err(e)
    }
}

impl<S> Routes<S> {
    /// The request's verified caller among the `accepts` types; its type and subject (never the
    /// token) recorded on the request span.
    async fn caller(
        &self,
        auth: &Authenticator,
        accepts: &[TokenType],
        req: &Request,
    ) -> Result<Principal, ApiError> {
        let Some(machine) = &self.machine else {
            if !accepts.contains(&TokenType::SessionToken) {
                return Err(ApiError::internal(
                    "a route accepts only machine tokens but the table has no machine auth",
                ));
            }
            return signed_in(auth, req)
                .await
                .map(|s| Principal::User(Box::new(s)));
        };
        let token = bearer_token(req.headers())?;
        let principal = machine.authenticate(auth, token, accepts).await?;
        let span = tracing::Span::current();
        span.record("user_id", principal.subject());
        span.record("token_type", principal.token_type().as_str());
        Ok(principal)
    }
}

/// The request's verified session, its user id recorded on the request span. Any other type of
/// token is 401 `token-type-mismatch`: an opaque machine token by its prefix, before anything
/// else; a machine JWT once the session checks refuse it (its `typ` or `cat` already fails them
/// before any key is loaded), so that a valid session pays no classification.
async fn signed_in(auth: &Authenticator, req: &Request) -> Result<Session, ApiError> {
    let token = bearer_token(req.headers())?;
    let mismatch = |kind: TokenType| {
        ApiError::new(Reason::TokenTypeMismatch)
            .with_detail(format!("a {kind} where only sessions are accepted"))
    };
    if has_machine_prefix(token) {
        return Err(mismatch(classify(token).kind));
    }
    let session = match auth.authenticate(token).await {
        Ok(session) => session,
        Err(e @ AuthError::Unauthorized { .. }) => {
            let class = classify(token);
            if class.kind != TokenType::SessionToken || class.foreign_category {
                return Err(mismatch(class.kind));
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    tracing::Span::current().record("user_id", session.user_id.as_str());
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<'a>(_: &'a (), _: Ctx<'a>) -> ReplyFuture<'a> {
        Box::pin(async { Err(ApiError::new(Reason::Internal)) })
    }

    #[test]
    fn a_table_refuses_what_it_could_not_answer_unambiguously() {
        const GET: &[Method] = &[Method::GET];
        let table = |routes: Vec<Route<()>>| Routes::new(routes).map(|_| ()).map_err(|e| e.0);
        assert!(
            table(vec![
                Route::public("/a", GET, ok),
                Route::public("/a", &[Method::POST], ok)
            ])
            .is_ok()
        );
        let twice = table(vec![
            Route::public("/a", GET, ok),
            Route::public("/a", GET, ok),
        ]);
        assert_eq!(twice, Err("/a GET is declared twice".into()));
        // GET answers HEAD: a HEAD entry beside it would never run, or would run instead.
        assert!(
            table(vec![
                Route::public("/a", &[Method::HEAD], ok),
                Route::public("/a", GET, ok)
            ])
            .is_err()
        );
        assert!(
            table(vec![
                Route::public("/a", GET, ok),
                Route::public("/a", &[Method::HEAD], ok)
            ])
            .is_err()
        );
        assert!(table(vec![Route::public("/a", &[], ok)]).is_err());
        assert!(
            table(vec![
                Route::public("/a/{x}", GET, ok),
                Route::public("/a/{y}", GET, ok)
            ])
            .is_err()
        );
        assert!(table(vec![Route::public("/a/{", GET, ok)]).is_err());
    }

    #[test]
    fn allow_lists_every_method_of_the_path_once() {
        let routes = Routes::new(vec![
            Route::public("/a", &[Method::GET], ok),
            Route::public("/a", &[Method::POST, Method::DELETE], ok),
        ])
        .unwrap();
        assert_eq!(
            routes.router.at("/a").unwrap().value.allow,
            "GET, HEAD, POST, DELETE"
        );
        let routes =
            Routes::new(vec![Route::public("/c", &[Method::HEAD, Method::GET], ok)]).unwrap();
        assert_eq!(routes.router.at("/c").unwrap().value.allow, "HEAD, GET");
    }

    fn any<'a>(_: &'a (), _: Ctx<'a>, _: Principal) -> ReplyFuture<'a> {
        Box::pin(async { Err(ApiError::new(Reason::Internal)) })
    }

    #[test]
    fn scopes_never_leave_a_session_unchecked() {
        const GET: &[Method] = &[Method::GET];
        let all = Require::session().accepts(&TokenType::ALL);
        let table = |r: Require| Routes::new(vec![Route::principal("/m", GET, r, any)]).map(|_| ());
        assert!(table(all).is_ok());
        assert!(table(all.scopes(&["write:reports"])).is_err());
        assert!(
            table(
                all.scopes(&["write:reports"])
                    .permission("org:reports:write")
            )
            .is_ok()
        );
        assert!(
            table(
                Require::session()
                    .accepts(&TokenType::MACHINE)
                    .scopes(&["x"])
            )
            .is_ok()
        );
    }
}
