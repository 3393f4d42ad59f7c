fn main() {
    std::process::exit(lab::cmd::main());
}
