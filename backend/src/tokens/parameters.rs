//! Parameter Store through the AWS SDK: the reads and writes the Tokens page needs, typed.
//! Nothing here decrypts except [`ParameterStore::value`], which only the audited reveal and
//! the cluster-token connection call. Works against AWS, the sandbox and moto alike.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag};

use super::error::TokenError;
use super::rules::{Kind, Tier};

/// One parameter as listed: everything but its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    /// String, StringList or SecureString.
    pub kind: String,
    pub version: i64,
    pub modified_ms: Option<i64>,
    pub modified_by: Option<String>,
    pub key_id: Option<String>,
    pub tier: String,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    /// `label → version` over every version.
    pub labels: Vec<(String, i64)>,
    pub tags: Vec<(String, String)>,
}

/// One version in a parameter's history (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub version: i64,
    pub modified_ms: Option<i64>,
    pub modified_by: Option<String>,
    pub labels: Vec<String>,
    pub key_id: Option<String>,
    pub description: Option<String>,
}

/// What a new parameter is made of.
#[derive(Debug, Clone)]
pub struct NewParameter<'a> {
    pub name: &'a str,
    pub kind: Kind,
    pub value: &'a str,
    pub key_id: Option<&'a str>,
    pub description: Option<&'a str>,
    pub allowed_pattern: Option<&'a str>,
    pub tier: Tier,
    pub tags: &'a [(String, String)],
}

#[derive(Clone)]
pub struct ParameterStore {
    client: Client,
}

fn millis(t: Option<&aws_sdk_ssm::primitives::DateTime>) -> Option<i64> {
    t.and_then(|t| t.to_millis().ok())
}

impl ParameterStore {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Every parameter under `prefix` (recursively), without labels and tags.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Parameter>, TokenError> {
        let path = match prefix.trim_end_matches('/') {
            "" => "/",
            p => p,
        };
        let filter = ParameterStringFilter::builder()
            .key("Path")
            .option("Recursive")
            .values(path)
            .build()
            .map_err(|e| TokenError::Other(e.to_string()))?;
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .describe_parameters()
                .parameter_filters(filter.clone())
                .max_results(50)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| TokenError::from_sdk(e, prefix))?;
            for p in page.parameters() {
                out.push(Parameter {
                    name: p.name().unwrap_or_default().to_owned(),
                    kind: p.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                    version: p.version(),
                    modified_ms: millis(p.last_modified_date()),
                    modified_by: p.last_modified_user().map(str::to_owned),
                    key_id: p.key_id().map(str::to_owned),
                    tier: p.tier().map(|t| t.as_str().to_owned()).unwrap_or_else(|| "Standard".into()),
                    description: p.description().map(str::to_owned).filter(|d| !d.is_empty()),
                    allowed_pattern: p.allowed_pattern().map(str::to_owned).filter(|d| !d.is_empty()),
                    labels: Vec::new(),
                    tags: Vec::new(),
                });
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// One parameter's metadata, labels and tags.
    pub async fn describe(&self, name: &str) -> Result<Parameter, TokenError> {
        let filter = ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .values(name)
            .build()
            .map_err(|e| TokenError::Other(e.to_string()))?;
        let page = self
            .client
            .describe_parameters()
            .parameter_filters(filter)
            .send()
            .await
            .map_err(|e| TokenError::from_sdk(e, name))?;
        let p = page
            .parameters()
            .iter()
            .find(|p| p.name() == Some(name))
            .ok_or_else(|| TokenError::NotFound(name.to_owned()))?;
        let mut parameter = Parameter {
            name: name.to_owned(),
            kind: p.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            version: p.version(),
            modified_ms: millis(p.last_modified_date()),
            modified_by: p.last_modified_user().map(str::to_owned),
            key_id: p.key_id().map(str::to_owned),
            tier: p.tier().map(|t| t.as_str().to_owned()).unwrap_or_else(|| "Standard".into()),
            description: p.description().map(str::to_owned).filter(|d| !d.is_empty()),
            allowed_pattern: p.allowed_pattern().map(str::to_owned).filter(|d| !d.is_empty()),
            labels: Vec::new(),
            tags: Vec::new(),
        };
        self.decorate(&mut parameter).await?;
        Ok(parameter)
    }

    /// Fills in a listed parameter's labels and tags.
    pub async fn decorate(&self, parameter: &mut Parameter) -> Result<(), TokenError> {
        let history = self.history(&parameter.name).await?;
        parameter.labels =
            history.iter().flat_map(|v| v.labels.iter().map(|l| (l.clone(), v.version))).collect();
        parameter.tags = self.tags(&parameter.name).await?;
        Ok(())
    }

    pub async fn tags(&self, name: &str) -> Result<Vec<(String, String)>, TokenError> {
        let tags = self
            .client
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| TokenError::from_sdk(e, name))?;
        Ok(tags.tag_list().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect())
    }

    /// Every version, oldest first, without values.
    pub async fn history(&self, name: &str) -> Result<Vec<Version>, TokenError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .get_parameter_history()
                .name(name)
                .with_decryption(false)
                .max_results(50)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| TokenError::from_sdk(e, name))?;
            // The history carries each version's value (plain for a String): only the
            // metadata is copied out.
            for v in page.parameters() {
                out.push(Version {
                    version: v.version(),
                    modified_ms: millis(v.last_modified_date()),
                    modified_by: v.last_modified_user().map(str::to_owned),
                    labels: v.labels().to_vec(),
                    key_id: v.key_id().map(str::to_owned),
                    description: v.description().map(str::to_owned).filter(|d| !d.is_empty()),
                });
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Creates a parameter; refuses when one of that name exists. Returns its version (1).
    pub async fn create(&self, new: &NewParameter<'_>) -> Result<i64, TokenError> {
        let tags = new
            .tags
            .iter()
            .map(|(k, v)| {
                Tag::builder().key(k).value(v).build().map_err(|e| TokenError::Invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut put = self
            .client
            .put_parameter()
            .name(new.name)
            .value(new.value)
            .r#type(ParameterType::from(new.kind.as_str()))
            .tier(ParameterTier::from(new.tier.as_str()))
            .overwrite(false)
            .set_tags((!tags.is_empty()).then_some(tags))
            .set_description(new.description.map(str::to_owned))
            .set_allowed_pattern(new.allowed_pattern.map(str::to_owned));
        if new.kind == Kind::SecureString {
            put = put.set_key_id(new.key_id.map(str::to_owned));
        }
        let out = put.send().await.map_err(|e| match TokenError::from_sdk(e, new.name) {
            TokenError::UnknownKey(_) => {
                TokenError::UnknownKey(new.key_id.unwrap_or("alias/aws/ssm").to_owned())
            }
            other => other,
        })?;
        Ok(out.version())
    }

    /// Writes a new version of an existing parameter, keeping its type and KMS key.
    pub async fn rotate(&self, current: &Parameter, value: &str) -> Result<i64, TokenError> {
        let mut put = self
            .client
            .put_parameter()
            .name(&current.name)
            .value(value)
            .r#type(ParameterType::from(current.kind.as_str()))
            .overwrite(true);
        if current.kind == "SecureString" {
            put = put.set_key_id(current.key_id.clone());
        }
        Ok(put.send().await.map_err(|e| TokenError::from_sdk(e, &current.name))?.version())
    }

    /// Attaches `labels` to `version` (moving them from another version of the parameter).
    pub async fn label(&self, name: &str, version: i64, labels: &[String]) -> Result<(), TokenError> {
        let out = self
            .client
            .label_parameter_version()
            .name(name)
            .parameter_version(version)
            .set_labels(Some(labels.to_vec()))
            .send()
            .await
            .map_err(|e| match TokenError::from_sdk(e, name) {
                TokenError::Other(m) if m.contains("version") => {
                    TokenError::VersionNotFound { name: name.to_owned(), version }
                }
                other => other,
            })?;
        if !out.invalid_labels().is_empty() {
            return Err(TokenError::Invalid(format!(
                "Parameter Store refused the labels {}",
                out.invalid_labels().join(", ")
            )));
        }
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<(), TokenError> {
        self.client.delete_parameter().name(name).send().await.map_err(|e| TokenError::from_sdk(e, name))?;
        Ok(())
    }

    /// The decrypted value of `name` (the latest version, or `version`), and its version.
    pub async fn value(&self, name: &str, version: Option<i64>) -> Result<(String, i64), TokenError> {
        let selector = match version {
            Some(v) => format!("{name}:{v}"),
            None => name.to_owned(),
        };
        let out =
            self.client.get_parameter().name(selector).with_decryption(true).send().await.map_err(|e| {
                match TokenError::from_sdk(e, name) {
                    TokenError::Other(m) if m.contains("version") => {
                        TokenError::VersionNotFound { name: name.to_owned(), version: version.unwrap_or(0) }
                    }
                    other => other,
                }
            })?;
        let p = out.parameter.ok_or_else(|| TokenError::NotFound(name.to_owned()))?;
        Ok((p.value.unwrap_or_default(), p.version))
    }

    /// The latest version number of `name`, without decrypting anything.
    pub async fn version(&self, name: &str) -> Result<i64, TokenError> {
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(false)
            .send()
            .await
            .map_err(|e| TokenError::from_sdk(e, name))?;
        out.parameter.map(|p| p.version).ok_or_else(|| TokenError::NotFound(name.to_owned()))
    }

    /// Sets a tag on a parameter (replacing the tag's value).
    pub async fn tag(&self, name: &str, key: &str, value: &str) -> Result<(), TokenError> {
        let tag =
            Tag::builder().key(key).value(value).build().map_err(|e| TokenError::Invalid(e.to_string()))?;
        self.client
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .tags(tag)
            .send()
            .await
            .map_err(|e| TokenError::from_sdk(e, name))?;
        Ok(())
    }
}
