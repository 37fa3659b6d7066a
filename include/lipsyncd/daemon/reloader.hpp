#pragma once
// SIGHUP: the configuration is read again and replaces the running one only when it may (see
// config's check_reload() and keep_restart_only_settings()); a refused file keeps the running
// configuration. A reload also reopens submissions that fal's refusal of the key paused.

#include <filesystem>
#include <memory>
#include <optional>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

// The configuration as a reload reads it: the file (or the defaults plus the environment
// without one), checked against `running`, with the settings only a restart may change kept
// at their running values (each one logged). Throws lipsyncd::Error ("bad_config") when the
// file may not replace the running configuration.
Config reread_config(const std::optional<std::filesystem::path>& file, const Config& running,
                     const Environment& env);

// The jobs deferred because submissions were paused go on now; returns how many.
int resume_paused_submissions(spool::JobStore& store);

class Reloader {
 public:
  explicit Reloader(std::optional<std::filesystem::path> file) : file_(std::move(file)) {}

  // The configuration to run with from now on, or nothing when the reload was refused (logged,
  // the caller keeps the running one). On success the log level applies at once.
  std::shared_ptr<const Config> reload(const Config& running) const;

 private:
  std::optional<std::filesystem::path> file_;
};

}  // namespace lipsyncd::daemon
