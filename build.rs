// The demo mailbox is compiled into the binary (include_dir!), which cannot tell cargo to
// rebuild when a file is added to or changed in the folder; this does.
fn main() {
    println!("cargo:rerun-if-changed=assets/demo");
}
