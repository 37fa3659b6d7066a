#include "lipsyncd/daemon/reloader.hpp"

#include <spdlog/spdlog.h>

#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/daemon/submission_gate.hpp"
#include "lipsyncd/observe/logging.hpp"

namespace lipsyncd::daemon {

Config reread_config(const std::optional<std::filesystem::path>& file, const Config& running,
                     const Environment& env) {
  auto fresh = file ? load_config(*file, env) : default_config(env);
  // Parsing is not enough: an empty or truncated file parses into defaults, and would
  // silently drop the budget caps.
  if (file) check_reload(running, fresh);
  for (const auto& kept : keep_restart_only_settings(running, fresh)) {
    spdlog::warn("reload: {}", kept);
  }
  return fresh;
}

int resume_paused_submissions(spool::JobStore& store) {
  int waiting = 0;
  for (const auto& job : store.unfinished()) {
    if (job.state != spool::JobState::deferred || !job.error ||
        job.error->reason_code != kSubmissionsPausedReason) {
      continue;
    }
    store.resume(job.id);
    ++waiting;
  }
  return waiting;
}

std::shared_ptr<const Config> Reloader::reload(const Config& running) const {
  try {
    auto config =
        std::make_shared<const Config>(reread_config(file_, running, current_environment()));
    spdlog::info("configuration reloaded{} (daily cap {}, monthly cap {}, log level {})",
                 file_ ? " from " + file_->string() : "", usd_text(config->budget.daily_usd),
                 usd_text(config->budget.monthly_usd), config->log.level);
    // After the line above, so that a reload to "warn" still confirms itself.
    observe::set_log_level(config->log);
    return config;
  } catch (const std::exception& e) {
    spdlog::error("reload refused, keeping the running configuration: {}", e.what());
    return nullptr;
  }
}

}  // namespace lipsyncd::daemon
