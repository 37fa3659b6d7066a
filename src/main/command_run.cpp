// `lipsyncd run`: the daemon in the foreground.

#include <optional>
#include <string>

#include "commands.hpp"
#include "config_location.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/daemon.hpp"
#include "lipsyncd/observe/logging.hpp"

namespace lipsyncd::cli {
namespace {

struct RunOptions {
  std::string config_file;
};

int run_daemon(const RunOptions& options) {
  const auto env = current_environment();
  std::optional<std::filesystem::path> flag;
  if (!options.config_file.empty()) flag = options.config_file;
  auto located = locate_config(flag, env);
  observe::configure_logging(located.config.log, env, {located.config.fal.credentials},
                             observe::LogOutputs{}, located.config.fleet.node);
  if (located.config.fal.credentials.empty()) {
    throw Error("no_fal_key", "no fal API key: FAL_KEY is not set",
                "export FAL_KEY=... (or FAL_KEY_ID and FAL_KEY_SECRET, or [fal] key_file)");
  }
  daemon::Daemon service(std::move(located.config), {located.file});
  return service.run();
}

}  // namespace

void register_run_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<RunOptions>();
  auto* run = app.add_subcommand(
      "run",
      "Run the daemon in the foreground: watch the inbox, lip-sync every pair at fal, deliver "
      "to the outbox. Logs go to stderr (to journald under systemd). SIGHUP reloads the "
      "configuration, SIGTERM/SIGINT stop it cleanly; unfinished jobs resume on next start.");
  run->add_option("-c,--config", options->config_file,
                  "Configuration file (default: ./config/lipsyncd.toml if present, else the "
                  "built-in defaults). The key comes from FAL_KEY.");
  commands.add(run, [options] { return run_daemon(*options); });
}

}  // namespace lipsyncd::cli
