use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use kampung_core::VillageCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Generate one village.
    #[arg(long, value_parser = |s: &str| VillageCode::parse(s).map_err(|e| e.to_string()), conflicts_with = "regency")]
    village: Option<VillageCode>,
    /// Number of residents of the village.
    #[arg(long, requires = "village", default_value_t = 8000)]
    residents: usize,
    /// Generate all 217 villages (about 1.7 million residents), one CSV per village in --out.
    #[arg(long)]
    regency: bool,
    /// Seed: the same seed gives the same people.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file (village; default standard output) or directory (regency).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

fn write_file(path: &Path, residents: &[kampung_core::Resident]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    kampung_csv::write(&mut f, residents)?;
    f.flush()?;
    Ok(())
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(village) = a.village {
        let people = kampung_gen::village_residents(village, a.residents, a.seed);
        match &a.out {
            Some(path) => write_file(path, &people)?,
            None => kampung_csv::write(std::io::stdout().lock(), &people)?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.regency {
        bail!("say what to generate: --village CODE [--residents N] or --regency --out DIR");
    }
    let Some(out) = a.out else {
        bail!("--regency writes 217 files: give a directory with --out DIR");
    };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let sizes = kampung_gen::regency_sizes(a.seed);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((village, n)) = sizes.get(i) else {
                            return Ok(());
                        };
                        let people = kampung_gen::village_residents(*village, *n, a.seed);
                        write_file(&out.join(format!("{village}.csv")), &people)?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a generator thread panicked"))??;
        }
        Ok(())
    })?;
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    println!(
        "wrote {} villages, {total} residents, to {}",
        sizes.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
