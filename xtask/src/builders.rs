//! Drops typify's struct builders from the generated code.
//!
//! progenitor's builder interface (`InterfaceStyle::Builder`: `client.op().param(..).send()`)
//! also turns on typify's struct builders, with no setting to keep one without the other: a
//! `types::builder` module with a builder per struct (`types::X::builder()`, field setters,
//! `TryFrom<builder::X> for X`, `From<X> for builder::X`), and on each operation builder whose
//! body is a struct a `body_map` method that edits that builder. They are about half of each
//! `generated.rs` and so half of what rustc compiles for a vendor crate; the hand-written
//! layers use none of them (issue 12.4).
//!
//! What is kept: every type, every operation builder and its `body(value)` setter, which takes
//! the type itself (or anything `TryInto` it). An operation sent without `body(..)` sends the
//! type's `Default` when it has one (as the struct builder's default did: it converted only when
//! every field had a default) and otherwise fails with `Error::InvalidRequest("no value supplied
//! for body")`, as before (the message named the first missing field).

use crate::features;
use quote::quote;
use std::collections::{HashMap, HashSet};

/// Drops the struct builders from a REST `generated.rs`: `types::builder` and the
/// `X::builder()` functions in `mod types`, and `body_map` on the operation builders in the
/// top-level `mod builder`, whose body fields then hold the type itself. An error if a
/// reference to a struct builder is left.
pub fn drop_struct_builders(file: &mut syn::File) -> Result<(), String> {
    let mut defaults = HashSet::new();
    for item in &mut file.items {
        if let syn::Item::Mod(m) = item {
            if m.ident == "types" {
                if let Some((_, items)) = m.content.as_mut() {
                    defaults = drop_type_builders(items);
                }
            }
        }
    }
    for item in &mut file.items {
        let syn::Item::Mod(m) = item else { continue };
        if m.ident != "builder" {
            continue;
        }
        if let Some((_, items)) = m.content.as_mut() {
            rewrite_operation_builders(items, &defaults);
        }
        let tokens = features::reroute(quote!(#m), &["types", "builder"], &["types"]);
        *item = syn::parse2(tokens).map_err(|e| format!("operation builders: {e}"))?;
    }
    check_none_left(&file.items)
}

/// Drops `mod builder` and every `X::builder()` from a `types` module's items (an inherent impl
/// left empty goes too). Returns the types that have a `Default` (derived or implemented).
pub fn drop_type_builders(items: &mut Vec<syn::Item>) -> HashSet<String> {
    items.retain(|item| !matches!(item, syn::Item::Mod(m) if m.ident == "builder"));
    for item in items.iter_mut() {
        if let syn::Item::Impl(i) = item {
            if i.trait_.is_none() {
                i.items
                    .retain(|f| !matches!(f, syn::ImplItem::Fn(f) if f.sig.ident == "builder"));
            }
        }
    }
    items.retain(
        |item| !matches!(item, syn::Item::Impl(i) if i.trait_.is_none() && i.items.is_empty()),
    );
    let mut defaults = HashSet::new();
    for item in items.iter() {
        match item {
            syn::Item::Struct(s) if derives_default(&s.attrs) => {
                defaults.insert(s.ident.to_string());
            }
            syn::Item::Enum(e) if derives_default(&e.attrs) => {
                defaults.insert(e.ident.to_string());
            }
            syn::Item::Impl(i) => {
                let is_default = i.trait_.as_ref().is_some_and(|(path, _)| {
                    path.segments.last().is_some_and(|s| s.ident == "Default")
                });
                if let (true, syn::Type::Path(p)) = (is_default, &*i.self_ty) {
                    if let Some(last) = p.path.segments.last() {
                        defaults.insert(last.ident.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    defaults
}

fn derives_default(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|paths| {
                paths
                    .iter()
                    .any(|p| p.segments.last().is_some_and(|s| s.ident == "Default"))
            })
    })
}

/// In the operation builders: drops `body_map`, and where the body's type has no `Default`
/// starts the body as the error the struct builder's conversion gave.
fn rewrite_operation_builders(items: &mut [syn::Item], defaults: &HashSet<String>) {
    // operation builder -> the type of its body, where that is a struct builder.
    let mut bodies: HashMap<String, String> = HashMap::new();
    for item in items.iter() {
        if let syn::Item::Struct(s) = item {
            for f in &s.fields {
                if f.ident.as_ref().is_some_and(|i| i == "body") {
                    if let Some(name) = struct_builder_in(&f.ty) {
                        bodies.insert(s.ident.to_string(), name);
                    }
                }
            }
        }
    }
    for item in items.iter_mut() {
        let syn::Item::Impl(i) = item else { continue };
        let syn::Type::Path(p) = &*i.self_ty else {
            continue;
        };
        let Some(body) = p
            .path
            .segments
            .last()
            .and_then(|s| bodies.get(&s.ident.to_string()))
        else {
            continue;
        };
        i.items
            .retain(|f| !matches!(f, syn::ImplItem::Fn(f) if f.sig.ident == "body_map"));
        if defaults.contains(body) {
            continue;
        }
        for f in i.items.iter_mut() {
            let syn::ImplItem::Fn(f) = f else { continue };
            if f.sig.ident != "new" {
                continue;
            }
            for stmt in f.block.stmts.iter_mut() {
                if let syn::Stmt::Expr(syn::Expr::Struct(s), _) = stmt {
                    for field in s.fields.iter_mut() {
                        if matches!(&field.member, syn::Member::Named(n) if n == "body") {
                            field.expr =
                                syn::parse_quote!(Err("no value supplied for body".to_string()));
                        }
                    }
                }
            }
        }
    }
}

/// `X` when `ty` mentions `types::builder::X`.
fn struct_builder_in(ty: &syn::Type) -> Option<String> {
    let text = quote!(#ty).to_string();
    let at = text.find("types :: builder :: ")? + "types :: builder :: ".len();
    text[at..].split_whitespace().next().map(str::to_string)
}

/// An error naming the first place that still refers to a struct builder: `builder::` in a
/// `types` module, `types::builder` or `body_map` anywhere.
fn check_none_left(items: &[syn::Item]) -> Result<(), String> {
    let mut found = None;
    for item in items {
        let text = quote!(#item).to_string();
        let in_types = matches!(item, syn::Item::Mod(m) if m.ident == "types");
        let needles: &[&str] = if in_types {
            &["builder ::", "fn builder", "body_map"]
        } else {
            &["types :: builder", "body_map"]
        };
        if let Some(at) = needles.iter().find_map(|n| text.find(n)) {
            found = Some((text, at));
            break;
        }
    }
    match found {
        None => Ok(()),
        Some((text, at)) => {
            let boundary = |mut i: usize| {
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            let from = boundary(at.saturating_sub(120));
            let to = boundary((at + 120).min(text.len()));
            Err(format!(
                "a struct builder is left after dropping them: …{}…",
                &text[from..to]
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
        pub mod types {
            #[derive(Clone, Debug, Default)] pub struct Opt { pub a: Option<u8> }
            impl Opt { pub fn builder() -> builder::Opt { Default::default() } }
            #[derive(Clone, Debug)] pub struct Req { pub a: u8 }
            impl Req { pub fn builder() -> builder::Req { Default::default() } }
            impl Req { pub fn kept(&self) -> u8 { self.a } }
            pub mod builder {
                #[derive(Clone, Debug)] pub struct Opt { a: Result<Option<u8>, String> }
                impl ::std::convert::TryFrom<Opt> for super::Opt {
                    type Error = String;
                    fn try_from(v: Opt) -> Result<Self, String> { Ok(Self { a: v.a? }) }
                }
            }
        }
        pub mod builder {
            use super::types;
            pub struct PostOpt<'a> { client: &'a super::Client, body: Result<types::builder::Opt, String> }
            impl<'a> PostOpt<'a> {
                pub fn new(client: &'a super::Client) -> Self { Self { client: client, body: Ok(::std::default::Default::default()) } }
                pub fn body<V>(mut self, value: V) -> Self where V: std::convert::TryInto<types::Opt> { self }
                pub fn body_map<F>(mut self, f: F) -> Self where F: std::ops::FnOnce(types::builder::Opt) -> types::builder::Opt { self }
            }
            pub struct PostReq<'a> { client: &'a super::Client, body: Result<types::builder::Req, String> }
            impl<'a> PostReq<'a> {
                pub fn new(client: &'a super::Client) -> Self { Self { client: client, body: Ok(::std::default::Default::default()) } }
                pub fn body_map<F>(mut self, f: F) -> Self where F: std::ops::FnOnce(types::builder::Req) -> types::builder::Req { self }
                pub async fn send(self) -> u8 { 0 }
            }
        }
    "#;

    fn dropped() -> String {
        let mut file: syn::File = syn::parse_str(SRC).unwrap();
        drop_struct_builders(&mut file).unwrap();
        prettyplease::unparse(&file)
    }

    #[test]
    fn the_struct_builders_go_and_the_types_and_body_setters_stay() {
        let out = dropped();
        let flat: String = out.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(!out.contains("fn builder()"), "{out}");
        assert!(!out.contains("body_map"), "{out}");
        assert!(!out.contains("types::builder"), "{out}");
        assert!(flat.contains("pubstructOpt{puba:Option<u8>,}"), "{out}");
        assert!(flat.contains("pubfnkept(&self)"), "{out}");
        assert!(flat.contains("body:Result<types::Opt,String>"), "{out}");
        assert!(flat.contains("pubfnbody<V>(mutself,value:V)"), "{out}");
        assert!(flat.contains("pubmodbuilder{usesuper::types;"), "{out}");
    }

    #[test]
    fn a_body_without_default_starts_as_the_missing_value_error() {
        let flat: String = dropped().chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            flat.contains("body:Ok(::std::default::Default::default()),}}pubfnbody<V>"),
            "Opt has a Default: {flat}"
        );
        assert!(
            flat.contains(r#"body:Err("novaluesuppliedforbody".to_string())"#),
            "Req has none: {flat}"
        );
    }

    #[test]
    fn a_struct_builder_left_behind_is_an_error() {
        let src = "pub mod types { impl A { fn f(x: builder::A) {} } }";
        let mut file: syn::File = syn::parse_str(src).unwrap();
        let err = drop_struct_builders(&mut file).unwrap_err();
        assert!(err.contains("struct builder is left"), "{err}");
    }
}
