#!/bin/bash
# Entry point of every HTCondor job when the pool has no shared file system: the workflow's
# files arrive by HTCondor file transfer into the job's scratch directory; Snakemake and the
# analysis package come from the job's environment (the image, CVMFS, or getenv's PATH).
set -euo pipefail
exec python -m snakemake "$@"
