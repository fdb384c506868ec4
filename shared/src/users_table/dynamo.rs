//! The users table in DynamoDB, through the AWS SDK on the process's HTTP stack
//! ([`crate::https`]). Feature `users-table`.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Applied, Change, Lookup, TableError, UserReader, UserStore, attr, event_key};

/// The table, by name, through one SDK client.
#[derive(Debug, Clone)]
pub struct DynamoUsers {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// Attempts, each bounded: three calls of one webhook stay well inside Svix's 15 s, and `/api/me`
/// falls back to Clerk quickly.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

impl DynamoUsers {
    /// With a client of your own: give its config [`crate::https::sdk_http_client`].
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the standard AWS environment variables, as Lambda provides them
    /// (`AWS_REGION`, credentials; `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` for a local
    /// server), as [`crate::secret::AwsSecretSource::from_env`] builds its own.
    pub fn from_env(table: impl Into<String>) -> Self {
        use aws_sdk_dynamodb::config::{
            BehaviorVersion, Credentials, Region, retry::RetryConfig, timeout::TimeoutConfig,
        };
        let env = crate::https::AwsEnv::read("AWS_ENDPOINT_URL_DYNAMODB");
        let mut builder = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(env.region))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(crate::https::CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2));
        match crate::https::sdk_http_client() {
            Ok(client) => builder = builder.http_client(client),
            Err(e) => tracing::error!(error = %e, "no HTTPS client for DynamoDB"),
        }
        if let Some((id, key, token)) = env.credentials {
            builder =
                builder.credentials_provider(Credentials::new(id, key, token, None, "environment"));
        }
        if let Some(url) = env.endpoint {
            builder = builder.endpoint_url(url);
        }
        Self::new(aws_sdk_dynamodb::Client::from_conf(builder.build()), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[async_trait]
impl UserReader for DynamoUsers {
    async fn get_user(&self, user_id: &str) -> Result<Lookup, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, s(user_id))
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        let Some(item) = out.item else {
            return Ok(Lookup::Missing);
        };
        read_user(user_id, &item)
    }
}

fn read_user(user_id: &str, item: &HashMap<String, AttributeValue>) -> Result<Lookup, TableError> {
    let deleted = matches!(item.get(attr::DELETED), Some(AttributeValue::Bool(true)));
    let get = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    Ok(match super::profile_from_item(user_id, deleted, get)? {
        Some(p) => Lookup::Found(p),
        None => Lookup::Deleted,
    })
}

#[async_trait]
impl UserStore for DynamoUsers {
    async fn seen(&self, svix_id: &str) -> Result<bool, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, s(&event_key(svix_id)))
            .consistent_read(true)
            .projection_expression(attr::PK)
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        Ok(out.item.is_some())
    }

    async fn apply(&self, change: &Change) -> Result<Applied, TableError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, s(change.user_id()))
            .expression_attribute_values(":kind", s("user"))
            .expression_attribute_values(":one", n(1));
        match change {
            Change::Upsert {
                profile,
                updated_at_ms,
                event_id,
            } => {
                let mut set = vec![
                    format!("{} = :kind", attr::KIND),
                    format!("{} = :u", attr::UPDATED_AT),
                    format!("{} = :e", attr::EVENT_ID),
                    format!("{} = :pm", attr::PUBLIC_METADATA),
                ];
                let mut remove = Vec::new();
                for (name, value) in [
                    (attr::FIRST_NAME, &profile.first_name),
                    (attr::LAST_NAME, &profile.last_name),
                    (attr::USERNAME, &profile.username),
                    (attr::IMAGE_URL, &profile.image_url),
                    (attr::PRIMARY_EMAIL, &profile.primary_email),
                ] {
                    match value {
                        Some(v) => {
                            set.push(format!("{name} = :{name}"));
                            req = req.expression_attribute_values(format!(":{name}"), s(v));
                        }
                        None => remove.push(name),
                    }
                }
                let mut expr = format!("SET {}", set.join(", "));
                if !remove.is_empty() {
                    expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
                }
                expr.push_str(&format!(" ADD {} :one", attr::WRITES));
                req = req
                    .update_expression(expr)
                    // Newer than what is stored, and never over a tombstone.
                    .condition_expression(format!(
                        "attribute_not_exists({pk}) OR (attribute_not_exists({del}) AND {u} < :u)",
                        pk = attr::PK,
                        del = attr::DELETED,
                        u = attr::UPDATED_AT
                    ))
                    .expression_attribute_values(":u", n(*updated_at_ms))
                    .expression_attribute_values(":e", s(event_id))
                    .expression_attribute_values(":pm", s(&profile.public_metadata.to_string()));
            }
            Change::Delete {
                at_ms, event_id, ..
            } => {
                req = req
                    .update_expression(format!(
                        "SET {kind} = :kind, {del} = :t, {u} = :u, {e} = :e \
                         REMOVE {f}, {l}, {un}, {img}, {em}, {pm} ADD {w} :one",
                        kind = attr::KIND,
                        del = attr::DELETED,
                        u = attr::UPDATED_AT,
                        e = attr::EVENT_ID,
                        f = attr::FIRST_NAME,
                        l = attr::LAST_NAME,
                        un = attr::USERNAME,
                        img = attr::IMAGE_URL,
                        em = attr::PRIMARY_EMAIL,
                        pm = attr::PUBLIC_METADATA,
                        w = attr::WRITES
                    ))
                    // Deleted once: a repeated user.deleted changes nothing.
                    .condition_expression(format!("attribute_not_exists({})", attr::DELETED))
                    .expression_attribute_values(":t", AttributeValue::Bool(true))
                    .expression_attribute_values(":u", n(*at_ms))
                    .expression_attribute_values(":e", s(event_id));
            }
        }
        match req.send().await {
            Ok(_) => Ok(Applied::Written),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(Applied::Stale)
            }
            Err(e) => Err(classify("UpdateItem", &e)),
        }
    }

    async fn remember(&self, svix_id: &str, expires_at_s: u64) -> Result<(), TableError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(attr::PK, s(&event_key(svix_id)))
            .item(attr::KIND, s("event"))
            .item(attr::EXPIRES_AT, n(expires_at_s))
            .send()
            .await
            .map_err(|e| classify("PutItem", &e))?;
        Ok(())
    }
}

/// Which failures are worth a retry (Svix retries on our 503) and which are the deployment's.
fn classify<E: ProvideErrorMetadata + fmt::Debug, R: fmt::Debug>(
    op: &str,
    err: &SdkError<E, R>,
) -> TableError {
    match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown");
            match code {
                "ResourceNotFoundException"
                | "AccessDeniedException"
                | "UnrecognizedClientException"
                | "ValidationException"
                | "MissingAuthenticationTokenException" => {
                    TableError::Misconfigured(format!("{op}: {code}"))
                }
                _ => TableError::Unavailable(format!("{op}: {code}")),
            }
        }
        SdkError::TimeoutError(_) => TableError::Unavailable(format!("{op}: timeout")),
        SdkError::DispatchFailure(_) => TableError::Unavailable(format!("{op}: connection failed")),
        SdkError::ResponseError(_) => TableError::Unavailable(format!("{op}: unreadable response")),
        _ => TableError::Unavailable(format!("{op}: error")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tombstone_reads_as_deleted_and_a_user_as_its_profile() {
        let mut item = HashMap::new();
        item.insert(attr::PK.to_owned(), s("user_1"));
        item.insert(attr::FIRST_NAME.to_owned(), s("Ada"));
        item.insert(attr::PUBLIC_METADATA.to_owned(), s("{}"));
        let Lookup::Found(p) = read_user("user_1", &item).unwrap() else {
            panic!("a user")
        };
        assert_eq!(p.first_name.as_deref(), Some("Ada"));
        item.insert(attr::DELETED.to_owned(), AttributeValue::Bool(true));
        assert_eq!(read_user("user_1", &item).unwrap(), Lookup::Deleted);
    }
}
