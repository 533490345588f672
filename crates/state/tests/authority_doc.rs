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

/// docs/CONTRACTS.md lists every rejection code with its meaning, as the code has them.
#[test]
fn docs_list_every_reject_code() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/CONTRACTS.md"
    ))
    .expect("docs/CONTRACTS.md");
    let start = doc
        .find("<!-- reject-codes -->")
        .expect("reject-codes start marker")
        + "<!-- reject-codes -->".len();
    let end = doc
        .find("<!-- /reject-codes -->")
        .expect("reject-codes end marker");
    let mut want = String::from("| Code | Meaning |\n|---|---|\n");
    for c in waybill_types::reject::RejectCode::ALL {
        want.push_str(&format!("| `{}` | {} |\n", c.as_str(), c.meaning()));
    }
    assert_eq!(
        doc[start..end].trim(),
        want.trim(),
        "update docs/CONTRACTS.md with:\n{want}"
    );
}
