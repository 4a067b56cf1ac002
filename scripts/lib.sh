# shellcheck shell=bash disable=SC2034  # the variables set here are used by the scripts that source this file
# Shared helpers for scripts/*.sh; sourced, never run. Bash only.
#
#   voxa_root          the repository root (the parent of scripts/)
#   voxa_log MSG...    one line on stderr, prefixed with the calling script's name
#   voxa_die MSG...    voxa_log, then exit 1
#   voxa_now           seconds since the epoch (for stage timings)
#   voxa_sudo          prints the command prefix that gives root ("" when already root, "sudo" when present);
#                      returns 1 when neither is possible

voxa_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

voxa_log() {
    printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2
}

voxa_die() {
    voxa_log "$@"
    exit 1
}

voxa_now() {
    date +%s
}

voxa_sudo() {
    if [[ "$(id -u)" -eq 0 ]]; then
        printf ''
    elif command -v sudo >/dev/null 2>&1; then
        printf 'sudo'
    else
        return 1
    fi
}

# Number of parallel jobs for compiling and testing: VOXA_JOBS, else 2 (the CI machine has 2 cores).
voxa_jobs="${VOXA_JOBS:-2}"
