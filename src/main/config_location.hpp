#pragma once
// Which configuration a command uses: --config FILE when given, else ./config/lipsyncd.toml
// when present, else the built-in defaults (plus the environment either way).

#include <filesystem>
#include <optional>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd::cli {

struct LocatedConfig {
  Config config;
  std::optional<std::filesystem::path> file;  // empty: defaults
};

// Throws lipsyncd::Error ("bad_config") when the file is missing or invalid.
LocatedConfig locate_config(const std::optional<std::filesystem::path>& flag,
                            const Environment& env);

}  // namespace lipsyncd::cli
