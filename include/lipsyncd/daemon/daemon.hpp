#pragma once
// The running service: one io_context for intake, the job store, fal and timers; a bounded
// CPU pool for media work. Recovers every unfinished job on start, claims what intake finds,
// runs each job's pipeline, reloads on SIGHUP and drains on SIGTERM/SIGINT.

#include <filesystem>
#include <memory>
#include <optional>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd::daemon {

struct DaemonOptions {
  // The file to re-read on SIGHUP; empty: defaults plus environment.
  std::optional<std::filesystem::path> config_file;
};

class Daemon {
 public:
  Daemon(Config config, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM or SIGINT; returns the process exit code. Throws lipsyncd::Error
  // when the folders, the job store or the watcher cannot be set up.
  int run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Creates the configured folders if missing: inbox, outbox, done and error readable by the
// group, the state folder private to the service's user.
void create_folders(const PathsConfig& paths);

}  // namespace lipsyncd::daemon
