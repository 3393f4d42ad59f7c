//! Embeds the labs and the sample app in the binary, so a `cargo install`ed `lab` works
//! outside its clone (cargo installs no data files). The walk is the crate's own walker.

#[path = "src/walk.rs"]
#[allow(dead_code)]
mod walk;

use std::path::Path;

fn main() {
    // The manifest directory as cargo gives it to this run, not as it was when the script was
    // compiled: a target directory shared between two clones keeps the compiled script, and the
    // compile-time path may be a clone that is gone (which once embedded no labs at all).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("..");
    let mut entries = String::from("/// Every embedded file: path relative to the repository, and its bytes.\npub static FILES: &[(&str, &[u8])] = &[\n");
    for top in ["labs", "sample-app"] {
        println!("cargo:rerun-if-changed={}", root.join(top).display());
        for rel in walk::files(&root, Path::new(top), 10_000) {
            let abs = root.join(&rel).canonicalize().expect("an embedded file");
            println!("cargo:rerun-if-changed={}", abs.display());
            entries.push_str(&format!(
                "    ({:?}, include_bytes!({:?})),\n",
                rel.to_string_lossy(),
                abs.to_string_lossy()
            ));
        }
    }
    // A binary without its labs would only fail later, on a learner's machine: stop here.
    assert!(
        entries.contains("\"labs/day11/lab.toml\""),
        "build.rs: no labs/day11/lab.toml under {}: the labs are embedded from the repository",
        root.display()
    );
    entries.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(out, entries).unwrap();
}
