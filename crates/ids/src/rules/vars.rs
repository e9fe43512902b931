//! Rule variables (`$HOME_NET`, `$HTTP_PORTS`, ...): Suricata's defaults, overridden by the
//! `vars:` section of a suricata.yaml and then by `--var NAME=VALUE`.
//!
//! Values stay text until a rule header uses them ([`super::addr`] expands them), so a
//! variable may refer to others in any order. Reading a YAML file is the only I/O here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Address and port variables by name (without the `$`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    addresses: BTreeMap<String, String>,
    ports: BTreeMap<String, String>,
}

/// Suricata 7's default `address-groups` (suricata.yaml as shipped).
const DEFAULT_ADDRESSES: &[(&str, &str)] = &[
    ("HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"),
    ("EXTERNAL_NET", "!$HOME_NET"),
    ("HTTP_SERVERS", "$HOME_NET"),
    ("SMTP_SERVERS", "$HOME_NET"),
    ("SQL_SERVERS", "$HOME_NET"),
    ("DNS_SERVERS", "$HOME_NET"),
    ("TELNET_SERVERS", "$HOME_NET"),
    ("AIM_SERVERS", "$EXTERNAL_NET"),
    ("DC_SERVERS", "$HOME_NET"),
    ("DNP3_SERVER", "$HOME_NET"),
    ("DNP3_CLIENT", "$HOME_NET"),
    ("MODBUS_CLIENT", "$HOME_NET"),
    ("MODBUS_SERVER", "$HOME_NET"),
    ("ENIP_CLIENT", "$HOME_NET"),
    ("ENIP_SERVER", "$HOME_NET"),
];

/// Suricata 7's default `port-groups`.
const DEFAULT_PORTS: &[(&str, &str)] = &[
    ("HTTP_PORTS", "80"),
    ("SHELLCODE_PORTS", "!80"),
    ("ORACLE_PORTS", "1521"),
    ("SSH_PORTS", "22"),
    ("DNP3_PORTS", "20000"),
    ("MODBUS_PORTS", "502"),
    ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
    ("FTP_PORTS", "21"),
    ("GENEVE_PORTS", "6081"),
    ("VXLAN_PORTS", "4789"),
    ("TEREDO_PORTS", "3544"),
];

/// A variable file or `--var` that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum VarsError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Yaml { path: PathBuf, reason: String },
    #[error("--var {0:?}: expected NAME=VALUE")]
    Assignment(String),
}

impl Vars {
    /// No variables at all.
    pub fn empty() -> Self {
        Vars::default()
    }

    /// Suricata's defaults.
    pub fn suricata_defaults() -> Self {
        let mut v = Vars::default();
        for (k, val) in DEFAULT_ADDRESSES {
            v.addresses.insert((*k).to_owned(), (*val).to_owned());
        }
        for (k, val) in DEFAULT_PORTS {
            v.ports.insert((*k).to_owned(), (*val).to_owned());
        }
        v
    }

    /// The value of an address variable.
    pub fn address(&self, name: &str) -> Option<&str> {
        self.addresses.get(name).map(String::as_str)
    }

    /// The value of a port variable.
    pub fn port(&self, name: &str) -> Option<&str> {
        self.ports.get(name).map(String::as_str)
    }

    /// Sets a variable. A name already known as a port variable, or ending in `_PORTS` or
    /// `_PORT`, is a port variable; any other name is an address variable.
    pub fn set(&mut self, name: &str, value: &str) {
        let name = name.trim().trim_start_matches('$').to_owned();
        let value = value.trim().to_owned();
        if self.ports.contains_key(&name) || name.ends_with("_PORTS") || name.ends_with("_PORT") {
            self.ports.insert(name, value);
        } else {
            self.addresses.insert(name, value);
        }
    }

    /// Applies one `NAME=VALUE` assignment from the command line.
    pub fn assign(&mut self, assignment: &str) -> Result<(), VarsError> {
        let (name, value) = assignment
            .split_once('=')
            .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
            .ok_or_else(|| VarsError::Assignment(assignment.to_owned()))?;
        self.set(name, value);
        Ok(())
    }

    /// Reads the `vars:` section (`address-groups` and `port-groups`) of a suricata.yaml and
    /// applies it over the current values.
    pub fn load_yaml(&mut self, path: &Path) -> Result<(), VarsError> {
        let text = std::fs::read_to_string(path).map_err(|source| VarsError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.apply_yaml(&text).map_err(|reason| VarsError::Yaml {
            path: path.to_owned(),
            reason,
        })
    }

    /// Applies the `vars:` section of a suricata.yaml given as text.
    pub fn apply_yaml(&mut self, text: &str) -> Result<(), String> {
        // Suricata's files start with a `%YAML 1.1` directive that YAML 1.2 readers refuse.
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("%YAML"))
            .collect::<Vec<_>>()
            .join("\n");
        let conf: SuricataYaml =
            serde_saphyr::from_str(&body).map_err(|e| e.to_string().replace('\n', " "))?;
        let Some(vars) = conf.vars else {
            return Ok(());
        };
        for (k, v) in vars.address_groups {
            self.addresses.insert(k, v.into_text());
        }
        for (k, v) in vars.port_groups {
            self.ports.insert(k, v.into_text());
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct SuricataYaml {
    #[serde(default)]
    vars: Option<YamlVars>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct YamlVars {
    #[serde(rename = "address-groups")]
    address_groups: BTreeMap<String, Scalar>,
    #[serde(rename = "port-groups")]
    port_groups: BTreeMap<String, Scalar>,
}

/// A variable's value: YAML gives `1521` as a number and `"[80,81]"` as a string.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Text(String),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Int(n) => n.to_string(),
            Scalar::Text(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_assignments() {
        let mut v = Vars::suricata_defaults();
        assert_eq!(v.address("EXTERNAL_NET"), Some("!$HOME_NET"));
        assert_eq!(v.port("HTTP_PORTS"), Some("80"));
        v.assign("HOME_NET=[10.0.0.0/8]").unwrap();
        v.assign("HTTP_PORTS=[80,8080]").unwrap();
        v.assign("MY_PORT=99").unwrap();
        assert_eq!(v.address("HOME_NET"), Some("[10.0.0.0/8]"));
        assert_eq!(v.port("HTTP_PORTS"), Some("[80,8080]"));
        assert_eq!(v.port("MY_PORT"), Some("99"));
        assert!(v.assign("novalue").is_err());
        assert!(v.assign("=x").is_err());
    }

    #[test]
    fn yaml_vars_section() {
        let mut v = Vars::suricata_defaults();
        v.apply_yaml(
            "%YAML 1.1\n---\nvars:\n  address-groups:\n    HOME_NET: \"[10.0.0.0/8]\"\n    \
             DNS_SERVERS: \"[10.0.0.53]\"\n  port-groups:\n    ORACLE_PORTS: 1521\n    \
             HTTP_PORTS: \"[80,81]\"\nother:\n  - 1\n  - x: y\n",
        )
        .unwrap();
        assert_eq!(v.address("HOME_NET"), Some("[10.0.0.0/8]"));
        assert_eq!(v.address("DNS_SERVERS"), Some("[10.0.0.53]"));
        assert_eq!(v.port("ORACLE_PORTS"), Some("1521"));
        assert_eq!(v.port("HTTP_PORTS"), Some("[80,81]"));
        // Untouched defaults stay.
        assert_eq!(v.port("SSH_PORTS"), Some("22"));
        assert!(v.apply_yaml("vars: [unclosed").is_err());
    }

    #[test]
    fn the_bench_suricata_yaml_reads() {
        let path = Path::new("/work/shared/bench/ids/suricata/suricata.yaml");
        if !path.exists() {
            eprintln!("skipped: {} is absent on this machine", path.display());
            return;
        }
        let mut v = Vars::suricata_defaults();
        v.load_yaml(path).unwrap();
        assert_eq!(v.address("HOME_NET"), Some("[10.0.0.0/8]"));
        assert_eq!(v.port("SSH_PORTS"), Some("22"));
    }
}
