//! Drops the `api-version` header progenitor adds to every request.
//!
//! progenitor sends `api-version: <info.version>` on every call (a convention of the servers it
//! was written for); no broker asked for it, so the vendors' hooks used to remove it again,
//! and each call paid for a header map built, merged into the request and searched (issue 12).
//! Here each operation builder's `send` loses the header: an operation with no header
//! parameter of its own then builds no header map at all; one with header parameters keeps a
//! map sized for those.

use quote::ToTokens;

/// Removes `api-version` from every operation builder's `send` in the top-level `mod builder`.
/// An error if any mention of it is left, or if a `send` holds it in a shape not recognised.
pub fn drop_api_version(file: &mut syn::File) -> Result<(), String> {
    crate::builder_fns::each(file, |f| drop_from_block(&mut f.block))?;
    if file
        .to_token_stream()
        .to_string()
        .contains("\"api-version\"")
    {
        return Err("an `api-version` header is left in the generated code".into());
    }
    Ok(())
}

fn mentions(tokens: &impl ToTokens, text: &str) -> usize {
    tokens.to_token_stream().to_string().matches(text).count()
}

const APPEND: &str = "header_map . append";

fn drop_from_block(block: &mut syn::Block) -> Result<(), String> {
    let before = block.stmts.len();
    block.stmts.retain(|s| mentions(s, "\"api-version\"") == 0);
    if block.stmts.len() == before {
        return Ok(());
    }
    let appends: usize = block.stmts.iter().map(|s| mentions(s, APPEND)).sum();
    let Some(at) = block.stmts.iter().position(is_header_map_local) else {
        return Err("no `header_map` beside its `api-version`".into());
    };
    if appends > 0 {
        let syn::Stmt::Local(local) = &mut block.stmts[at] else {
            unreachable!("is_header_map_local matched a local")
        };
        let init = local.init.as_mut().ok_or("`header_map` without a value")?;
        *init.expr = syn::parse_quote!(::reqwest::header::HeaderMap::with_capacity(#appends));
        return Ok(());
    }
    block.stmts.remove(at);
    let mut removed = 0;
    for stmt in block.stmts.iter_mut() {
        if let syn::Stmt::Local(local) = stmt {
            if let Some(init) = local.init.as_mut() {
                removed += unchain_headers(&mut init.expr);
            }
        }
    }
    if removed != 1 || block.stmts.iter().any(|s| mentions(s, "header_map") > 0) {
        return Err("`header_map` is used other than in one `.headers(header_map)`".into());
    }
    Ok(())
}

fn is_header_map_local(stmt: &syn::Stmt) -> bool {
    matches!(stmt, syn::Stmt::Local(l)
        if matches!(&l.pat, syn::Pat::Ident(p) if p.ident == "header_map"))
}

/// Removes `.headers(header_map)` from a method chain (through `?` and `.await`); how many.
fn unchain_headers(expr: &mut syn::Expr) -> usize {
    match expr {
        syn::Expr::MethodCall(call) => {
            let is_it = call.method == "headers"
                && call.args.len() == 1
                && mentions(&call.args[0], "header_map") == 1
                && call.args[0].to_token_stream().to_string() == "header_map";
            if is_it {
                let receiver = (*call.receiver).clone();
                *expr = receiver;
                1 + unchain_headers(expr)
            } else {
                unchain_headers(&mut call.receiver)
            }
        }
        syn::Expr::Try(t) => unchain_headers(&mut t.expr),
        syn::Expr::Await(a) => unchain_headers(&mut a.base),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
        pub mod builder {
            impl<'a> Plain<'a> {
                pub async fn send(self) -> Result<(), Error<()>> {
                    let url = format!("{}/x", client.baseurl,);
                    let mut header_map = ::reqwest::header::HeaderMap::with_capacity(1usize);
                    header_map.append(
                        ::reqwest::header::HeaderName::from_static("api-version"),
                        ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
                    );
                    let mut request = client.client.get(url).query(&q).headers(header_map).build()?;
                    Ok(())
                }
            }
            impl<'a> WithHeader<'a> {
                pub async fn send(self) -> Result<(), Error<()>> {
                    let mut header_map = ::reqwest::header::HeaderMap::with_capacity(2usize);
                    header_map.append(
                        ::reqwest::header::HeaderName::from_static("api-version"),
                        ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
                    );
                    if let Some(value) = origin {
                        header_map.append("origin", value.to_string().try_into()?);
                    }
                    let mut request = client.client.post(url).headers(header_map).build()?;
                    Ok(())
                }
            }
        }
    "#;

    fn flat(file: &syn::File) -> String {
        prettyplease::unparse(file)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    #[test]
    fn an_operation_without_headers_builds_no_header_map_and_one_with_keeps_its_own() {
        let mut file: syn::File = syn::parse_str(SRC).unwrap();
        drop_api_version(&mut file).unwrap();
        let out = flat(&file);
        assert!(!out.contains("api-version"), "{out}");
        assert!(
            out.contains("letmutrequest=client.client.get(url).query(&q).build()?;"),
            "{out}"
        );
        assert!(out.contains("HeaderMap::with_capacity(1usize)"), "{out}");
        assert!(
            out.contains(r#"header_map.append("origin",value.to_string().try_into()?);"#),
            "{out}"
        );
        assert!(
            out.contains("client.client.post(url).headers(header_map).build()?"),
            "{out}"
        );
    }

    #[test]
    fn an_api_version_in_another_shape_is_an_error() {
        let src = r#"pub mod builder { impl A { fn send(self) { let h = "api-version"; } } }"#;
        let mut file: syn::File = syn::parse_str(src).unwrap();
        let err = drop_api_version(&mut file).unwrap_err();
        assert!(err.contains("no `header_map`"), "{err}");
        let src = r#"pub mod types { const H: &str = "api-version"; }"#;
        let mut file: syn::File = syn::parse_str(src).unwrap();
        let err = drop_api_version(&mut file).unwrap_err();
        assert!(err.contains("is left"), "{err}");
    }
}
