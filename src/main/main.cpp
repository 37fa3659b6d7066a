// lipsyncd's command line: parses arguments and hands over to one command. Nothing else.

#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/version.hpp"

namespace {

// What only a person can fix ends with EX_CONFIG, which the systemd unit does not restart on:
// a bad file, no fal key at all (the daemon never starts without one, emulator or not), or a
// job store migrated by a newer lipsyncd (after a downgrade of the package).
int exit_code_for(const lipsyncd::Error& error) {
  const auto& reason = error.reason_code();
  if (reason == "bad_config" || reason == "no_fal_key" || reason == "store_too_new") {
    return lipsyncd::cli::kExitConfig;
  }
  if (reason == "already_running") return lipsyncd::cli::kExitAlreadyRunning;
  return lipsyncd::cli::kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "lipsyncd: drop a talking video and an audio track into a folder, get a "
      "lip-synced MP4 back (fal.ai sync-lipsync)",
      "lipsyncd"};
  app.set_version_flag("-V,--version", std::string("lipsyncd ") + lipsyncd::kVersion);
  app.require_subcommand(1);
  lipsyncd::cli::CommandRegistry commands;
  lipsyncd::cli::register_all_commands(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 exits 0 for --help/--version; usage errors exit 2, like most Unix tools.
    const int code = app.exit(e);
    return code == 0 ? 0 : lipsyncd::cli::kExitUsage;
  }
  try {
    return commands.run_selected();
  } catch (const lipsyncd::Error& e) {
    std::cerr << "lipsyncd: " << e.what();
    if (!e.hint().empty()) std::cerr << " (" << e.hint() << ")";
    std::cerr << " [" << e.reason_code() << "]\n";
    return exit_code_for(e);
  }
}
