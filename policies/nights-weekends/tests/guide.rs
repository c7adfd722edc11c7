//! `docs/policies.md` shows this crate's code: each of its blocks under "The
//! whole example" and "Testing" must appear in `src/lib.rs` as it is, so the
//! guide never shows code that does not build or pass.

#[test]
fn the_guide_shows_this_crate_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("../../docs/policies.md")).expect("docs/policies.md");
    let source = std::fs::read_to_string(root.join("src/lib.rs")).expect("src/lib.rs");
    let blocks = [("### The whole example", "```rust\n"), ("## Testing with", "```rust ignore\n")];
    for (section, fence) in blocks {
        let start = guide.find(section).unwrap_or_else(|| panic!("no {section:?} in the guide"));
        let open = guide[start..].find(fence).map(|i| start + i + fence.len()).expect("a code block");
        let close = guide[open..].find("```\n").map(|i| open + i).expect("the block's end");
        let block = &guide[open..close];
        assert!(source.contains(block), "src/lib.rs differs from the guide's block under {section:?}:\n{block}");
    }
}
