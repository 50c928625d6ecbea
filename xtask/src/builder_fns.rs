//! The operation builders (`impl`s in the top-level `mod builder` of a generated file) and
//! their functions, which several passes rewrite.

use quote::ToTokens;

/// Calls `rewrite` on every `impl` in the top-level `mod builder`, with the builder's name
/// (`GetQuotes<'a>`).
fn walk(
    file: &mut syn::File,
    mut rewrite: impl FnMut(&mut syn::ItemImpl, &str) -> Result<(), String>,
) -> Result<(), String> {
    for item in &mut file.items {
        let syn::Item::Mod(m) = item else { continue };
        if m.ident != "builder" {
            continue;
        }
        let Some((_, items)) = m.content.as_mut() else {
            continue;
        };
        for item in items.iter_mut() {
            let syn::Item::Impl(i) = item else { continue };
            let ty = i.self_ty.to_token_stream().to_string().replace(' ', "");
            rewrite(i, &ty)?;
        }
    }
    Ok(())
}

/// Calls `rewrite` on every `impl` in the top-level `mod builder`; its error comes back
/// prefixed with the builder's name (`` `GetQuotes<'a>`: … ``).
pub fn each_impl(
    file: &mut syn::File,
    mut rewrite: impl FnMut(&mut syn::ItemImpl) -> Result<(), String>,
) -> Result<(), String> {
    walk(file, |i, ty| rewrite(i).map_err(|e| format!("`{ty}`: {e}")))
}

/// Calls `rewrite` on every function of every `impl` in the top-level `mod builder`; its error
/// comes back prefixed with the function's name (`` `GetQuotes<'a>::send`: … ``).
pub fn each(
    file: &mut syn::File,
    mut rewrite: impl FnMut(&mut syn::ImplItemFn) -> Result<(), String>,
) -> Result<(), String> {
    walk(file, |i, ty| {
        for f in i.items.iter_mut() {
            if let syn::ImplItem::Fn(f) = f {
                rewrite(f).map_err(|e| format!("`{ty}::{}`: {e}", f.sig.ident))?;
            }
        }
        Ok(())
    })
}
