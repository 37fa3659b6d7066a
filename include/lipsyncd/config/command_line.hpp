#pragma once
// Command-line flags that override the configuration file and the environment: they are the
// most specific request, so they win. Config owns every override; commands only collect flags.

#include <filesystem>
#include <string>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd {

struct CommandLineOverrides {
  std::string queue_url{};          // --queue-url
  std::string rest_url{};           // --rest-url
  std::filesystem::path ca_file{};  // --ca-file, taken relative to the working directory
  std::string log_level{};          // --log-level
  std::string endpoint{};           // --endpoint
  std::string model{};              // --model
};

// Applies the flags that were given (empty ones keep the configured value) and re-prices the
// endpoint and model. Throws like choose_model() ("unknown_endpoint", "unknown_model") when
// the endpoint or model is not one the catalog knows.
void apply_command_line(Config& config, const CommandLineOverrides& flags);

}  // namespace lipsyncd
