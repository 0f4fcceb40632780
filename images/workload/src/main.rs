//! The static Linux workload binary (placeholder until the workload lands).
use vmlab_workload::protocol::LINE_PREFIX;

fn main() {
    println!("{LINE_PREFIX}\"ready\"}}");
}
