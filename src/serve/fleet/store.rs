//! The fleet's store: NATS with JetStream, its key-value buckets. The only module that
//! speaks to the store, so another (etcd) could stand beside it.
//!
//! The bucket `PREFIX-results` holds each instance's probe results: the key is the probe
//! (its check and target, hex) then the instance; the value a [`Report`] in JSON.
//! History 1; entries older than the bucket's age limit (three times the result expiry)
//! are dropped by the store. The bucket `PREFIX-state` holds what the fleet shares for
//! good: `overrides`, the operators' overrides (JSON), and `serial.VIEW`, each view's
//! agreed serial with the content it is for ([`ViewSerial`]), changed only by
//! compare-and-set on the revision read, so that two instances' changes never overwrite
//! each other.

use std::time::Duration;

use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::compile::host::{StoreAuth, StoreSettings};
use crate::engine::overrides::Override;

/// The key of the fleet's overrides in the state bucket.
const OVERRIDES_KEY: &str = "overrides";

/// How long a connection attempt or a store operation may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// One instance's result for one probe, as published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The check's name.
    pub check: String,
    /// The probed address (`IP:PORT`).
    pub target: String,
    /// Whether the instance's own probes see the node up (after rise/fall).
    pub up: bool,
    /// The last probe's latency, milliseconds.
    pub latency_ms: f64,
    /// The instance that probed.
    pub instance: String,
    /// Its site.
    pub site: String,
    /// When it was published, milliseconds since the Unix epoch (the publisher's clock).
    pub at: u64,
}

/// A change of the results bucket: a report put, or one removed (`None`).
#[derive(Debug)]
pub struct Change {
    /// The probe's token ([`probe_token`]).
    pub probe: String,
    /// The instance.
    pub instance: String,
    /// The report, or `None` when it was deleted.
    pub report: Option<Report>,
    /// How long ago the store took it (by this instance's clock and the store's).
    pub age: Duration,
}

/// Why the store could not be used, in words.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The servers as logs show them: any `user:password@` a URL holds left out.
pub fn shown(servers: &[String]) -> String {
    let bare = |url: &String| match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://{}", &url[at + 1..]),
        _ => url.clone(),
    };
    servers.iter().map(bare).collect::<Vec<_>>().join(", ")
}

/// A probe's part of a key: its check and target, hex (any check name fits a key).
pub fn probe_token(check: &str, target: &str) -> String {
    data_encoding::HEXLOWER.encode(format!("{check}|{target}").as_bytes())
}

/// The store, connected.
pub struct Store {
    client: async_nats::Client,
    results: kv::Store,
    state: kv::Store,
}

impl Store {
    /// Connects to the servers and opens (or makes) the results bucket, entries kept
    /// at most `keep`.
    pub async fn connect(settings: &StoreSettings, keep: Duration) -> Result<Store, StoreError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| StoreError(format!("{what}: {e}"));
        let mut options = match &settings.auth {
            StoreAuth::None => async_nats::ConnectOptions::new(),
            StoreAuth::UserPassword { user, password } => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.0.clone())
            }
            StoreAuth::Token(token) => async_nats::ConnectOptions::with_token(token.0.clone()),
            StoreAuth::Credentials(path) => async_nats::ConnectOptions::new()
                .credentials_file(path.clone())
                .await
                .map_err(|e| failed(&format!("credentials_file {}", path.display()), &e))?,
        };
        if let Some(ca) = &settings.ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &settings.client_cert {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if settings.servers.iter().any(|s| s.starts_with("tls://")) {
            options = options.require_tls(true);
        }
        let servers: Vec<async_nats::ServerAddr> = settings
            .servers
            .iter()
            .map(|s| s.parse().map_err(|e| failed(&format!("server {s}"), &e)))
            .collect::<Result<_, _>>()?;
        let client = options
            .connection_timeout(TIMEOUT)
            .request_timeout(Some(TIMEOUT))
            .connect(servers)
            .await
            .map_err(|e| failed(&format!("cannot connect to {}", shown(&settings.servers)), &e))?;
        let jetstream = async_nats::jetstream::new(client.clone());
        let bucket = |name: &str, max_age: Duration| kv::Config {
            bucket: format!("{}-{name}", settings.bucket_prefix),
            history: 1,
            max_age,
            ..Default::default()
        };
        let results = open(&jetstream, bucket("results", keep)).await?;
        let state = open(&jetstream, bucket("state", Duration::ZERO)).await?;
        Ok(Store { client, results, state })
    }

    /// The fleet's overrides and their revision (`None`: none was ever written; a list of
    /// `None`: the entry holds no list, deleted or not readable, and is to be replaced).
    pub async fn overrides(&self) -> Result<Option<(Option<Vec<Override>>, u64)>, StoreError> {
        let entry = self.state.entry(OVERRIDES_KEY).await.map_err(|e| StoreError(format!("reading overrides: {e}")))?;
        Ok(entry.map(|e| (value_of(&e), e.revision)))
    }

    /// Writes `list` as the fleet's overrides if the store still holds `revision` (`None`:
    /// nothing yet). `Ok(Some(new revision))`; `Ok(None)` when another instance changed
    /// them meanwhile (read them again).
    pub async fn put_overrides(&self, list: &[Override], revision: Option<u64>) -> Result<Option<u64>, StoreError> {
        let value = serde_json::to_vec(list).expect("overrides serialize");
        match self.state.update(OVERRIDES_KEY, value.into(), revision.unwrap_or(0)).await {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(e) => Err(StoreError(format!("writing overrides: {e}"))),
        }
    }

    /// Each new list of the fleet's overrides, with its revision, as it is written.
    pub async fn watch_overrides(
        &self,
    ) -> Result<impl futures_util::Stream<Item = (Vec<Override>, u64)> + use<>, StoreError> {
        let watch =
            self.state.watch(OVERRIDES_KEY).await.map_err(|e| StoreError(format!("watching overrides: {e}")))?;
        Ok(watch
            .take_while(|entry| std::future::ready(entry.is_ok()))
            .filter_map(|entry| std::future::ready(entry.ok().and_then(overrides_of))))
    }

    /// Whether the connection is up now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Publishes this instance's `report` for a probe.
    pub async fn publish(&self, probe: &str, report: &Report) -> Result<(), StoreError> {
        let key = format!("{probe}.{}", report.instance);
        let value = serde_json::to_vec(report).expect("a report serializes");
        tokio::time::timeout(TIMEOUT, self.results.put(&key, value.into()))
            .await
            .map_err(|_| StoreError(format!("publishing {key}: no answer within {TIMEOUT:?}")))?
            .map_err(|e| StoreError(format!("publishing {key}: {e}")))?;
        Ok(())
    }

    /// Every result in the bucket now, then each change as it happens (the stream ends
    /// when the watch breaks: watch again). The watch of new changes starts first, so
    /// that none is missed while the present ones are read (one may come twice).
    pub async fn watch(&self) -> Result<impl futures_util::Stream<Item = Change> + use<>, StoreError> {
        let failed = |e: &dyn std::fmt::Display| StoreError(format!("reading results: {e}"));
        let watch = self.results.watch_all().await.map_err(|e| failed(&e))?;
        let keys: Vec<String> =
            self.results.keys().await.map_err(|e| failed(&e))?.filter_map(|k| async { k.ok() }).collect().await;
        let mut present = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(entry) = self.results.entry(key).await.map_err(|e| failed(&e))? {
                present.extend(change(entry));
            }
        }
        let changes = watch
            .take_while(|entry| std::future::ready(entry.is_ok()))
            .filter_map(|entry| std::future::ready(entry.ok().and_then(change)));
        Ok(futures_util::stream::iter(present).chain(changes))
    }
}

/// A view's serial as the fleet agreed on it: the content it is for, and the serial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewSerial {
    /// The zone.
    pub zone: String,
    /// The line.
    pub line: String,
    /// The content's digest (hex).
    pub digest: String,
    /// Its serial.
    pub serial: u32,
}

/// The key of a view's serial in the state bucket.
fn serial_key(zone: &str, line: &str) -> String {
    format!("serial.{}", data_encoding::HEXLOWER.encode(format!("{zone}|{line}").as_bytes()))
}

impl Store {
    /// The fleet's serial of view (`zone`, `line`) and its revision (`None`: none yet; a
    /// serial of `None`: the entry holds none, deleted or not readable, to be replaced).
    pub async fn serial(&self, zone: &str, line: &str) -> Result<Option<(Option<ViewSerial>, u64)>, StoreError> {
        let key = serial_key(zone, line);
        let entry = self.state.entry(&key).await.map_err(|e| StoreError(format!("reading {key}: {e}")))?;
        Ok(entry.map(|e| (value_of(&e), e.revision)))
    }

    /// Writes `view` if the store still holds `revision` (`None`: nothing yet); `false`
    /// when another instance wrote it meanwhile.
    pub async fn put_serial(&self, view: &ViewSerial, revision: Option<u64>) -> Result<bool, StoreError> {
        let key = serial_key(&view.zone, &view.line);
        let value = serde_json::to_vec(view).expect("a serial serializes");
        match self.state.update(&key, value.into(), revision.unwrap_or(0)).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(e) => Err(StoreError(format!("writing {key}: {e}"))),
        }
    }

    /// Each view serial as another instance writes it.
    pub async fn watch_serials(&self) -> Result<impl futures_util::Stream<Item = ViewSerial> + use<>, StoreError> {
        let watch = self.state.watch("serial.>").await.map_err(|e| StoreError(format!("watching serials: {e}")))?;
        Ok(watch
            .take_while(|entry| std::future::ready(entry.is_ok()))
            .filter_map(|entry| std::future::ready(entry.ok().and_then(|e| serde_json::from_slice(&e.value).ok()))))
    }
}

/// Opens the bucket `config` names, made with it when there is none.
async fn open(jetstream: &async_nats::jetstream::Context, config: kv::Config) -> Result<kv::Store, StoreError> {
    let name = config.bucket.clone();
    match jetstream.get_key_value(&name).await {
        Ok(store) => Ok(store),
        Err(_) => jetstream
            .create_key_value(config)
            .await
            .map_err(|e| StoreError(format!("bucket {name} (JetStream enabled on the server?): {e}"))),
    }
}

/// What an entry holds: `None` when it was deleted or is not readable as a `T`.
fn value_of<T: serde::de::DeserializeOwned>(entry: &kv::Entry) -> Option<T> {
    match entry.operation {
        kv::Operation::Put => serde_json::from_slice(&entry.value).ok(),
        kv::Operation::Delete | kv::Operation::Purge => None,
    }
}

/// The overrides an entry of the state bucket holds, with its revision.
fn overrides_of(entry: kv::Entry) -> Option<(Vec<Override>, u64)> {
    match entry.operation {
        kv::Operation::Put => Some((serde_json::from_slice(&entry.value).ok()?, entry.revision)),
        kv::Operation::Delete | kv::Operation::Purge => Some((Vec::new(), entry.revision)),
    }
}

/// What an entry of the results bucket says: a report put, or one removed.
fn change(entry: kv::Entry) -> Option<Change> {
    let (probe, instance) = entry.key.split_once('.')?;
    let report = match entry.operation {
        kv::Operation::Put => Some(serde_json::from_slice(&entry.value).ok()?),
        kv::Operation::Delete | kv::Operation::Purge => None,
    };
    let now_ns =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as i128;
    let age_ns = (now_ns - entry.created.unix_timestamp_nanos()).max(0);
    let age = Duration::from_nanos(u64::try_from(age_ns).unwrap_or(u64::MAX));
    Some(Change { probe: probe.to_string(), instance: instance.to_string(), report, age })
}
