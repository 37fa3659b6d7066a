#pragma once
// What the commands that work on the job store beside a running daemon (status, retry, cancel)
// share: the --config option and the store settings the configuration names.

#include <CLI/CLI.hpp>
#include <string>

#include "config_location.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::cli {

void add_config_option(CLI::App& command, std::string& config_file);
// --config FILE when given, else ./config/lipsyncd.toml when present, else the defaults.
LocatedConfig locate_config_option(const std::string& config_file);
spool::JobStoreSettings job_store_settings(const Config& config);

}  // namespace lipsyncd::cli
