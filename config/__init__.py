"""Settings per environment, read from the environment variables of CONTRACT.md."""

# The mark that this top-level `config` is SNP Dispatch's: `dispatch` checks it before reading a setting, since another
# `config` first on sys.path (a config.py in the current folder, a package of another distribution) would shadow it.
DISTRIBUTION = "snp-dispatch"
