//! Writes an operation builder's "not set" message only when it is sent without the value.
//!
//! progenitor starts each required parameter (and a body with no `Default`) of an operation
//! builder as `Err("route_id was not initialized".to_string())`: an allocation and a copy per
//! parameter on every call, freed as soon as the setter runs (a fifth of a quote's allocations
//! by the generated code, issue 12). This pass starts it as `Err(String::new())`, which
//! allocates nothing, and gives `send` the message back where it reads the value:
//!
//! ```text
//! route_id: Err("route_id was not initialized".to_string()),
//! let route_id = route_id.map_err(Error::InvalidRequest)?;
//!                                  ↓
//! route_id: Err(String::new()),
//! let route_id = route_id.map_err(|e| Error::InvalidRequest(
//!     ::brokerkit_runtime::operation::unset_or(e, "route_id was not initialized")))?;
//! ```
//!
//! A setter's own error (a failed conversion) is never empty, so it reaches `send` unchanged.
//! The pass fails if a builder's `send` does not read a value it rewrote that way.

use quote::ToTokens;
use std::collections::BTreeMap;

/// Rewrites every operation builder in the top-level `mod builder`; returns how many values.
pub fn defer_unset_messages(file: &mut syn::File) -> Result<usize, String> {
    let mut rewritten = 0;
    crate::builder_fns::each_impl(file, |i| {
        rewritten += rewrite_impl(i)?;
        Ok(())
    })?;
    Ok(rewritten)
}

fn rewrite_impl(i: &mut syn::ItemImpl) -> Result<usize, String> {
    let mut messages = BTreeMap::new();
    for f in fns(i, "new") {
        messages.extend(empty_the_initial_errors(&mut f.block));
    }
    if messages.is_empty() {
        return Ok(0);
    }
    let mut read = 0;
    for f in fns(i, "send") {
        for stmt in &mut f.block.stmts {
            if let Some(message) = local_name(stmt).and_then(|n| messages.get(&n)) {
                read += name_the_unset(stmt, message) as usize;
            }
        }
    }
    if read != messages.len() {
        let names: Vec<_> = messages.keys().cloned().collect();
        return Err(format!(
            "`send` reads {read} of the values {names:?} as `let x = x….map_err(Error::InvalidRequest)?` (see xtask/src/unset.rs)"
        ));
    }
    Ok(read)
}

fn fns<'a>(
    i: &'a mut syn::ItemImpl,
    name: &'a str,
) -> impl Iterator<Item = &'a mut syn::ImplItemFn> {
    i.items.iter_mut().filter_map(move |item| match item {
        syn::ImplItem::Fn(f) if f.sig.ident == name => Some(f),
        _ => None,
    })
}

/// In `Self { field: Err("…".to_string()), … }`, each such value becomes
/// `Err(String::new())`; returns the messages by field.
fn empty_the_initial_errors(block: &mut syn::Block) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(syn::Stmt::Expr(syn::Expr::Struct(s), None)) = block.stmts.last_mut() else {
        return out;
    };
    for field in &mut s.fields {
        let syn::Member::Named(name) = &field.member else {
            continue;
        };
        if let Some(message) = literal_error(&field.expr) {
            out.insert(name.to_string(), message);
            field.expr = syn::parse_quote!(Err(String::new()));
        }
    }
    out
}

/// The literal of `Err("…".to_string())`.
fn literal_error(expr: &syn::Expr) -> Option<String> {
    let syn::Expr::Call(call) = expr else {
        return None;
    };
    let is_err = matches!(&*call.func, syn::Expr::Path(p) if p.path.is_ident("Err"));
    let [syn::Expr::MethodCall(m)] = call.args.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(lit),
        ..
    }) = &*m.receiver
    else {
        return None;
    };
    (is_err && m.method == "to_string" && m.args.is_empty()).then(|| lit.value())
}

fn local_name(stmt: &syn::Stmt) -> Option<String> {
    let syn::Stmt::Local(local) = stmt else {
        return None;
    };
    match &local.pat {
        syn::Pat::Ident(i) => Some(i.ident.to_string()),
        _ => None,
    }
}

/// `let x = x….map_err(Error::InvalidRequest)?;` gets the message for an empty error; whether
/// the statement had that shape.
fn name_the_unset(stmt: &mut syn::Stmt, message: &str) -> bool {
    let name = local_name(stmt);
    let syn::Stmt::Local(syn::Local {
        init: Some(init), ..
    }) = stmt
    else {
        return false;
    };
    let syn::Expr::Try(t) = &mut *init.expr else {
        return false;
    };
    let syn::Expr::MethodCall(m) = &mut *t.expr else {
        return false;
    };
    let plain = m.method == "map_err"
        && m.args.len() == 1
        && m.args[0].to_token_stream().to_string() == "Error :: InvalidRequest";
    if !plain || root(&m.receiver) != name {
        return false;
    }
    m.args[0] = syn::parse_quote!(|e| Error::InvalidRequest(
        ::brokerkit_runtime::operation::unset_or(e, #message)
    ));
    true
}

/// The variable a chain of method calls starts from.
fn root(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::MethodCall(m) => root(&m.receiver),
        syn::Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILDER: &str = r#"
        pub mod builder {
            impl<'a> PostOrder<'a> {
                pub fn new(client: &'a super::Client) -> Self {
                    Self {
                        client: client,
                        account_id: Err("account_id was not initialized".to_string()),
                        route_id: Ok(None),
                        body: Err("no value supplied for body".to_string()),
                    }
                }
                pub fn account_id<V>(mut self, value: V) -> Self {
                    self.account_id = value.try_into().map_err(|_| "conversion failed".to_string());
                    self
                }
                pub async fn send(self) -> Result<ResponseValue<()>, Error<()>> {
                    let Self { client, account_id, route_id, body } = self;
                    let account_id = account_id.map_err(Error::InvalidRequest)?;
                    let route_id = route_id.map_err(Error::InvalidRequest)?;
                    let body = body
                        .and_then(|v| types::Order::try_from(v).map_err(|e| e.to_string()))
                        .map_err(Error::InvalidRequest)?;
                    Ok(())
                }
            }
        }
    "#;

    fn flat(file: &syn::File) -> String {
        file.to_token_stream().to_string()
    }

    #[test]
    fn an_unset_value_starts_empty_and_send_names_it() {
        let mut file: syn::File = syn::parse_str(BUILDER).unwrap();
        assert_eq!(defer_unset_messages(&mut file).unwrap(), 2);
        let expected: syn::File = syn::parse_str(
            r#"
            pub mod builder {
                impl<'a> PostOrder<'a> {
                    pub fn new(client: &'a super::Client) -> Self {
                        Self {
                            client: client,
                            account_id: Err(String::new()),
                            route_id: Ok(None),
                            body: Err(String::new()),
                        }
                    }
                    pub fn account_id<V>(mut self, value: V) -> Self {
                        self.account_id = value.try_into().map_err(|_| "conversion failed".to_string());
                        self
                    }
                    pub async fn send(self) -> Result<ResponseValue<()>, Error<()>> {
                        let Self { client, account_id, route_id, body } = self;
                        let account_id = account_id.map_err(|e| Error::InvalidRequest(
                            ::brokerkit_runtime::operation::unset_or(e, "account_id was not initialized")
                        ))?;
                        let route_id = route_id.map_err(Error::InvalidRequest)?;
                        let body = body
                            .and_then(|v| types::Order::try_from(v).map_err(|e| e.to_string()))
                            .map_err(|e| Error::InvalidRequest(
                                ::brokerkit_runtime::operation::unset_or(e, "no value supplied for body")
                            ))?;
                        Ok(())
                    }
                }
            }
            "#,
        )
        .unwrap();
        assert_eq!(flat(&file), flat(&expected));
    }

    #[test]
    fn a_value_send_does_not_read_so_is_an_error_naming_the_builder() {
        let src = BUILDER.replace(
            "let account_id = account_id.map_err(Error::InvalidRequest)?;",
            "let account_id = account_id.unwrap();",
        );
        let mut file: syn::File = syn::parse_str(&src).unwrap();
        let e = defer_unset_messages(&mut file).unwrap_err();
        assert!(
            e.contains("PostOrder<'a>") && e.contains("account_id"),
            "{e}"
        );
    }
}
