//! Decodes the open enums without serde's untagged machinery.
//!
//! `normalize` opens every string enum of a spec (a value the client does not know yet must not
//! fail a whole answer), and typify writes each as an untagged enum: `String(Known)` or
//! `Other(String)`. serde decodes an untagged enum by buffering the value and trying each
//! variant in turn, which cost a quote's status field more than its four prices (issue 12).
//! Here their derived `Deserialize` is replaced by one that reads the text once and names the
//! known variant through `Known`'s `FromStr` (written from the same names as its renames):
//! `brokerkit_runtime::decode::open_enum`. `Serialize` and the schemas are unchanged.

use quote::ToTokens;

/// Rewrites every open enum among `items` (and in their inline modules); returns how many.
pub fn decode_open_enums(items: &mut Vec<syn::Item>) -> usize {
    let mut nested = 0;
    let mut impls = Vec::new();
    for item in items.iter_mut() {
        match item {
            syn::Item::Enum(e) => {
                if let Some((known, other)) = open_variants(e) {
                    drop_deserialize_derive(e);
                    impls.push(deserialize_impl(&e.ident, &known, &other));
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = m.content.as_mut() {
                    nested += decode_open_enums(inner);
                }
            }
            _ => {}
        }
    }
    let n = nested + impls.len();
    items.extend(impls);
    n
}

/// `(Known variant, Other variant)` of an untagged enum `{ Known(K), Other(::std::string::String) }`.
fn open_variants(e: &syn::ItemEnum) -> Option<(syn::Ident, syn::Ident)> {
    let untagged = e.attrs.iter().any(|a| {
        a.path().is_ident("serde") && a.to_token_stream().to_string().contains("untagged")
    });
    let [known, other] = [e.variants.first()?, e.variants.last()?];
    let single = |v: &syn::Variant| match &v.fields {
        syn::Fields::Unnamed(f) if f.unnamed.len() == 1 => Some(f.unnamed[0].ty.clone()),
        _ => None,
    };
    let is_string = single(other).is_some_and(|t| {
        t.to_token_stream().to_string().replace(' ', "") == "::std::string::String"
    });
    (untagged
        && e.variants.len() == 2
        && other.ident == "Other"
        && is_string
        && single(known).is_some())
    .then(|| (known.ident.clone(), other.ident.clone()))
}

fn drop_deserialize_derive(e: &mut syn::ItemEnum) {
    for attr in e.attrs.iter_mut() {
        if !attr.path().is_ident("derive") {
            continue;
        }
        let Ok(paths) = attr.parse_args_with(
            syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
        ) else {
            continue;
        };
        let kept: Vec<&syn::Path> = paths
            .iter()
            .filter(|p| p.segments.last().is_none_or(|s| s.ident != "Deserialize"))
            .collect();
        *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
    }
}

fn deserialize_impl(name: &syn::Ident, known: &syn::Ident, other: &syn::Ident) -> syn::Item {
    syn::parse_quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
            where
                D: ::serde::Deserializer<'de>,
            {
                ::brokerkit_runtime::decode::open_enum(deserializer).map(|value| match value {
                    ::std::result::Result::Ok(known) => Self::#known(known),
                    ::std::result::Result::Err(text) => Self::#other(text),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_enum_gets_a_text_decoder_and_other_untagged_enums_keep_theirs() {
        let src = r#"
            pub mod types {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
                #[serde(untagged)]
                pub enum Side { String(SideString), Other(::std::string::String) }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                #[serde(untagged)]
                pub enum Reply { Token(Token), Other(::std::string::String), More(More) }
                #[derive(::serde::Deserialize, Clone)]
                #[serde(untagged)]
                pub enum Either { A(A), Other(u32) }
            }
        "#;
        let mut file: syn::File = syn::parse_str(src).unwrap();
        assert_eq!(decode_open_enums(&mut file.items), 1);
        let out: String = prettyplease::unparse(&file)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        assert!(
            out.contains(
                "#[derive(::serde::Serialize,Clone,Debug,PartialEq)]#[serde(untagged)]pubenumSide"
            ),
            "{out}"
        );
        assert!(
            out.contains("impl<'de>::serde::Deserialize<'de>forSide"),
            "{out}"
        );
        assert!(out.contains("Ok(known)=>Self::String(known)"), "{out}");
        assert!(out.contains("Err(text)=>Self::Other(text)"), "{out}");
        assert_eq!(out.matches("::serde::Deserialize,").count(), 2, "{out}");
    }
}
