//! What the generated code costs a user who does not ask for it, behind the vendor crate's
//! cargo features.
//!
//! - `schemas`: typify derives `schemars::JsonSchema` on every generated type (the settings'
//!   `with_derive`), and most users never ask a type for its schema. Each such derive becomes
//!   `#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]`, each `#[schemars(…)]`
//!   helper attribute `#[cfg_attr(feature = "schemas", schemars(…))]`, and each `impl …JsonSchema
//!   for …` block typify writes by hand gets `#[cfg(feature = "schemas")]`.
//! - TLS: progenitor's `Client::new` builds its client with `reqwest::ClientBuilder::new()`;
//!   it goes through `::brokerkit_runtime::tls::client_builder()` instead, which installs the
//!   rustls provider that the `rustls-ring` feature needs before reqwest builds the client.

use proc_macro2::{Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::quote;
use syn::punctuated::Punctuated;

/// Gates every `JsonSchema` derive, helper attribute and impl in `file` behind the vendor
/// crate's `schemas` feature. An error if a derive list cannot be read, so that nothing slips through.
pub fn gate_schemas(file: &mut syn::File) -> Result<(), String> {
    gate_items(&mut file.items)
}

fn gate_items(items: &mut [syn::Item]) -> Result<(), String> {
    for item in items {
        match item {
            syn::Item::Struct(s) => {
                gate_attrs(&mut s.attrs)?;
                for f in s.fields.iter_mut() {
                    gate_attrs(&mut f.attrs)?;
                }
            }
            syn::Item::Enum(e) => {
                gate_attrs(&mut e.attrs)?;
                for v in e.variants.iter_mut() {
                    gate_attrs(&mut v.attrs)?;
                    for f in v.fields.iter_mut() {
                        gate_attrs(&mut f.attrs)?;
                    }
                }
            }
            syn::Item::Union(u) => {
                gate_attrs(&mut u.attrs)?;
                for f in u.fields.named.iter_mut() {
                    gate_attrs(&mut f.attrs)?;
                }
            }
            syn::Item::Impl(i) => {
                let is_schema_impl = i
                    .trait_
                    .as_ref()
                    .is_some_and(|(path, _)| is_json_schema(path));
                if is_schema_impl && !i.attrs.iter().any(is_schemas_cfg) {
                    i.attrs.push(syn::parse_quote!(#[cfg(feature = "schemas")]));
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = m.content.as_mut() {
                    gate_items(inner)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `schemars::JsonSchema`, `::schemars::JsonSchema` (not a bare `JsonSchema`, which typify
/// never writes).
fn is_json_schema(path: &syn::Path) -> bool {
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    names == ["schemars", "JsonSchema"]
}

fn is_schemas_cfg(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("cfg")
        && attr
            .meta
            .require_list()
            .is_ok_and(|l| l.tokens.to_string() == quote!(feature = "schemas").to_string())
}

fn gate_attrs(attrs: &mut Vec<syn::Attribute>) -> Result<(), String> {
    let mut out = Vec::with_capacity(attrs.len() + 1);
    for attr in attrs.drain(..) {
        if attr.path().is_ident("schemars") {
            let syn::Meta::List(list) = &attr.meta else {
                return Err(format!("unexpected attribute `{}`", quote!(#attr)));
            };
            let inner = &list.tokens;
            out.push(syn::parse_quote!(#[cfg_attr(feature = "schemas", schemars(#inner))]));
            continue;
        }
        if !attr.path().is_ident("derive") {
            out.push(attr);
            continue;
        }
        let derives = attr
            .parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
            .map_err(|e| format!("cannot read `{}`: {e}", quote!(#attr)))?;
        let (schema, kept): (Vec<syn::Path>, Vec<syn::Path>) =
            derives.into_iter().partition(is_json_schema);
        if schema.is_empty() {
            out.push(attr);
            continue;
        }
        if !kept.is_empty() {
            out.push(syn::parse_quote!(#[derive(#(#kept),*)]));
        }
        out.push(syn::parse_quote!(#[cfg_attr(feature = "schemas", derive(#(#schema),*))]));
    }
    *attrs = out;
    Ok(())
}

/// Replaces every `reqwest::ClientBuilder::new` (progenitor's `Client::new`) by
/// `::brokerkit_runtime::tls::client_builder`.
pub fn route_client_builder(tokens: TokenStream) -> TokenStream {
    reroute(
        tokens,
        &["reqwest", "ClientBuilder", "new"],
        &["", "brokerkit_runtime", "tls", "client_builder"],
    )
}

/// Replaces every `ResponseValue::from_response` (progenitor-client's JSON decoding, which reads
/// the body with `serde_json::from_slice` and so checks UTF-8 again for every key and number)
/// by `::brokerkit_runtime::decode::json`, which checks the body once and reads it as text.
pub fn route_json_decoding(tokens: TokenStream) -> TokenStream {
    reroute(
        tokens,
        &["ResponseValue", "from_response"],
        &["", "brokerkit_runtime", "decode", "json"],
    )
}

/// Replaces every path `from` (names joined by `::`) by `to` (a leading `""` makes it absolute).
pub(crate) fn reroute(tokens: TokenStream, from: &[&str], to: &[&str]) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        if path_at(&trees[i..], from) {
            // A leading `::` (as in `::reqwest::…`) is kept: it begins the new path as well.
            out.extend(path_tokens(to).skip(if ends_with_colons(&out) { 2 } else { 0 }));
            i += from.len() * 3 - 2;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), reroute(g.stream(), from, to));
                inner.set_span(g.span());
                out.push(TokenTree::Group(inner));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// Whether `trees` starts with `a :: b :: c` for the names given.
fn path_at(trees: &[TokenTree], names: &[&str]) -> bool {
    let mut at = 0;
    for (n, name) in names.iter().enumerate() {
        if n > 0 {
            let colons = matches!(
                (trees.get(at), trees.get(at + 1)),
                (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                    if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
            );
            if !colons {
                return false;
            }
            at += 2;
        }
        match trees.get(at) {
            Some(TokenTree::Ident(id)) if id == name => at += 1,
            _ => return false,
        }
    }
    true
}

fn ends_with_colons(out: &[TokenTree]) -> bool {
    matches!(
        out,
        [.., TokenTree::Punct(a), TokenTree::Punct(b)] if a.as_char() == ':' && b.as_char() == ':'
    )
}

/// `a :: b :: c` (an empty first name gives a leading `::`).
fn path_tokens<'a>(names: &'a [&'a str]) -> impl Iterator<Item = TokenTree> + 'a {
    names.iter().enumerate().flat_map(|(n, name)| {
        let mut t: Vec<TokenTree> = Vec::new();
        if n > 0 {
            t.push(Punct::new(':', Spacing::Joint).into());
            t.push(Punct::new(':', Spacing::Alone).into());
        }
        if !name.is_empty() {
            t.push(Ident::new(name, Span::call_site()).into());
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gated(src: &str) -> String {
        let mut file: syn::File = syn::parse_str(src).unwrap();
        gate_schemas(&mut file).unwrap();
        prettyplease::unparse(&file)
    }

    #[test]
    fn the_schema_derive_moves_behind_the_feature() {
        let out = gated(
            "mod types { #[derive(Clone, schemars::JsonSchema, Debug)] pub struct A { #[schemars(skip)] pub x: u8 } \
             #[derive(::schemars::JsonSchema)] pub enum B { #[schemars(rename = \"b\")] V } }",
        );
        let flat: String = out.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            flat.contains(r#"#[derive(Clone,Debug)]#[cfg_attr(feature="schemas",derive(schemars::JsonSchema))]pubstructA"#),
            "{out}"
        );
        assert!(
            flat.contains(r#"#[cfg_attr(feature="schemas",schemars(skip))]pubx"#),
            "{out}"
        );
        assert!(
            flat.contains(
                r#"#[cfg_attr(feature="schemas",derive(::schemars::JsonSchema))]pubenumB"#
            ),
            "{out}"
        );
        assert!(
            flat.contains(r#"#[cfg_attr(feature="schemas",schemars(rename="b"))]V"#),
            "{out}"
        );
        assert!(!flat.contains("derive()"), "{out}");
    }

    #[test]
    fn a_hand_written_schema_impl_is_gated_once() {
        let src = "mod types { impl ::schemars::JsonSchema for A { fn schema_name() -> String { String::new() } } \
                   impl Clone for A { fn clone(&self) -> Self { A } } }";
        let mut file: syn::File = syn::parse_str(src).unwrap();
        gate_schemas(&mut file).unwrap();
        gate_schemas(&mut file).unwrap();
        let out = prettyplease::unparse(&file);
        assert_eq!(
            out.matches("#[cfg(feature = \"schemas\")]").count(),
            1,
            "{out}"
        );
        assert!(
            out.contains("#[cfg(feature = \"schemas\")]\n    impl ::schemars::JsonSchema for A"),
            "{out}"
        );
    }

    #[test]
    fn json_answers_are_decoded_by_the_runtime() {
        let src: TokenStream =
            "async fn f() { match s { 200u16 => ResponseValue::from_response(response).await, \
                                _ => ResponseValue::stream(response) } }"
                .parse()
                .unwrap();
        let out = route_json_decoding(src).to_string();
        assert!(
            out.contains(":: brokerkit_runtime :: decode :: json (response)"),
            "{out}"
        );
        assert!(!out.contains("from_response"), "{out}");
        assert!(out.contains("ResponseValue :: stream"), "{out}");
        syn::parse2::<syn::File>(out.parse().unwrap()).expect("still Rust");
    }

    #[test]
    fn progenitor_client_builder_goes_through_the_runtime() {
        let src: TokenStream = "fn new() { let a = reqwest::ClientBuilder::new().timeout(d); \
                                let b = { ::reqwest::ClientBuilder::new() }; reqwest::Client::new(); }"
            .parse()
            .unwrap();
        let out = route_client_builder(src).to_string();
        assert_eq!(
            out.matches(":: brokerkit_runtime :: tls :: client_builder ()")
                .count(),
            2,
            "{out}"
        );
        assert!(!out.contains("ClientBuilder"), "{out}");
        assert!(out.contains("reqwest :: Client :: new ()"), "{out}");
        syn::parse2::<syn::File>(out.parse().unwrap()).expect("still Rust");
    }
}
