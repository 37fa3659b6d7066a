#pragma once
// Each subcommand lives in command_<name>.cpp and registers itself here.

#include <CLI/CLI.hpp>
#include <functional>
#include <map>

namespace lipsyncd::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // also "rejected" for `check`
inline constexpr int kExitUsage = 2;
// sysexits' EX_CONFIG: the unit's RestartPreventExitStatus, so systemd does not restart a
// daemon in a loop on a configuration only a person can fix.
inline constexpr int kExitConfig = 78;
// sysexits' EX_TEMPFAIL: `run` found another daemon on the same state folder. Also in the
// unit's RestartPreventExitStatus: restarting every few seconds would not make it go away.
inline constexpr int kExitAlreadyRunning = 75;

class CommandRegistry {
 public:
  using Runner = std::function<int()>;
  void add(CLI::App* subcommand, Runner runner) { runners_[subcommand] = std::move(runner); }
  int run_selected() const {
    for (const auto& [subcommand, runner] : runners_) {
      if (subcommand->parsed()) return runner();
    }
    return kExitUsage;
  }

 private:
  std::map<const CLI::App*, Runner> runners_;
};

void register_all_commands(CLI::App& app, CommandRegistry& commands);

// One per command_<name>.cpp.
void register_run_command(CLI::App& app, CommandRegistry& commands);
void register_status_command(CLI::App& app, CommandRegistry& commands);
void register_retry_command(CLI::App& app, CommandRegistry& commands);
void register_cancel_command(CLI::App& app, CommandRegistry& commands);
void register_check_command(CLI::App& app, CommandRegistry& commands);
void register_submit_command(CLI::App& app, CommandRegistry& commands);
void register_version_command(CLI::App& app, CommandRegistry& commands);

}  // namespace lipsyncd::cli
