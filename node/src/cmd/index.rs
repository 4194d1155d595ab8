use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Compare the index with a full scan of the documents.
    #[command(after_help = "Example:\n  kampung index verify")]
    Verify,
    /// Rebuild the index from the documents (use after `verify` reports a problem).
    #[command(after_help = "Example:\n  kampung index rebuild")]
    Rebuild,
}

pub fn run(data: &Path, c: Command) -> anyhow::Result<ExitCode> {
    let dir = kampung_datadir::DataDir::open(data)?;
    match c {
        Command::Verify => {
            let mut reg = dir.open_registry(super::this_year())?;
            let problems = reg.verify_index()?;
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("index agrees with the documents ({} NIKs)", reg.niks());
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{} problem(s); run `kampung index rebuild`", problems.len());
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Rebuild => {
            // Open the store without the persisted index: it may be the damaged part.
            let storage =
                kampung_store::storage::sled_storage::SledStorage::open(&data.join("store"))?;
            for id in kampung_store::Storage::doc_ids(&storage)? {
                kampung_store::Storage::put_index(
                    &storage,
                    &id,
                    &kampung_store::index::encode(&[], Vec::new()),
                )?;
            }
            let mut reg = kampung_store::Registry::open(storage, dir.actor(), super::this_year())?;
            reg.rebuild_index()?;
            println!("index rebuilt from the documents ({} NIKs)", reg.niks());
            Ok(ExitCode::SUCCESS)
        }
    }
}
