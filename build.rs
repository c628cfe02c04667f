// The demo mailbox and the drafter's templates are compiled into the binary (include_dir!),
// which cannot tell cargo to rebuild when a file is added to or changed in those folders.
fn main() {
    for dir in ["assets/demo", "assets/templates", "assets/classifier"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
