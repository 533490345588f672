//! The authority matrix in docs/TRACEABILITY.md is the one the state machine enforces.

#[test]
fn docs_show_the_enforced_matrix() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/TRACEABILITY.md"
    ))
    .expect("docs/TRACEABILITY.md");
    let start = doc.find("<!-- matrix -->").expect("matrix start marker") + "<!-- matrix -->".len();
    let end = doc.find("<!-- /matrix -->").expect("matrix end marker");
    let table = doc[start..end].trim();
    let want = waybill_state::access::matrix_markdown();
    assert_eq!(
        table,
        want.trim(),
        "update docs/TRACEABILITY.md with:\n{want}"
    );
}
