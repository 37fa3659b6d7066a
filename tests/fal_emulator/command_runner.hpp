#pragma once
// Runs an external program (ffmpeg, ffprobe) to completion and hands back its exit code and
// what it printed. The emulator is a test double, so shelling out to Debian's ffmpeg is fine.

#include <string>
#include <vector>

namespace lipsyncd::emulator {

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string output;  // stdout, and stderr when requested
};

// Runs argv[0] (looked up in PATH). stderr is merged into output when merge_stderr is set,
// otherwise it is discarded so ffprobe's JSON stays clean.
CommandResult run_command(const std::vector<std::string>& argv, bool merge_stderr = false);

}  // namespace lipsyncd::emulator
