use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sharetoken::cli::run(sharetoken::cli::Cli::parse()).await
}
