# Shared set-up of the benchmark scripts (sourced, from the repository root).
#   need_wrk     installs wrk from Debian when it is missing
#   release_bin  sets BIN to a release build of shoptrail, unless BIN is given (a binary built elsewhere)

need_wrk() {
  command -v wrk >/dev/null && return 0
  echo "installing wrk (Debian package)…" >&2
  local sudo=""; [ "$(id -u)" != 0 ] && sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
}

release_bin() {
  [ -n "${BIN:-}" ] && return 0
  swift build -c release --product shoptrail >&2
  BIN=$(swift build -c release --show-bin-path)/shoptrail
}
