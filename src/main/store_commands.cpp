#include "store_commands.hpp"

#include <optional>

namespace lipsyncd::cli {

void add_config_option(CLI::App& command, std::string& config_file) {
  command.add_option("-c,--config", config_file,
                     "Configuration file (default: ./config/lipsyncd.toml if present)");
}

LocatedConfig locate_config_option(const std::string& config_file) {
  std::optional<std::filesystem::path> flag;
  if (!config_file.empty()) flag = config_file;
  return locate_config(flag, current_environment());
}

spool::JobStoreSettings job_store_settings(const Config& config) {
  spool::JobStoreSettings settings;
  settings.state_dir = config.paths.state;
  settings.default_model = config.fal.model;
  // No node: an operator's command holds no leases, so it may run on any host of a fleet.
  settings.url = store_connection_url(config.store);
  settings.inbox_dir = config.paths.inbox;
  settings.lease = std::chrono::seconds(config.fleet.lease_s);  // when `status` calls a node silent
  return settings;
}

}  // namespace lipsyncd::cli
