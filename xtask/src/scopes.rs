//! Ends the life of each request's parts before its answer is awaited.
//!
//! progenitor writes every builder's `send` as one flat block: the parameters, the URL and
//! the request are locals of the whole function. A local that is moved away still keeps its
//! room in an `async fn`'s future until the end of its scope, so a quote's future kept the
//! request (264 bytes), the URL and the outcome of `exec` beside every later await: the
//! future passed the 1 KB that glibc's allocator serves from its per-thread cache, and every
//! call a task made, or a `FuturesUnordered` held, cost a slow allocation (issue 12).
//!
//! This pass wraps them in blocks, so that only what is still used is kept:
//!
//! ```text
//! let Self { client, .. } = self;          let Self { client, .. } = self;
//! <parameters, url, headers>               let info = OperationInfo { .. };
//! let mut request = ..build()?;            let response = {
//! let info = OperationInfo { .. };             let result = {
//! client.pre(&mut request, &info).await?;          <parameters, url, headers>
//! let result = client.exec(request, &info)         let mut request = ..build()?;
//!     .await;                                      client.pre(&mut request, &info).await?;
//! client.post(&result, &info).await?;              client.exec(request, &info)
//! let response = result?;                      }
//! match response.status().as_u16() { .. }      .await;
//!                                              client.post(&result, &info).await?;
//!                                              result?
//!                                          };
//!                                          match response.status().as_u16() { .. }
//! ```
//!
//! Nothing else changes: the same statements run in the same order (`info` is a constant
//! built earlier).

use quote::ToTokens;

/// Scopes every operation builder's `send` in the top-level `mod builder`. An error if a
/// `send` does not have the shape above.
pub fn scope_request_parts(file: &mut syn::File) -> Result<usize, String> {
    let mut scoped = 0;
    crate::builder_fns::each(file, |f| {
        if f.sig.ident != "send" || f.sig.asyncness.is_none() {
            return Ok(());
        }
        scoped += 1;
        scope_send(&mut f.block)
    })?;
    Ok(scoped)
}

fn text(stmt: &syn::Stmt) -> String {
    stmt.to_token_stream().to_string()
}

fn is_local_named(stmt: &syn::Stmt, name: &str) -> bool {
    let syn::Stmt::Local(local) = stmt else {
        return false;
    };
    let pat = match &local.pat {
        syn::Pat::Type(t) => &*t.pat,
        p => p,
    };
    matches!(pat, syn::Pat::Ident(i) if i.ident == name)
}

fn scope_send(block: &mut syn::Block) -> Result<(), String> {
    let stmts = &block.stmts;
    let n = stmts.len();
    // The tail this pass expects, from `let info` on.
    let shape = n >= 7
        && text(&stmts[0]).starts_with("let Self {")
        && is_local_named(&stmts[n - 7], "request")
        && is_local_named(&stmts[n - 6], "info")
        && text(&stmts[n - 5]) == "client . pre (& mut request , & info) . await ? ;"
        && text(&stmts[n - 4]) == "let result = client . exec (request , & info) . await ;"
        && text(&stmts[n - 3]) == "client . post (& result , & info) . await ? ;"
        && text(&stmts[n - 2]) == "let response = result ? ;"
        && text(&stmts[n - 1]).starts_with("match response . status ()");
    if !shape {
        return Err("not the statements progenitor writes (see xtask/src/scopes.rs)".into());
    }
    let mut stmts = std::mem::take(&mut block.stmts);
    let answer = stmts.pop().expect("checked above");
    stmts.truncate(n - 4); // drops `exec`, `post`, `let response`, rewritten below
    let pre = stmts.pop().expect("checked above");
    let info = stmts.pop().expect("checked above");
    let request = stmts.pop().expect("checked above");
    let head = stmts.remove(0);
    let parts = stmts;
    block.stmts = vec![
        head,
        info,
        syn::parse_quote! {
            let response = {
                let result = {
                    #(#parts)*
                    #request
                    #pre
                    client.exec(request, &info)
                }
                .await;
                client.post(&result, &info).await?;
                result?
            };
        },
        answer,
    ];
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEND: &str = r#"
        pub mod builder {
            impl<'a> GetQuotes<'a> {
                pub async fn send(self) -> Result<ResponseValue<Q>, Error<()>> {
                    let Self { client, route_id } = self;
                    let route_id = route_id.map_err(Error::InvalidRequest)?;
                    let url = format!("{}/trade/quotes", client.baseurl,);
                    #[allow(unused_mut)]
                    let mut request = client.client.get(url).query(&route_id).build()?;
                    let info = OperationInfo { operation_id: "get_quotes" };
                    client.pre(&mut request, &info).await?;
                    let result = client.exec(request, &info).await;
                    client.post(&result, &info).await?;
                    let response = result?;
                    match response.status().as_u16() {
                        200u16 => json(response).await,
                        _ => Err(Error::UnexpectedResponse(response)),
                    }
                }
            }
        }
    "#;

    fn flat(file: &syn::File) -> String {
        file.to_token_stream().to_string()
    }

    #[test]
    fn the_request_and_its_parts_live_in_a_block_that_ends_before_the_answer() {
        let mut file: syn::File = syn::parse_str(SEND).unwrap();
        assert_eq!(scope_request_parts(&mut file).unwrap(), 1);
        let expected: syn::File = syn::parse_str(
            r#"
            pub mod builder {
                impl<'a> GetQuotes<'a> {
                    pub async fn send(self) -> Result<ResponseValue<Q>, Error<()>> {
                        let Self { client, route_id } = self;
                        let info = OperationInfo { operation_id: "get_quotes" };
                        let response = {
                            let result = {
                                let route_id = route_id.map_err(Error::InvalidRequest)?;
                                let url = format!("{}/trade/quotes", client.baseurl,);
                                #[allow(unused_mut)]
                                let mut request = client.client.get(url).query(&route_id).build()?;
                                client.pre(&mut request, &info).await?;
                                client.exec(request, &info)
                            }
                            .await;
                            client.post(&result, &info).await?;
                            result?
                        };
                        match response.status().as_u16() {
                            200u16 => json(response).await,
                            _ => Err(Error::UnexpectedResponse(response)),
                        }
                    }
                }
            }
            "#,
        )
        .unwrap();
        assert_eq!(flat(&file), flat(&expected));
    }

    #[test]
    fn a_send_of_another_shape_is_an_error_naming_it() {
        let src = SEND.replace("client.post(&result, &info).await?;", "");
        let mut file: syn::File = syn::parse_str(&src).unwrap();
        let e = scope_request_parts(&mut file).unwrap_err();
        assert!(e.contains("GetQuotes<'a>::send"), "{e}");
    }
}
