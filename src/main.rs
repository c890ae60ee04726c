use clap::Parser;

// jemalloc returns freed memory to the system (see .cargo/config.toml for
// its settings); glibc's malloc kept peaks resident long after a load.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sharetoken::cli::run(sharetoken::cli::Cli::parse()).await
}
