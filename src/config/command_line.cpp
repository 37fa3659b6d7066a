#include "lipsyncd/config/command_line.hpp"

namespace lipsyncd {

void apply_command_line(Config& config, const CommandLineOverrides& flags) {
  if (!flags.queue_url.empty()) config.fal.queue_url = flags.queue_url;
  if (!flags.rest_url.empty()) config.fal.rest_url = flags.rest_url;
  if (!flags.ca_file.empty()) config.fal.ca_file = std::filesystem::absolute(flags.ca_file);
  if (!flags.log_level.empty()) config.log.level = flags.log_level;
  choose_model(config, flags.endpoint, flags.model);
}

}  // namespace lipsyncd
