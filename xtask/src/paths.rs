//! Routes every path parameter of the generated code through `brokerkit_runtime::path::segment`.
//!
//! progenitor builds URLs as `format!("{}/x/{}", client.baseurl, encode_path(&id.to_string()))`,
//! and its `encode_path` leaves `.`, `..` and `\` as they are, which URL parsing then resolves:
//! an id could name another route. Each `encode_path(ARG)` becomes
//! `::brokerkit_runtime::path::segment("OPERATION", "PARAM", ARG)?`, which encodes every
//! reserved byte and refuses what cannot be one segment; `?` turns the refusal into progenitor's
//! error through the runtime's `From` impl. The operation is the one named by the
//! `operation_id: "…"` inside the same `impl` block, the parameter the ident in `ARG`.

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Rewrites every `encode_path(…)` call; an error if one has no single enclosing operation or
/// no parameter name, so that a progenitor change cannot slip an unchecked path through.
pub fn route_through_segment(tokens: TokenStream) -> Result<TokenStream, String> {
    rewrite(tokens, None)
}

fn rewrite(tokens: TokenStream, inherited: Option<&str>) -> Result<TokenStream, String> {
    let own = single_operation_id(&tokens);
    let operation = own.as_deref().or(inherited);
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        match (&trees[i], trees.get(i + 1)) {
            (TokenTree::Ident(id), Some(TokenTree::Group(args)))
                if id == "encode_path" && args.delimiter() == Delimiter::Parenthesis =>
            {
                let operation = operation.ok_or_else(|| {
                    format!("a generated path call `encode_path{args}` lies in no single operation")
                })?;
                out.extend(segment_call(operation, args)?);
                i += 2;
                continue;
            }
            (TokenTree::Group(g), _) => {
                let mut inner = Group::new(g.delimiter(), rewrite(g.stream(), operation)?);
                inner.set_span(g.span());
                out.push(TokenTree::Group(inner));
            }
            (other, _) => out.push(other.clone()),
        }
        i += 1;
    }
    Ok(out.into_iter().collect())
}

/// `::brokerkit_runtime::path::segment("op", "param", ARGS)?`
fn segment_call(operation: &str, args: &Group) -> Result<Vec<TokenTree>, String> {
    let parameter = args
        .stream()
        .into_iter()
        .find_map(|t| match t {
            TokenTree::Ident(id) => Some(id.to_string()),
            _ => None,
        })
        .ok_or_else(|| format!("`encode_path{args}` in {operation} names no parameter"))?;
    let mut inner: Vec<TokenTree> = vec![
        Literal::string(operation).into(),
        Punct::new(',', Spacing::Alone).into(),
        Literal::string(&parameter).into(),
        Punct::new(',', Spacing::Alone).into(),
    ];
    inner.extend(args.stream());
    let mut out = Vec::new();
    for name in ["brokerkit_runtime", "path", "segment"] {
        out.push(Punct::new(':', Spacing::Joint).into());
        out.push(Punct::new(':', Spacing::Alone).into());
        out.push(Ident::new(name, Span::call_site()).into());
    }
    out.push(Group::new(Delimiter::Parenthesis, inner.into_iter().collect()).into());
    out.push(Punct::new('?', Spacing::Alone).into());
    Ok(out)
}

/// The `"…"` of `operation_id: "…"` when `tokens` (at any depth) hold exactly one.
fn single_operation_id(tokens: &TokenStream) -> Option<String> {
    let mut found = Vec::new();
    collect_operation_ids(tokens, &mut found);
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn collect_operation_ids(tokens: &TokenStream, found: &mut Vec<String>) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (i, t) in trees.iter().enumerate() {
        match t {
            TokenTree::Group(g) => collect_operation_ids(&g.stream(), found),
            TokenTree::Ident(id) if id == "operation_id" => {
                if let (Some(TokenTree::Punct(colon)), Some(TokenTree::Literal(lit))) =
                    (trees.get(i + 1), trees.get(i + 2))
                {
                    let text = lit.to_string();
                    if colon.as_char() == ':' && text.starts_with('"') && text.ends_with('"') {
                        found.push(text.trim_matches('"').to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn encode_path_becomes_a_checked_segment_naming_operation_and_parameter() {
        let code = quote! {
            pub mod builder {
                use super::{encode_path, Error};
                impl<'a> CancelOrder<'a> {
                    pub async fn send(self) -> Result<(), Error<()>> {
                        let url = format!("{}/orders/{}", client.baseurl, encode_path(&order_id.to_string()));
                        let info = OperationInfo { operation_id: "cancel_order" };
                    }
                }
                impl<'a> GetOrder<'a> {
                    pub async fn send(self) -> Result<(), Error<()>> {
                        let url = format!("{}/a/{}/o/{}", client.baseurl, encode_path(&account_id.to_string()), encode_path(&order_id.to_string()));
                        let info = OperationInfo { operation_id: "get_order" };
                    }
                }
            }
        };
        let out = route_through_segment(code).unwrap().to_string();
        assert!(!out.contains("encode_path ("), "{out}");
        assert!(
            out.contains("use super :: { encode_path , Error }"),
            "imports stay: {out}"
        );
        assert!(out.contains(r#":: brokerkit_runtime :: path :: segment ("cancel_order" , "order_id" , & order_id . to_string ()) ?"#), "{out}");
        assert!(out.contains(r#":: brokerkit_runtime :: path :: segment ("get_order" , "account_id" , & account_id . to_string ()) ?"#), "{out}");
        assert!(out.contains(r#":: brokerkit_runtime :: path :: segment ("get_order" , "order_id" , & order_id . to_string ()) ?"#), "{out}");
    }

    #[test]
    fn a_path_call_outside_one_operation_is_an_error_not_left_unchecked() {
        let code = quote! {
            fn a() { let info = OperationInfo { operation_id: "a" }; }
            fn b() { let info = OperationInfo { operation_id: "b" }; }
            fn stray() -> String { encode_path(&x.to_string()) }
        };
        let err = route_through_segment(code).unwrap_err();
        assert!(err.contains("no single operation"), "{err}");
    }
}
