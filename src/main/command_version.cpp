#include <iostream>

#include "commands.hpp"
#include "lipsyncd/core/version.hpp"

namespace lipsyncd::cli {

void register_version_command(CLI::App& app, CommandRegistry& commands) {
  auto* version = app.add_subcommand("version", "Print the version and exit");
  commands.add(version, [] {
    std::cout << "lipsyncd " << kVersion << "\n";
    return kExitOk;
  });
}

}  // namespace lipsyncd::cli
