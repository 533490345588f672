//! EPCIS 2.0 JSON-LD namespaces: which IRI a `prefix:` in a key or value stands for.
//!
//! An EPCIS document's `@context` is a string (a remote context), an object (prefix →
//! namespace IRI), or an array of both. This is not a JSON-LD processor: remote contexts
//! are never fetched. The standard EPCIS 2.0 context is recognised by its URL, and the
//! prefixes it defines (`epcis`, `cbv`, `gs1`, `cbvmda`, …) are always available, as the
//! Event Hash ID algorithm requires. Object entries add or redefine prefixes, later
//! entries winning; an event's own `@context` is layered on top by
//! [`Namespaces::with_event`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The EPCIS 2.0 JSON-LD context URLs that are recognised as the standard context.
pub const STANDARD_CONTEXT_URLS: &[&str] = &[
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    "https://ref.gs1.org/standards/epcis/2.0.1/epcis-context.jsonld",
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld",
];

/// The prefixes of the standard EPCIS 2.0 context and their namespace IRIs.
pub const STANDARD_PREFIXES: &[(&str, &str)] = &[
    ("epcis", "https://ref.gs1.org/epcis/"),
    ("cbv", "https://ref.gs1.org/cbv/"),
    ("gs1", "https://gs1.org/voc/"),
    ("cbvmda", "urn:epcglobal:cbv:mda:"),
    ("vtype", "urn:epcglobal:epcis:vtype:"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("dcterms", "http://purl.org/dc/terms/"),
];

/// The most prefixes one context may define; further entries are ignored.
pub const PREFIXES_MAX: usize = 1024;

/// Prefix → namespace IRI mappings in force for a document or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    prefixes: BTreeMap<String, String>,
    unknown_remote_contexts: Vec<String>,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces::standard()
    }
}

impl Namespaces {
    /// The prefixes of the standard EPCIS 2.0 context only.
    pub fn standard() -> Namespaces {
        Namespaces {
            prefixes: STANDARD_PREFIXES
                .iter()
                .map(|(p, iri)| ((*p).to_owned(), (*iri).to_owned()))
                .collect(),
            unknown_remote_contexts: Vec::new(),
        }
    }

    /// The namespaces of a document's `@context` value (string, object or array), on top
    /// of the standard prefixes. Anything that is not a string, object or array is
    /// ignored.
    pub fn from_context(context: &Value) -> Namespaces {
        let mut ns = Namespaces::standard();
        ns.add_context(context);
        ns
    }

    /// These namespaces with the event's own `@context`, if it has one, layered on top.
    pub fn with_event(&self, event: &Map<String, Value>) -> Namespaces {
        let mut ns = self.clone();
        if let Some(context) = event.get("@context") {
            ns.add_context(context);
        }
        ns
    }

    /// These namespaces with a further `@context` value layered on top.
    pub fn with_context(&self, context: &Value) -> Namespaces {
        let mut ns = self.clone();
        ns.add_context(context);
        ns
    }

    fn add_context(&mut self, context: &Value) {
        match context {
            Value::String(url) => self.add_remote(url),
            Value::Object(map) => self.add_object(map),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(url) => self.add_remote(url),
                        Value::Object(map) => self.add_object(map),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn add_remote(&mut self, url: &str) {
        if !STANDARD_CONTEXT_URLS.contains(&url)
            && !self.unknown_remote_contexts.iter().any(|u| u == url)
            && self.unknown_remote_contexts.len() < PREFIXES_MAX
        {
            self.unknown_remote_contexts.push(url.to_owned());
        }
    }

    fn add_object(&mut self, map: &Map<String, Value>) {
        for (term, definition) in map {
            if term.starts_with('@') || term.contains(':') || term.is_empty() {
                // Keywords, and term definitions of compact IRIs (`rail:x: {"@type": …}`),
                // define no prefix.
                continue;
            }
            let iri = match definition {
                Value::String(iri) => iri.as_str(),
                Value::Object(def) => match def.get("@id") {
                    Some(Value::String(iri)) => iri.as_str(),
                    _ => continue,
                },
                _ => continue,
            };
            if iri.starts_with('@') {
                continue;
            }
            if self.prefixes.len() < PREFIXES_MAX || self.prefixes.contains_key(term) {
                self.prefixes.insert(term.clone(), iri.to_owned());
            }
        }
    }

    /// The namespace IRI of `prefix`, if defined.
    pub fn prefix(&self, prefix: &str) -> Option<&str> {
        self.prefixes.get(prefix).map(String::as_str)
    }

    /// Remote contexts named by URL that are not the standard EPCIS context; their
    /// definitions are unknown here.
    pub fn unknown_remote_contexts(&self) -> &[String] {
        &self.unknown_remote_contexts
    }

    /// Splits a key into (namespace IRI, local name).
    ///
    /// `prefix:local` with a defined prefix gives the prefix's IRI and `local`; a full IRI
    /// (`http:`, `https:` or `urn:`) is split after its last `/`, `#` or (for a URN) `:`.
    /// A bare term, or a `prefix:local` with an undefined prefix, gives `None`.
    pub fn expand(&self, key: &str) -> Option<(String, String)> {
        let (prefix, local) = key.split_once(':')?;
        if !local.starts_with("//") {
            if let Some(iri) = self.prefixes.get(prefix) {
                return Some((iri.clone(), local.to_owned()));
            }
        }
        split_iri(key).map(|(ns, local)| (ns.to_owned(), local.to_owned()))
    }

    /// The full IRI of a compact IRI value `prefix:suffix` whose prefix is defined (the
    /// suffix may not start with `//`); `None` for anything else.
    pub fn expand_curie(&self, value: &str) -> Option<String> {
        let (prefix, suffix) = value.split_once(':')?;
        if suffix.starts_with("//") {
            return None;
        }
        self.prefixes
            .get(prefix)
            .map(|iri| format!("{iri}{suffix}"))
    }
}

/// Splits an absolute `http:`, `https:` or `urn:` IRI into namespace and local name.
fn split_iri(iri: &str) -> Option<(&str, &str)> {
    let scheme = iri.split_once(':')?.0.to_ascii_lowercase();
    let cut = match scheme.as_str() {
        "http" | "https" => iri.rfind(['/', '#'])?,
        "urn" => iri.rfind(['/', '#', ':'])?,
        _ => return None,
    };
    let (ns, local) = iri.split_at(cut + 1);
    if local.is_empty() {
        return None;
    }
    Some((ns, local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn standard_prefixes_are_always_there() {
        let ns = Namespaces::from_context(&json!(
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
        ));
        assert_eq!(ns.prefix("gs1"), Some("https://gs1.org/voc/"));
        assert_eq!(ns.prefix("cbv"), Some("https://ref.gs1.org/cbv/"));
        assert!(ns.unknown_remote_contexts().is_empty());
        assert_eq!(
            ns.expand_curie("cbv:Comp-latitude").as_deref(),
            Some("https://ref.gs1.org/cbv/Comp-latitude")
        );
    }

    #[test]
    fn array_contexts_and_event_contexts() {
        let doc = Namespaces::from_context(&json!([
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            "https://example.com/other-context.jsonld",
            {"example": "http://ns.example.com/epcis/"},
            {"rail": "urn:gs1:epcisapp:rail:", "rail:vehicleAxleCount": {"@type": "xsd:integer"}},
            {"ex2": {"@id": "https://ns.example2.com/", "@prefix": true}},
            7
        ]));
        assert_eq!(
            doc.unknown_remote_contexts(),
            ["https://example.com/other-context.jsonld"]
        );
        assert_eq!(
            doc.expand("example:myField"),
            Some(("http://ns.example.com/epcis/".into(), "myField".into()))
        );
        assert_eq!(
            doc.expand("rail:vehicleAxleCount"),
            Some(("urn:gs1:epcisapp:rail:".into(), "vehicleAxleCount".into()))
        );
        assert_eq!(doc.prefix("ex2"), Some("https://ns.example2.com/"));
        assert_eq!(doc.expand("epcList"), None);
        assert_eq!(doc.expand("nope:field"), None);

        let event = json!({"@context": {"example": "https://override.example/"}});
        let event_ns = doc.with_event(event.as_object().expect("object"));
        assert_eq!(
            event_ns.expand("example:f"),
            Some(("https://override.example/".into(), "f".into()))
        );
        // The document's namespaces are untouched.
        assert_eq!(doc.prefix("example"), Some("http://ns.example.com/epcis/"));
    }

    #[test]
    fn full_iri_keys() {
        let ns = Namespaces::standard();
        assert_eq!(
            ns.expand("https://ns.example.com/epcis/field"),
            Some(("https://ns.example.com/epcis/".into(), "field".into()))
        );
        assert_eq!(
            ns.expand("http://example.com/voc#term"),
            Some(("http://example.com/voc#".into(), "term".into()))
        );
        assert_eq!(
            ns.expand("urn:example:ns:term"),
            Some(("urn:example:ns:".into(), "term".into()))
        );
        assert_eq!(ns.expand("https://example.com/"), None);
        // `https://…` is an IRI even if someone defines an `https` prefix.
        assert_eq!(ns.expand_curie("https://x.example/a"), None);
    }
}
