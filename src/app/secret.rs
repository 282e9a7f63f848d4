//! The mirror's connection string from AWS Secrets Manager, read once at cold start.
//!
//! The secret string is either the connection string itself, JSON with a `url` field, or the
//! JSON an RDS-managed secret holds (`host`, `port`, `username`, `password`, `dbname`). Error
//! messages name the secret's ARN, never its content.

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// Reads the secret `arn` and returns a connection string.
pub async fn database_url(arn: &str) -> Result<String, String> {
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| format!("reading secret {arn}: {}", DisplayErrorContext(e)))?;
    let text = out
        .secret_string()
        .ok_or_else(|| format!("secret {arn} has no SecretString"))?;
    connection_string(text).map_err(|e| format!("secret {arn}: {e}"))
}

/// `'value'` for a key=value connection string, with `\` and `'` escaped.
fn quoted(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The connection string a secret string holds.
fn connection_string(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Ok(trimmed.to_string());
    }
    let v: serde_json::Value = serde_json::from_str(trimmed)
        .map_err(|_| "secret is JSON that does not parse".to_string())?;
    let field = |k: &str| -> Option<String> {
        match v.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    if let Some(url) = field("url") {
        return Ok(url);
    }
    let host = field("host").ok_or("secret JSON has neither \"url\" nor \"host\"")?;
    let mut parts = vec![format!("host={}", quoted(&host))];
    for (json_key, pg_key) in [
        ("port", "port"),
        ("username", "user"),
        ("password", "password"),
        ("dbname", "dbname"),
        ("sslmode", "sslmode"),
    ] {
        if let Some(v) = field(json_key) {
            parts.push(format!("{pg_key}={}", quoted(&v)));
        }
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_url_json_url_and_rds_secrets() {
        assert_eq!(
            connection_string(" postgres://a:b@h/db \n").unwrap(),
            "postgres://a:b@h/db"
        );
        assert_eq!(
            connection_string(r#"{"url":"postgres://h/db"}"#).unwrap(),
            "postgres://h/db"
        );
        let rds = r#"{"engine":"postgres","host":"db.x.rds.amazonaws.com","port":5432,"username":"app","password":"p'w\\d","dbname":"analytics"}"#;
        let s = connection_string(rds).unwrap();
        assert_eq!(
            s,
            r"host='db.x.rds.amazonaws.com' port='5432' user='app' password='p\'w\\d' dbname='analytics'"
        );
        // tokio-postgres reads it back with the password intact.
        let cfg: tokio_postgres::Config = s.parse().unwrap();
        assert_eq!(cfg.get_password(), Some(&b"p'w\\d"[..]));
        assert_eq!(cfg.get_dbname(), Some("analytics"));
    }

    #[test]
    fn errors_do_not_echo_the_secret() {
        let e = connection_string(r#"{"password":"hunter2"}"#).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = connection_string(r#"{"password":"hunter2""#).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
